import { postgres } from "../support/databases.js"
import { behaviourSuite } from "./behaviour.js"

behaviourSuite(postgres)
