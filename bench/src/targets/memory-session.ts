/** `MemorySession` from `@openai/agents-core`: no I/O at all, the reference for the cost of the call path. */
import type { Store, TargetSpec } from "../types.js"
import { storeOfSessions } from "./session-store.js"

const open = async (): Promise<Store> => {
  const { MemorySession } = await import("@openai/agents-core")
  return storeOfSessions((sessionId) => new MemorySession({ sessionId }), async () => undefined)
}

export const memorySessionTarget: TargetSpec = {
  id: "memory/memory-session",
  name: "memory-session",
  label: "MemorySession (@openai/agents-core, in memory)",
  dialect: "memory",
  category: "reference",
  packages: ["@openai/agents-core"],
  notes: ["zero I/O: the cost of the call path alone"],
  open
}
