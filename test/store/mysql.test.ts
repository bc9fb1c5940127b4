import { mysql } from "../support/databases.js"
import { behaviourSuite } from "./behaviour.js"

behaviourSuite(mysql)
