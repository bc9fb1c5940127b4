/**
 * The listing reads through its indexes, on a skewed table (one owner holds most sessions): the
 * store's own listing statement, page 1 and a later page by cursor, with and without an owner,
 * is an index range read in index order. No full scan, no sort of the table, so a page costs the
 * same on page 1 and page 1,000.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { detectCatalogFeatures, makeCatalogStatements } from "../../src/internal/catalogStatements.js"
import { all } from "../support/databases.js"
import { scratchTables } from "./support.js"

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`listing plan on ${db.label}`, () => {
    it.effect("lists through the (owner, updated_at, session_id) and (updated_at, session_id) indexes", () =>
      Effect.gen(function*() {
        const sql = (yield* SqlClient.SqlClient).withoutTransforms()
        const names = yield* scratchTables("lp")
        const sessions = sql(names.sessions)
        const total = 100_000
        const numbers = db.dialect === "pg"
          ? sql`SELECT g AS n FROM generate_series(1, ${total}) AS g`
          : db.dialect === "mysql"
          ? sql.unsafe(`SELECT seq AS n FROM seq_1_to_${total}`)
          : sql`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${total}) SELECT n FROM g`
        // Nine sessions in ten belong to "big"; the rest to 900 small owners.
        const owner = sql.literal("CASE WHEN n % 10 = 0 THEN CONCAT('small-', n % 900) ELSE 'big' END")
        const sqliteOwner = sql.literal("CASE WHEN n % 10 = 0 THEN 'small-' || (n % 900) ELSE 'big' END")
        const updatedAt = db.dialect === "pg"
          ? sql.literal("TIMESTAMP '2024-01-01' + n * INTERVAL '1 second'")
          : db.dialect === "mysql"
          ? sql.literal("TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n SECOND")
          : sql.literal("datetime('2024-01-01', '+' || n || ' seconds')")
        const sessionId = db.dialect === "sqlite" ? sql.literal("'s-' || n") : sql.literal("CONCAT('s-', n)")
        yield* sql`INSERT INTO ${sessions} (session_id, owner, updated_at)
          SELECT ${sessionId}, ${db.dialect === "sqlite" ? sqliteOwner : owner}, ${updatedAt} FROM (${numbers}) AS numbers`
        yield* db.dialect === "pg"
          ? sql`ANALYZE ${sessions}`
          : db.dialect === "mysql"
          ? sql`ANALYZE TABLE ${sessions}`
          : sql`ANALYZE`

        const statements = makeCatalogStatements(sql, names, yield* detectCatalogFeatures(sql))
        const key = db.dialect === "sqlite" ? "2024-01-01 12:00:00" : "2024-01-01 12:00:00.000000"
        const explain = (query: Parameters<typeof statements.selectPage>[0]) => {
          const [text, params] = (statements.selectPage(query) as unknown as Statement.Statement<unknown>).compile()
          return sql.unsafe(`${db.dialect === "sqlite" ? "EXPLAIN QUERY PLAN" : "EXPLAIN"} ${text}`, params).pipe(
            Effect.map((rows) => JSON.stringify(rows))
          )
        }
        const page = { updatedAfter: undefined, updatedBefore: undefined, limit: 51 }
        const cases = [
          { owner: "big", after: undefined, index: "owner_idx" },
          { owner: "big", after: { updatedKey: key, sessionId: "s-40000" }, index: "owner_idx" },
          { owner: "small-7", after: undefined, index: "owner_idx" },
          { owner: "small-7", after: { updatedKey: key, sessionId: "s-40000" }, index: "owner_idx" },
          { owner: undefined, after: undefined, index: "updated_idx" },
          { owner: undefined, after: { updatedKey: key, sessionId: "s-40000" }, index: "updated_idx" }
        ]
        for (const { after, index, owner: listOwner } of cases) {
          const plan = yield* explain({ ...page, owner: listOwner, after })
          const why = `${listOwner ?? "any owner"}, ${after === undefined ? "page 1" : "later page"}: ${plan}`
          expect(plan, why).toContain(`${names.sessions}_${index}`)
          expect(plan, why).not.toMatch(
            new RegExp(`Seq Scan on "?${names.sessions}|Sort Key|filesort|TEMP B-TREE|"type":"ALL"`, "i")
          )
        }
        for (const table of [names.operations, names.messages, names.sessions]) yield* sql`DROP TABLE ${sql(table)}`
      }).pipe(Effect.provide(db.layer)), 180_000)
  })
}
