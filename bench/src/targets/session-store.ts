/**
 * A benchmark `Store` over objects with the Agents SDK's `Session` methods, one per session id,
 * kept as an application keeps one session object per conversation.
 */
import type { Store } from "../types.js"

export interface SessionLike {
  addItems(items: Array<never>): Promise<void>
  getItems(limit?: number): Promise<ReadonlyArray<unknown>>
  popItem(): Promise<unknown>
  clearSession(): Promise<void>
}

export const storeOfSessions = (open: (sessionId: string) => SessionLike, close: () => Promise<void>): Store => {
  const sessions = new Map<string, SessionLike>()
  const session = (sessionId: string) => {
    let s = sessions.get(sessionId)
    if (s === undefined) {
      s = open(sessionId)
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
      await close()
    }
  }
}
