import { sqlite } from "../support/databases.js"
import { behaviourSuite } from "./behaviour.js"

behaviourSuite(sqlite)
