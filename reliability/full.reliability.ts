/**
 * The full reliability proof (`npm run test:reliability`): load at the report's scale, every fault
 * including server restarts, hostile input, observability. Figures go to reliability/report.md.
 */
import { faultSuite } from "./suites/faults.js"
import { batchingSuite } from "./suites/batching.js"
import { full } from "./suites/common.js"
import { hostileSuite } from "./suites/hostile.js"
import { loadSuite } from "./suites/load.js"
import { observabilitySuite } from "./suites/observability.js"

loadSuite(full)
faultSuite(full, { restarts: true })
hostileSuite(full)
observabilitySuite(full)
batchingSuite(full)
