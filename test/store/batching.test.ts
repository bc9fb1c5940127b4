import { all } from "../support/databases.js"
import { batchingSuite } from "./batching.js"

for (const db of all) batchingSuite(db)
