/**
 * VoltAgent `Memory` with its PostgreSQL and LibSQL memory adapters:
 * `addMessages`, `getMessages` with `limit`, `clearMessages`.
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { toRoleText } from "../items.js"
import type { Databases, Item, Store, TargetSpec } from "../types.js"

const USER = "bench-user"

const wrap = async (storage: unknown, close: () => Promise<void>): Promise<Store> => {
  const { Memory } = await import("@voltagent/core")
  const memory = new Memory({ storage: storage as never })
  const conversations = new Set<string>()
  const ensure = async (conversationId: string) => {
    if (conversations.has(conversationId)) return
    await memory.createConversation({ id: conversationId, resourceId: USER, userId: USER, title: conversationId, metadata: {} })
    conversations.add(conversationId)
  }
  const toMessage = (item: Item) => {
    const { role, text } = toRoleText(item)
    return { id: randomUUID(), role, parts: [{ type: "text" as const, text }] }
  }
  return {
    append: async (conversationId, items) => {
      await ensure(conversationId)
      await memory.addMessages(items.map(toMessage) as never, USER, conversationId)
    },
    latest: (conversationId, limit) => memory.getMessages(USER, conversationId, { limit }),
    all: (conversationId) => memory.getMessages(USER, conversationId),
    pop: async (conversationId) => {
      const [last] = await memory.getMessages(USER, conversationId, { limit: 1 })
      if (last !== undefined) await memory.deleteMessages([last.id], USER, conversationId)
      return last
    },
    clear: (conversationId) => memory.clearMessages(USER, conversationId),
    close
  }
}

const openPg = async (db: Databases): Promise<Store> => {
  const { PostgreSQLMemoryAdapter } = await import("@voltagent/postgres")
  const schema = `${db.tablePrefix}voltagent`
  const { loadPg } = await import("../drivers.js")
  const admin = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  const storage = new PostgreSQLMemoryAdapter({ connection: db.pgUrl, maxConnections: 10, schema })
  return wrap(storage, async () => {
    await (storage as unknown as { close?: () => Promise<void> }).close?.()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  })
}

const openLibsql = async (db: Databases): Promise<Store> => {
  const { LibSQLMemoryAdapter } = await import("@voltagent/libsql")
  const storage = new LibSQLMemoryAdapter({ url: `file:${join(db.sqliteDir, "voltagent.db")}` })
  return wrap(storage, async () => {
    await (storage as unknown as { close?: () => Promise<void> }).close?.()
  })
}

const NOTES = [
  "latest-20: getMessages({ limit: 20 }); pop: getMessages({ limit: 1 }) + deleteMessages (no pop API); clear: clearMessages",
  "conversation created once per session before the timed appends"
]

export const voltagentTargets: ReadonlyArray<TargetSpec> = [
  { id: "pg/voltagent", name: "voltagent", label: "VoltAgent Memory + @voltagent/postgres", dialect: "pg", category: "peer", packages: ["@voltagent/core", "@voltagent/postgres"], notes: NOTES, open: openPg },
  { id: "sqlite/voltagent", name: "voltagent", label: "VoltAgent Memory + @voltagent/libsql (file)", dialect: "sqlite", category: "peer", packages: ["@voltagent/core", "@voltagent/libsql"], notes: NOTES, open: openLibsql }
]
