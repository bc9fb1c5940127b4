/**
 * Sharing a database with the Python Agents SDK's `SQLAlchemySession`: the store works on tables
 * made by SQLAlchemy's DDL for the Python SDK's definitions, Python's rows decode here, and
 * Python's read query returns what we wrote, in order.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlSessionStore } from "../../src/index.js"
import { all, uniqueId, uniqueTable } from "../support/databases.js"
import { pythonDdl, pythonJson } from "../support/pythonTables.js"

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`Python SDK tables on ${db.label}`, () => {
    it.effect("reads and writes tables made by the Python SDK, in Python's order", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sessionsTable = uniqueTable("py_sessions")
        const messagesTable = uniqueTable("py_messages")
        const operationsTable = uniqueTable("py_ops")
        for (const statement of pythonDdl(db.dialect, sessionsTable, messagesTable)) yield* sql.unsafe(statement)
        const id = uniqueId("py")

        // Rows written the way the Python SDK writes them.
        const fromPython = [{ role: "user", content: "Grüße aus Python 🐍" }, { role: "assistant", content: "ok" }]
        yield* sql`INSERT INTO ${sql(sessionsTable)} (session_id) VALUES (${id})`
        for (const item of fromPython) {
          yield* sql`INSERT INTO ${sql(messagesTable)} (session_id, message_data) VALUES (${id}, ${pythonJson(item)})`
        }

        // Without createTables the store uses the tables as they are.
        const store = yield* SqlSessionStore.make({ sessionsTable, messagesTable, operationsTable })
        expect(yield* store.getItems(id)).toEqual(fromPython)
        const fromUs = [{ role: "user", content: "from TypeScript ✓" }, { type: "function_call", callId: "c", name: "f", arguments: "{}" }]
        yield* store.addItems(id, fromUs)
        expect(yield* store.getItems(id, 3)).toEqual([fromPython[1], ...fromUs])
        expect(Option.getOrThrow(yield* store.popItem(id))).toEqual(fromUs[1])

        // Python's read: ORDER BY created_at, id, then json.loads.
        const pythonRead = yield* sql<{ message_data: string }>`SELECT message_data FROM ${sql(messagesTable)}
          WHERE session_id = ${id} ORDER BY created_at ASC, id ASC`
        expect(pythonRead.map((row) => JSON.parse(row.message_data))).toEqual([...fromPython, fromUs[0]])

        // createTables on existing Python tables only adds what is missing.
        const upgraded = yield* SqlSessionStore.make({ sessionsTable, messagesTable, operationsTable, createTables: true })
        yield* upgraded.applyHistoryTransaction(id, {
          operationId: "op-1",
          transaction: { type: "append_items", items: [{ role: "user", content: "after upgrade" }] }
        })
        // It also added the catalogue columns: Python's session reads with the defaults.
        expect(Option.getOrThrow(yield* upgraded.getSession(id))).toMatchObject({ owner: null, metadata: {}, itemCount: 4 })
        yield* upgraded.updateSession(id, { owner: "py-owner" })
        expect((yield* upgraded.listSessions({ owner: "py-owner" })).sessions.map((s) => s.sessionId)).toEqual([id])
        expect((yield* upgraded.getItems(id)).map((item) => item.content)).toEqual([
          "Grüße aus Python 🐍",
          "ok",
          "from TypeScript ✓",
          "after upgrade"
        ])
        yield* upgraded.clearSession(id)
        expect(yield* upgraded.getItems(id)).toEqual([])
        for (const table of [operationsTable, messagesTable, sessionsTable]) yield* sql`DROP TABLE ${sql(table)}`
      }).pipe(Effect.provide(db.layer)))

    it.effect("explains that history transactions need the operations table", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sessionsTable = uniqueTable("py_sessions")
        const messagesTable = uniqueTable("py_messages")
        for (const statement of pythonDdl(db.dialect, sessionsTable, messagesTable)) yield* sql.unsafe(statement)
        const store = yield* SqlSessionStore.make({ sessionsTable, messagesTable, operationsTable: uniqueTable("none") })
        const id = uniqueId("py")
        yield* store.addItems(id, [{ role: "user", content: "x" }])
        const error = yield* Effect.flip(
          store.applyHistoryTransaction(id, { operationId: "o", transaction: { type: "append_items", items: [] } })
        )
        expect(error._tag).toBe("SessionStoreError")
        expect(error.message).toContain("migrations")
        // clearSession does not need it.
        yield* store.clearSession(id)
        expect(yield* store.getItems(id)).toEqual([])
        for (const table of [messagesTable, sessionsTable]) yield* sql`DROP TABLE ${sql(table)}`
      }).pipe(Effect.provide(db.layer)))
  })
}

