/**
 * The peers, installed in bench/node_modules. Loaded by path at run time so the
 * core harness (and its smoke test) never needs them.
 */
import type { TargetSpec } from "../types.js"
import { langchainTargets } from "./langchain.js"
import { mastraTargets } from "./mastra.js"
import { voltagentTargets } from "./voltagent.js"

export const peerTargets: ReadonlyArray<TargetSpec> = [...mastraTargets, ...langchainTargets, ...voltagentTargets]
