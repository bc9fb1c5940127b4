/**
 * The fast subset of the reliability proof (reliability/), run by `npm test`: the same checks at a
 * small scale, without server restarts. The full proof is `npm run test:reliability`.
 */
import { batchingSuite } from "../reliability/suites/batching.js"
import { fast } from "../reliability/suites/common.js"
import { faultSuite } from "../reliability/suites/faults.js"
import { hostileSuite } from "../reliability/suites/hostile.js"
import { loadSuite } from "../reliability/suites/load.js"
import { observabilitySuite } from "../reliability/suites/observability.js"

loadSuite(fast)
faultSuite(fast, { restarts: false })
hostileSuite(fast)
observabilitySuite(fast)
batchingSuite(fast)
