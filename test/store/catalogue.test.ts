import { all } from "../support/databases.js"
import { catalogueSuite } from "./catalogue.js"

for (const db of all) catalogueSuite(db)
