/**
 * Mastra `Memory` over `@mastra/pg` and `@mastra/libsql`, used as its docs show:
 * `createThread` once per conversation, `saveMessages`, `recall` with `perPage: 20`.
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { toRoleText } from "../items.js"
import type { Databases, Item, Store, TargetSpec } from "../types.js"

const RESOURCE = "bench-user"

const wrap = async (storage: unknown, close: () => Promise<void>): Promise<Store> => {
  const { Memory } = await import("@mastra/memory")
  const memory = new Memory({ storage: storage as never, options: { lastMessages: 20 } })
  const threads = new Set<string>()
  const ensureThread = async (threadId: string) => {
    if (threads.has(threadId)) return
    await memory.createThread({ threadId, resourceId: RESOURCE })
    threads.add(threadId)
  }
  const toMessage = (threadId: string, item: Item, at: number) => {
    const { role, text } = toRoleText(item)
    return {
      id: randomUUID(),
      threadId,
      resourceId: RESOURCE,
      role,
      createdAt: new Date(at),
      content: { format: 2 as const, parts: [{ type: "text" as const, text }] }
    }
  }
  let clock = Date.now()
  const latest = async (threadId: string, perPage: number) => {
    const { messages } = await memory.recall({
      threadId,
      perPage,
      orderBy: { field: "createdAt", direction: "DESC" }
    })
    return messages
  }
  return {
    append: async (threadId, items) => {
      await ensureThread(threadId)
      // Distinct, increasing timestamps: Mastra orders history by createdAt.
      await memory.saveMessages({ messages: items.map((item) => toMessage(threadId, item, ++clock)) as never })
    },
    latest: async (threadId, limit) => (await latest(threadId, limit)).slice().reverse(),
    all: async (threadId) => (await memory.recall({ threadId, perPage: false })).messages,
    pop: async (threadId) => {
      const [last] = await latest(threadId, 1)
      if (last !== undefined) await memory.deleteMessages([last.id] as never)
      return last
    },
    clear: async (threadId) => {
      await memory.deleteThread(threadId)
      threads.delete(threadId)
    },
    close
  }
}

const openPg = async (db: Databases): Promise<Store> => {
  const { PostgresStore } = await import("@mastra/pg")
  const schemaName = `${db.tablePrefix}mastra`
  const storage = new PostgresStore({ id: "bench-mastra-pg", connectionString: db.pgUrl, schemaName, max: 10 } as never)
  await storage.init()
  return wrap(storage, async () => {
    await (storage as unknown as { close?: () => Promise<void> }).close?.()
    const { loadPg } = await import("../drivers.js")
    const pool = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
    await pool.query(`DROP SCHEMA IF EXISTS ${schemaName} CASCADE`)
    await pool.end()
  })
}

const openLibsql = async (db: Databases): Promise<Store> => {
  const { LibSQLStore } = await import("@mastra/libsql")
  const storage = new LibSQLStore({ id: "bench-mastra-libsql", url: `file:${join(db.sqliteDir, "mastra.db")}` })
  await storage.init()
  return wrap(storage, async () => {
    await (storage as unknown as { close?: () => Promise<void> }).close?.()
  })
}

const NOTES = [
  "latest-20: recall({ perPage: 20, orderBy: createdAt DESC }), reversed",
  "pop: recall 1 newest + deleteMessages (no pop API); clear: deleteThread",
  "threads created once per conversation before the timed appends"
]

export const mastraTargets: ReadonlyArray<TargetSpec> = [
  {
    id: "pg/mastra",
    name: "mastra",
    label: "Mastra Memory + @mastra/pg",
    dialect: "pg",
    category: "peer",
    packages: ["@mastra/memory", "@mastra/core", "@mastra/pg"],
    notes: NOTES,
    open: openPg
  },
  {
    id: "sqlite/mastra",
    name: "mastra",
    label: "Mastra Memory + @mastra/libsql (file)",
    dialect: "sqlite",
    category: "peer",
    packages: ["@mastra/memory", "@mastra/core", "@mastra/libsql"],
    notes: NOTES,
    open: openLibsql
  }
]
