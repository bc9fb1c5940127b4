import { postgres } from "../support/databases.js"
import { cliSuite } from "./suite.js"

cliSuite(postgres)
