/**
 * The ways to build the store: the test layer, `layerConfig`, migrations for a `Migrator`, and an
 * injected schema that validates and transforms items at the edge.
 */
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Schema } from "effect"
import { InvalidArgumentError, InvalidItemError, ItemFromJson, JsonObject, SessionStore, SqlSessionStore } from "../../src/index.js"
import { insertRaw, storedTexts } from "./support.js"

describe("SqlSessionStore.layerTest", () => {
  it.effect("is a fresh, empty database with the tables created, every time", () =>
    Effect.gen(function*() {
      const first = yield* Effect.provide(
        Effect.flatMap(SessionStore, (store) => Effect.zipRight(store.addItems("s", [{ a: 1 }]), store.getItems("s"))),
        SqlSessionStore.layerTest()
      )
      expect(first).toEqual([{ a: 1 }])
      const second = yield* Effect.provide(Effect.flatMap(SessionStore, (store) => store.getItems("s")), SqlSessionStore.layerTest())
      expect(second).toEqual([])
    }))
})

describe("SqlSessionStore.layerConfig", () => {
  it.effect("reads table names and createTables from Config", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* store.addItems("cfg", [{ a: 1 }])
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM custom_messages`
      expect(Number(rows[0]!.n)).toBe(1)
    }).pipe(
      Effect.provide(
        SqlSessionStore.layerConfig({
          createTables: Schema.Config("SESSIONS_CREATE_TABLES", Schema.BooleanFromString),
          messagesTable: Schema.Config("SESSIONS_MESSAGES_TABLE", Schema.String),
          sessionsTable: Schema.Config("SESSIONS_SESSIONS_TABLE", Schema.String)
        }).pipe(
          Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" })),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
            new Map([
              ["SESSIONS_CREATE_TABLES", "true"],
              ["SESSIONS_MESSAGES_TABLE", "custom_messages"],
              ["SESSIONS_SESSIONS_TABLE", "custom_sessions"]
            ])
          )))
        )
      )
    ))
})

describe("SqlSessionStore.layerFromUrl", () => {
  it.effect("builds the store and its pool from a URL read from Config", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* store.addItems("u", [{ a: 1 }])
      expect(yield* store.getItems("u")).toEqual([{ a: 1 }])
    }).pipe(
      Effect.provide(
        Layer.unwrapEffect(
          Config.redacted("DATABASE_URL").pipe(
            Config.map((url) => SqlSessionStore.layerFromUrl(url, { createTables: true }))
          )
        ).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", "sqlite::memory:"]])))))
      )
    ))

  it.effect("fails to build with InvalidArgumentError for a URL it does not understand", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(SqlSessionStore.layerFromUrl("oracle://scott:tiger@h/db")).pipe(Effect.scoped))
      assert.instanceOf(error, InvalidArgumentError)
      expect(error.message).not.toContain("tiger")
    }))
})

describe("SqlSessionStore.migrations", () => {
  it.effect("creates the tables through a Migrator, idempotently", () =>
    Effect.gen(function*() {
      const migrate = Migrator.make({})({ loader: Migrator.fromRecord(SqlSessionStore.migrations()) })
      const applied = yield* migrate
      expect(applied.map(([id, name]) => `${id}_${name}`)).toEqual(["1_agent_sessions", "2_agent_sessions_catalogue"])
      expect(yield* migrate).toEqual([])
      const store = yield* SqlSessionStore.make()
      yield* store.applyHistoryTransaction("m", { operationId: "o", transaction: { type: "append_items", items: [{ a: 1 }] } })
      expect(yield* store.getItems("m")).toEqual([{ a: 1 }])
      yield* store.updateSession("m", { owner: "o" })
      expect((yield* store.listSessions({ owner: "o" })).sessions.map((s) => s.sessionId)).toEqual(["m"])
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))
})

describe("an injected schema", () => {
  // Validates on the way in and out: items must carry a string role.
  const WithRole = Schema.compose(
    ItemFromJson,
    JsonObject.pipe(Schema.filter((item) => typeof item.role === "string" || "items need a role"))
  )
  // Transforms the stored text: a stand-in for encryption.
  const Reversed = Schema.compose(
    Schema.transform(Schema.String, Schema.String, {
      strict: true,
      decode: (stored) => Buffer.from(stored, "base64").toString("utf8"),
      encode: (json) => Buffer.from(json, "utf8").toString("base64")
    }),
    ItemFromJson
  )

  it.effect("refuses items the schema rejects and skips stored rows it cannot decode", () =>
    Effect.gen(function*() {
      const store = yield* SqlSessionStore.make({ createTables: true, schema: WithRole })
      const error = yield* Effect.flip(store.addItems("v", [{ role: "user" }, { content: "no role" }]))
      assert.instanceOf(error, InvalidItemError)
      expect(error.message).toContain("items need a role")
      yield* store.addItems("v", [{ role: "user", content: "ok" }])
      yield* insertRaw("v", JSON.stringify({ content: "written by someone else" }))
      expect(yield* store.getItems("v")).toEqual([{ role: "user", content: "ok" }])
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))

  it.effect("stores what the schema encodes", () =>
    Effect.gen(function*() {
      const store = yield* SqlSessionStore.make({ createTables: true, schema: Reversed })
      yield* store.addItems("e", [{ secret: "hunter2" }])
      const [stored] = yield* storedTexts("e")
      expect(stored).not.toContain("hunter2")
      expect(JSON.parse(Buffer.from(stored!, "base64").toString("utf8"))).toEqual({ secret: "hunter2" })
      expect(yield* store.getItems("e")).toEqual([{ secret: "hunter2" }])
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))
})
