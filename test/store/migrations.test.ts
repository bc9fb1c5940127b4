/**
 * `SqlSessionStore.migrations()` next to an application's own migrations. `@effect/sql`'s
 * Migrator keys are `<number>_<name>`, run in number order, and every number at or below the
 * highest applied one is skipped: the library's numbers must never collide with the
 * application's, nor jump ahead of them.
 */
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { InvalidArgumentError, SqlSessionStore } from "../../src/index.js"

const createUsers = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`)
const createPosts = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE posts (id INTEGER PRIMARY KEY)`)

const appliedRows = (table: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ migration_id: number; name: string }>`SELECT migration_id, name FROM ${sql(table)} ORDER BY migration_id`
  )

const tables = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
).pipe(Effect.map((rows) => rows.map((row) => row.name)))

/** The store over tables someone else created: it must not need `createTables`. */
const storeWorks = Effect.gen(function*() {
  const store = yield* SqlSessionStore.make()
  yield* store.applyHistoryTransaction("m", { operationId: "o", transaction: { type: "append_items", items: [{ a: 1 }] } })
  expect(yield* store.getItems("m")).toEqual([{ a: 1 }])
})

const sqlite = Effect.provide(SqliteClient.layer({ filename: ":memory:" }))

describe("SqlSessionStore.migrations next to an application's own", () => {
  it.effect("merged into the application's Migrator.fromRecord with ids, both apply, in number order", () =>
    Effect.gen(function*() {
      const migrate = (record: Parameters<typeof Migrator.fromRecord>[0]) =>
        Migrator.make({})({ loader: Migrator.fromRecord(record) })
      const first = yield* migrate({
        "0001_users": createUsers,
        ...SqlSessionStore.migrations({ ids: { create_tables: 2, catalogue: 3 } })
      })
      expect(first).toEqual([[1, "users"], [2, "agent_sessions_create_tables"], [3, "agent_sessions_catalogue"]])
      // The application's next migration comes after ours and still runs.
      const second = yield* migrate({
        "0001_users": createUsers,
        ...SqlSessionStore.migrations({ ids: { create_tables: 2, catalogue: 3 } }),
        "0004_posts": createPosts
      })
      expect(second).toEqual([[4, "posts"]])
      expect(yield* appliedRows("effect_sql_migrations")).toEqual([
        { migration_id: 1, name: "users" },
        { migration_id: 2, name: "agent_sessions_create_tables" },
        { migration_id: 3, name: "agent_sessions_catalogue" },
        { migration_id: 4, name: "posts" }
      ])
      expect(yield* tables).toEqual(expect.arrayContaining(["agent_messages", "agent_session_operations", "agent_sessions", "posts", "users"]))
      yield* storeWorks
    }).pipe(sqlite))

  it.effect("in a migrations table of their own, the default numbers never meet the application's", () =>
    Effect.gen(function*() {
      const app = yield* Migrator.make({})({ loader: Migrator.fromRecord({ "0001_users": createUsers }) })
      const ours = yield* Migrator.make({})({
        loader: Migrator.fromRecord(SqlSessionStore.migrations()),
        table: "agent_sessions_migrations"
      })
      expect(app).toEqual([[1, "users"]])
      expect(ours).toEqual([[1, "agent_sessions_create_tables"], [2, "agent_sessions_catalogue"]])
      expect(yield* appliedRows("effect_sql_migrations")).toEqual([{ migration_id: 1, name: "users" }])
      expect(yield* appliedRows("agent_sessions_migrations")).toEqual([
        { migration_id: 1, name: "agent_sessions_create_tables" },
        { migration_id: 2, name: "agent_sessions_catalogue" }
      ])
      yield* storeWorks
    }).pipe(sqlite))

  it.effect("after 0.1.0's migration in its own table, only the catalogue step runs", () =>
    Effect.gen(function*() {
      const createTables = SqlSessionStore.migrations()["0001_agent_sessions_create_tables"]!
      // 0.1.0 shipped one migration, keyed "0001_agent_sessions".
      const old = yield* Migrator.make({})({
        loader: Migrator.fromRecord({ "0001_agent_sessions": createTables }),
        table: "agent_sessions_migrations"
      })
      expect(old).toEqual([[1, "agent_sessions"]])
      const upgrade = yield* Migrator.make({})({
        loader: Migrator.fromRecord(SqlSessionStore.migrations()),
        table: "agent_sessions_migrations"
      })
      expect(upgrade).toEqual([[2, "agent_sessions_catalogue"]])
      yield* storeWorks
    }).pipe(sqlite))

  it("every key is <number>_agent_sessions_<step>, which the Migrator parses", () => {
    expect(Object.keys(SqlSessionStore.migrations())).toEqual([
      "0001_agent_sessions_create_tables",
      "0002_agent_sessions_catalogue"
    ])
    expect(Object.keys(SqlSessionStore.migrations({ ids: { create_tables: 42, catalogue: 43 } }))).toEqual([
      "0042_agent_sessions_create_tables",
      "0043_agent_sessions_catalogue"
    ])
    expect(Object.keys(SqlSessionStore.migrations({ ids: { create_tables: 20261123, catalogue: 20261124 } }))).toEqual([
      "20261123_agent_sessions_create_tables",
      "20261124_agent_sessions_catalogue"
    ])
  })

  it("refuses ids that miss a step, or are not positive integers", () => {
    for (
      const ids of [
        {},
        { create_tables: 2 },
        { create_tables: 0, catalogue: 3 },
        { create_tables: 1.5, catalogue: 3 },
        { create_tables: Number.NaN, catalogue: 3 }
      ]
    ) {
      const error = (() => {
        try {
          SqlSessionStore.migrations({ ids: ids as { create_tables: number; catalogue: number } })
        } catch (error) {
          return error
        }
      })()
      assert.instanceOf(error, InvalidArgumentError)
      expect(error.message).toMatch(/create_tables|catalogue/)
    }
  })
})
