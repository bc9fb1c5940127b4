import { all } from "../support/databases.js"
import { observabilitySuite } from "./observability.js"

for (const db of all) observabilitySuite(db)
