/**
 * MySQL/MariaDB only: tables whose session ids compare case-insensitively are refused with the
 * fix, and an item larger than the server's packet limit is refused up front, never a dropped
 * connection. (Batches larger than one packet are in the behaviour suite.)
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { InvalidItemError, SessionStoreError, SqlSessionStore } from "../../src/index.js"
import { mysql, uniqueId, uniqueTable } from "../support/databases.js"
import { countMessages } from "./support.js"

const run = mysql.unavailable === undefined ? describe : describe.skip

run(`Tables and packets on ${mysql.label}`, () => {
  it.effect("refuses session_id columns with a case-insensitive collation, and its fix works", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sessionsTable = uniqueTable("ci_sessions")
      const messagesTable = uniqueTable("ci_messages")
      const operationsTable = uniqueTable("ci_ops")
      // Made by hand with the server's default collation, as people do.
      yield* sql.unsafe(`CREATE TABLE \`${sessionsTable}\` (session_id VARCHAR(255) NOT NULL PRIMARY KEY,
        created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))
        DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci`)
      yield* sql.unsafe(`CREATE TABLE \`${messagesTable}\` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        session_id VARCHAR(255) NOT NULL, message_data LONGTEXT NOT NULL,
        created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        FOREIGN KEY (session_id) REFERENCES \`${sessionsTable}\` (session_id) ON DELETE CASCADE)
        DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci`)
      const names = { sessionsTable, messagesTable, operationsTable }

      for (const createTables of [false, true]) {
        const error = yield* Effect.flip(SqlSessionStore.make({ ...names, createTables }))
        assert.instanceOf(error, SessionStoreError)
        expect(error.message).toContain(`"${sessionsTable}" uses collation utf8mb4_general_ci`)
        expect(error.message).toContain(`"${messagesTable}" uses collation utf8mb4_general_ci`)
        expect(error.message).toContain(
          `ALTER TABLE \`${messagesTable}\` MODIFY session_id varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;`
        )
      }

      // The fix, exactly as the message spells it.
      const error = yield* Effect.flip(SqlSessionStore.make(names))
      const script = error.message.slice(error.message.indexOf("ALTER TABLE"))
      for (const statement of script.split(";").map((part) => part.trim()).filter((part) => part !== "")) {
        yield* sql.unsafe(statement)
      }
      const store = yield* SqlSessionStore.make({ ...names, createTables: true })
      const suffix = uniqueId()
      yield* store.addItems(`Alice-${suffix}`, [{ content: "for Alice" }])
      yield* store.addItems(`alice-${suffix}`, [{ content: "for alice" }])
      expect(yield* store.getItems(`Alice-${suffix}`)).toEqual([{ content: "for Alice" }])
      yield* store.clearSession(`Alice-${suffix}`)
      expect(yield* store.getItems(`alice-${suffix}`)).toEqual([{ content: "for alice" }])
      for (const table of [operationsTable, messagesTable, sessionsTable]) yield* sql`DROP TABLE ${sql(table)}`
    }).pipe(Effect.provide(mysql.layer)))

  it.effect("refuses an item no packet can carry up front, and stays connected", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const packet = Number((yield* sql<{ packet: number | string }>`SELECT @@max_allowed_packet AS packet`)[0]!.packet)
      const store = yield* SqlSessionStore.make({ createTables: true, maxItemBytes: 4 * packet })
      const id = uniqueId()
      yield* store.addItems(id, [{ n: 1 }, { n: 2 }, { n: 3 }])
      const tooBig = { content: "x".repeat(packet + 1024) }
      const error = yield* Effect.flip(store.addItems(id, [{ n: 4 }, tooBig]))
      assert.instanceOf(error, InvalidItemError)
      expect(error.index).toBe(1)
      expect(error.message).toContain("max_allowed_packet")
      expect(yield* countMessages(id)).toBe(3)
      // The connection was never dropped; the store goes on.
      yield* store.addItems(id, [{ n: 5 }])
      expect((yield* store.getItems(id, 1))[0]).toEqual({ n: 5 })
      yield* store.clearSession(id)
    }).pipe(Effect.provide(mysql.layer)), 120_000)
})
