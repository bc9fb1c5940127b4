/**
 * The cost of each operation, checked as behaviour: how many statements it sends (one
 * `sql.execute` span each) and whether getItems(limit) reads through the (session_id, id) index.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { SqlSessionStore } from "../../src/index.js"
import { all, uniqueId } from "../support/databases.js"

/** Runs `effect` with a tracer that records the name of every span it starts. */
const spanNames = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const names: Array<string> = []
    const base = yield* Effect.tracer
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        names.push(name)
        return base.span(name, parent, context, links, startTime, kind, options)
      },
      context: base.context
    })
    yield* Effect.withTracer(effect, recording)
    return names
  })

const count = (names: ReadonlyArray<string>, name: string) => names.filter((n) => n === name).length

const expectedStatements = {
  // One statement per operation, no BEGIN/COMMIT.
  pg: { add: 1, get: 1, pop: 1, clear: 1, transactions: 0 },
  // One short transaction per mutation (BEGIN/COMMIT are not statements of ours); on MariaDB
  // 10.5+ a pop is one DELETE … RETURNING.
  mysql: { add: 2, get: 1, pop: 2, clear: 3, transactions: 1 },
  mariadb: { add: 2, get: 1, pop: 1, clear: 3, transactions: 1 },
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

    it.effect("reads the newest items through the (session_id, id) index, without sorting", () =>
      Effect.gen(function*() {
        yield* SqlSessionStore.make({ createTables: true })
        const sql = yield* SqlClient.SqlClient
        const id = uniqueId()
        const query = (explain: string) =>
          sql.unsafe(`${explain} SELECT id, message_data FROM agent_messages WHERE session_id = ? ORDER BY id DESC LIMIT 20`, [id])
        const plan = db.dialect === "pg"
          ? yield* sql.withTransaction(
            // Tiny test tables make any plan cheap: forbid the alternatives, so the plan shows
            // whether the index can serve the filter and the order on its own.
            sql`SET LOCAL enable_seqscan = off`.pipe(
              Effect.zipRight(sql`SET LOCAL enable_bitmapscan = off`),
              Effect.zipRight(sql`SET LOCAL enable_sort = off`),
              Effect.zipRight(
                sql<{ "QUERY PLAN": string }>`EXPLAIN SELECT id, message_data FROM agent_messages
                  WHERE session_id = ${id} ORDER BY id DESC LIMIT 20`
              ),
              Effect.map((rows) => rows.map((row) => row["QUERY PLAN"]).join("\n"))
            )
          )
          : db.dialect === "mysql"
          ? yield* query("EXPLAIN").pipe(Effect.map((rows) => JSON.stringify(rows)))
          : yield* query("EXPLAIN QUERY PLAN").pipe(Effect.map((rows) => JSON.stringify(rows)))
        expect(plan).toContain("agent_messages_session_id_idx")
        if (db.dialect === "pg") expect(plan).toContain("Index Scan Backward")
        expect(plan).not.toMatch(/filesort|TEMP B-TREE|Sort Key/i)
      }).pipe(Effect.provide(db.layer)))
  })
}

