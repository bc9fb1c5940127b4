/**
 * Every target of the comparison. The peers are listed here by name only, so one
 * that cannot be installed or loaded is still reported, with the reason.
 */
import { batchedFloorTargets } from "./targets/batched-floor.js"
import { floorTargets } from "./targets/floor.js"
import { memorySessionTarget } from "./targets/memory-session.js"
import { oursTargets } from "./targets/ours.js"
import { pythonPatternTargets } from "./targets/python-pattern.js"
import type { Category, Dialect, TargetSpec } from "./types.js"

export const coreTargets: ReadonlyArray<TargetSpec> = [
  ...floorTargets,
  ...batchedFloorTargets,
  ...pythonPatternTargets,
  ...oursTargets,
  memorySessionTarget
]

export interface PeerEntry {
  readonly id: string
  readonly label: string
  readonly dialect: Dialect
  readonly category: Category
}

export const peerCatalog: ReadonlyArray<PeerEntry> = [
  { id: "pg/mastra", label: "Mastra Memory + @mastra/pg", dialect: "pg", category: "peer" },
  { id: "sqlite/mastra", label: "Mastra Memory + @mastra/libsql (file)", dialect: "sqlite", category: "peer" },
  { id: "pg/langchain", label: "LangChain PostgresChatMessageHistory", dialect: "pg", category: "peer" },
  { id: "pg/voltagent", label: "VoltAgent Memory + @voltagent/postgres", dialect: "pg", category: "peer" },
  { id: "sqlite/voltagent", label: "VoltAgent Memory + @voltagent/libsql (file)", dialect: "sqlite", category: "peer" }
]

/** Order of targets inside a dialect in every table. */
export const CATEGORY_ORDER: Record<Category, number> = { floor: 0, ours: 1, python: 2, peer: 3, reference: 4 }
