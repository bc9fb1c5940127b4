import { mysql } from "../support/databases.js"
import { cliSuite } from "./suite.js"

cliSuite(mysql)
