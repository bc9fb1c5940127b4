/**
 * The cost of each operation, checked as behaviour: how many statements it sends (one
 * `sql.execute` span each), and whether the database reads getItems(limit) through the
 * (session_id, id) index, so its cost does not grow with the session's history.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlSessionStore } from "../../src/index.js"
import { makeBatchStatements } from "../../src/internal/batchStatements.js"
import { makeStatements } from "../../src/internal/statements.js"
import { all, uniqueId, uniqueTable } from "../support/databases.js"
import { count, spanNames } from "../support/spans.js"

const expectedStatements = {
  // One statement per operation, no BEGIN/COMMIT.
  pg: { add: 1, get: 1, pop: 1, clear: 1, transactions: 0 },
  // One short transaction per mutation (BEGIN/COMMIT are not statements of ours); on MariaDB
  // 10.5+ a pop is one DELETE … RETURNING. A clear locks the session row before it deletes.
  mysql: { add: 2, get: 1, pop: 2, clear: 4, transactions: 1 },
  mariadb: { add: 2, get: 1, pop: 1, clear: 4, transactions: 1 },
  sqlite: { add: 2, get: 1, pop: 1, clear: 3, transactions: 1 }
} as const

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`statements per operation on ${db.label}`, () => {
    it.effect("sends the documented number of statements", () =>
      Effect.gen(function*() {
        const store = yield* SqlSessionStore.make({ createTables: true })
        const id = uniqueId()
        yield* store.addItems(id, [{ n: 0 }])
        const sql = yield* SqlClient.SqlClient
        const flavour = db.dialect === "mysql"
          ? (yield* sql<{ version: string }>`SELECT VERSION() AS version`.pipe(
            Effect.map((rows) => /mariadb/i.test(rows[0]!.version) ? "mariadb" as const : "mysql" as const)
          ))
          : db.dialect
        const expected = expectedStatements[flavour]

        const add = yield* spanNames(store.addItems(id, [{ n: 1 }, { n: 2 }, { n: 3 }]))
        expect(count(add, "sql.execute")).toBe(expected.add)
        expect(count(add, "sql.transaction")).toBe(expected.transactions)

        const get = yield* spanNames(store.getItems(id, 2))
        expect(count(get, "sql.execute")).toBe(expected.get)
        expect(count(get, "sql.transaction")).toBe(0)

        const pop = yield* spanNames(store.popItem(id))
        expect(count(pop, "sql.execute")).toBe(expected.pop)
        expect(count(pop, "sql.transaction")).toBe(flavour === "mysql" ? 1 : 0)

        const clear = yield* spanNames(store.clearSession(id))
        expect(count(clear, "sql.execute")).toBe(expected.clear)
        expect(count(clear, "sql.transaction")).toBe(expected.transactions)
      }).pipe(Effect.provide(db.layer)))

    it.effect("reads the newest items of even the largest session through the (session_id, id) index", () =>
      Effect.gen(function*() {
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const names = {
          sessions: uniqueTable("plan_sessions"),
          messages: uniqueTable("plan_messages"),
          operations: uniqueTable("plan_ops")
        }
        yield* SqlSessionStore.make({
          createTables: true,
          sessionsTable: names.sessions,
          messagesTable: names.messages,
          operationsTable: names.operations
        })
        // The shape that misleads PostgreSQL's planner: one session holds a tenth of the table,
        // and all of its rows are older than everyone else's.
        const sessions = sql(names.sessions)
        const messages = sql(names.messages)
        const big = 10_000
        const others = 90_000
        const numbers = (n: number) =>
          db.dialect === "pg"
            ? sql`SELECT g AS n FROM generate_series(1, ${n}) AS g`
            : db.dialect === "mysql"
            ? sql.unsafe(`SELECT seq AS n FROM seq_1_to_${n}`)
            : sql`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${n}) SELECT n FROM g`
        const row = `'${JSON.stringify({ role: "user", content: "a message of ordinary length, as agents write" })}'`
        const otherId = db.dialect === "sqlite" ? sql`'other-' || (n % 900)` : sql`CONCAT('other-', n % 900)`
        yield* sql`INSERT INTO ${sessions} (session_id) VALUES ('big')`
        yield* sql`INSERT INTO ${sessions} (session_id) SELECT DISTINCT ${otherId} FROM (${numbers(900)}) AS numbers`
        yield* sql`INSERT INTO ${messages} (session_id, message_data) SELECT 'big', ${sql.literal(row)} FROM (${numbers(big)}) AS numbers`
        yield* sql`INSERT INTO ${messages} (session_id, message_data) SELECT ${otherId}, ${sql.literal(row)} FROM (${numbers(others)}) AS numbers`
        yield* db.dialect === "pg"
          ? sql`ANALYZE ${messages}`
          : db.dialect === "mysql"
          ? sql`ANALYZE TABLE ${messages}`
          : sql`ANALYZE`

        // The statement the store sends for getItems("big", 20), explained by the database.
        const statement = makeStatements(sql, names).selectNewest("big", 20, undefined) as unknown as Statement.Statement<
          unknown
        >
        const [text, params] = statement.compile()
        const explain = db.dialect === "sqlite" ? "EXPLAIN QUERY PLAN" : "EXPLAIN"
        const plan = JSON.stringify(yield* sql.unsafe(`${explain} ${text}`, params))
        expect(plan).toContain(`${names.messages}_session_id_idx`)
        expect(plan).not.toMatch(/pkey|PRIMARY|filesort|TEMP B-TREE|Sort Key|Rows Removed/i)

        // The combined read of natural batching (PostgreSQL only): one index range read per session.
        const combined = makeBatchStatements(sql, names).newest
        expect(combined === undefined).toBe(db.dialect !== "pg")
        if (combined !== undefined) {
          const [combinedText, combinedParams] = combined.newestManyStatement([
            { sessionId: "big", limit: 20 },
            { sessionId: "other-1", limit: 20 }
          ]).compile()
          const combinedPlan = JSON.stringify(yield* sql.unsafe(`${explain} ${combinedText}`, combinedParams))
          expect(combinedPlan).toContain(`${names.messages}_session_id_idx`)
          expect(combinedPlan).not.toMatch(/pkey|filesort|Sort Key|Rows Removed/i)
        }

        // The combined pop of natural batching (PostgreSQL and SQLite): per session, LIMIT 1 backward
        // reads of the (session_id, id) index, never a scan of the session or of the table (a
        // correlated EXISTS once became a hashed subplan over every row). The primary key only
        // finds the rows to delete by id.
        const pops = makeBatchStatements(sql, names).pop
        expect(pops === undefined).toBe(db.dialect === "mysql")
        if (pops !== undefined && db.dialect === "sqlite") {
          const [popText, popParams] = pops.popManyStatement(["big", "other-1", "other-2"]).compile()
          const steps = (yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${popText}`, popParams))
            .map((row) => row.detail)
          expect(steps).toContain(`SEARCH newest USING INDEX ${names.messages}_session_id_idx (session_id=?)`)
          expect(steps.join("\n")).not.toMatch(/SCAN (newest|\S*messages)|TEMP B-TREE/)
        }
        if (pops !== undefined && db.dialect === "pg") {
          const [popText, popParams] = pops.popManyStatement(["big", "other-1", "other-2"]).compile()
          const popPlan = (yield* sql.unsafe<{ "QUERY PLAN": string }>(`EXPLAIN ${popText}`, popParams))
            .map((row) => row["QUERY PLAN"]).join("\n")
          expect(popPlan).toContain(`Index Scan Backward using ${names.messages}_session_id_idx`)
          expect(popPlan).not.toMatch(/Seq Scan|Bitmap|SubPlan|Sort Key: [^\n]*DESC|Backward using \S*pkey/i)
        }

        // The single pop (PostgreSQL), of the largest session and of an ordinary one: one backward
        // step of the (session_id, id) index each, never a read and sort of the whole session.
        const popStatement = makeStatements(sql, names).popStatement
        expect(popStatement === undefined).toBe(db.dialect !== "pg")
        if (popStatement !== undefined) {
          for (const sessionId of ["big", "other-1"]) {
            const [singleText, singleParams] = popStatement(sessionId).compile()
            const singlePlan = (yield* sql.unsafe<{ "QUERY PLAN": string }>(`EXPLAIN ${singleText}`, singleParams))
              .map((row) => row["QUERY PLAN"]).join("\n")
            expect(singlePlan).toContain(`Index Scan Backward using ${names.messages}_session_id_idx`)
            expect(singlePlan).not.toMatch(/Seq Scan|Bitmap|Sort Key: [^\n]*DESC|Backward using \S*pkey/i)
          }
        }
        for (const table of [names.operations, names.messages, names.sessions]) yield* sql`DROP TABLE ${sql(table)}`
      }).pipe(Effect.provide(db.layer)))
  })
}

