/** `MemorySession` from `@openai/agents-core`: no I/O at all, the reference for the cost of the call path. */
import type { Store, TargetSpec } from "../types.js"

const open = async (): Promise<Store> => {
  const { MemorySession } = await import("@openai/agents-core")
  const sessions = new Map<string, InstanceType<typeof MemorySession>>()
  const session = (sessionId: string) => {
    let s = sessions.get(sessionId)
    if (s === undefined) {
      s = new MemorySession({ sessionId })
      sessions.set(sessionId, s)
    }
    return s
  }
  return {
    append: (sessionId, items) => session(sessionId).addItems(items as Array<never>),
    latest: (sessionId, limit) => session(sessionId).getItems(limit),
    all: (sessionId) => session(sessionId).getItems(),
    pop: (sessionId) => session(sessionId).popItem(),
    clear: (sessionId) => session(sessionId).clearSession(),
    close: async () => {
      sessions.clear()
    }
  }
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
