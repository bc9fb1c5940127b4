/**
 * Sharing a database with the Python Agents SDK's `SQLAlchemySession`: the store works on tables
 * made by SQLAlchemy's DDL for the Python SDK's definitions, Python's rows decode here, and
 * Python's read query returns what we wrote, in order.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import fc from "fast-check"
import { execFileSync } from "node:child_process"
import { decodeItem, isPythonReadable } from "../../src/internal/json.js"
import { ItemFromJson, JsonObject, SqlSessionStore } from "../../src/index.js"
import { all, uniqueId, uniqueTable } from "../support/databases.js"
import { pythonDdl, pythonJson } from "../support/pythonTables.js"
import { insertRaw, storedTexts } from "./support.js"

/**
 * Runs `script` in the system Python (its real `json` module) with `input` as JSON on stdin;
 * the script prints JSON. Floats JSON cannot spell travel as {"$f": "nan" | "inf" | "-inf" | "-0"}.
 */
const python = (script: string, input: unknown): unknown =>
  JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", `import json, math, sys
def build(v):
    if isinstance(v, dict):
        if list(v.keys()) == ["$f"]:
            return float(v["$f"].replace("-0", "-0.0"))
        return {k: build(x) for k, x in v.items()}
    if isinstance(v, list):
        return [build(x) for x in v]
    return v
data = json.loads(sys.stdin.read())
${script}`], { input: JSON.stringify(input), maxBuffer: 64 * 1024 * 1024 }).toString()
  )

/** A JS value as the transport above spells it. */
const tagFloats = (value: unknown): unknown => {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { $f: "nan" }
    if (value === Number.POSITIVE_INFINITY) return { $f: "inf" }
    if (value === Number.NEGATIVE_INFINITY) return { $f: "-inf" }
    if (Object.is(value, -0)) return { $f: "-0" }
    return value
  }
  if (Array.isArray(value)) return value.map(tagFloats)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, tagFloats(entry)]))
  }
  return value
}

/** Whether Python's `json.loads` reads each text. */
const pythonReads = (texts: ReadonlyArray<string>): Array<boolean> =>
  python(
    `def reads(t):
    try:
        json.loads(t)
        return True
    except ValueError:
        return False
print(json.dumps([reads(t) for t in data]))`,
    texts
  ) as Array<boolean>

/** What Python's `json.dumps(item)` writes, with the SDK's settings and with the defaults. */
const pythonDumps = (items: ReadonlyArray<unknown>): Array<{ sdk: string; plain: string }> =>
  python(
    `print(json.dumps([{"sdk": json.dumps(build(v), ensure_ascii=True, separators=(",", ":")), "plain": json.dumps(build(v), ensure_ascii=False)} for v in data]))`,
    items.map(tagFloats)
  ) as Array<{ sdk: string; plain: string }>

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


// Keys that are not markers: a Python program knows nothing of our "$bytes" and friends.
const pythonKey = fc.string().filter((key) => !key.startsWith("$") && key !== "__proto__")
const pythonLeaf = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0)
)
const { pythonItem } = fc.letrec<{ pythonItem: Record<string, unknown>; value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: "small" }, pythonLeaf, fc.array(tie("value"), { maxLength: 4 }), tie("pythonItem")),
  pythonItem: fc.dictionary(pythonKey, tie("value"), { maxKeys: 4 })
}))

describe("rows the Python SDK writes", () => {
  it("decodes every item Python's json.dumps writes, NaN and Infinity included", () => {
    const items = fc.sample(pythonItem, { numRuns: 300, seed: 9 })
    items.push({ nan: Number.NaN, inf: [Number.POSITIVE_INFINITY, { deep: Number.NEGATIVE_INFINITY }], text: "NaN Infinity \"-Infinity\"" })
    const written = pythonDumps(items)
    expect(written.at(-1)!.sdk).toContain(":NaN")
    written.forEach(({ plain, sdk }, index) => {
      expect(decodeItem(sdk), sdk).toEqual(items[index])
      expect(decodeItem(plain), plain).toEqual(items[index])
    })
  })

  it("reads exactly the texts Python's json.loads reads", () => {
    const texts = [
      "{\"a\": NaN}", "{\"a\":Infinity,\"b\":-Infinity}", "{\"a\" : [ NaN , {\"b\": -Infinity} ] }", "NaN", "-Infinity",
      "[NaN]", "17", "\"text\"", "null", "true", "[]", "{\"a\": -NaN}", "{\"a\": nan}", "{\"a\": +Infinity}",
      "{\"a\": Infinity1}", "{\"a\": NaNNaN}", "{\"a\": -Infinityx}", "{NaN: 1}", "{\"NaN\": NaN}", "{\"a\": \"x\\\"NaN\"}",
      "{\"a\": \"NaN\\\\\"}", " {\"a\": 1} ", "{\"a\": 1}x", "{\"a\": 01}", "{\"a\": 1,}", "{'a': 1}", "\ufeff{}",
      "{\"a\": \"\\ud800\"}", "{\"a\": 1e400}", "{\"a\": 12345678901234567890}", "{\"a\": \"tab\there\"}", "",
      "{\"a\": \"\\u0000\"}", "{\"a\":1}\n", "\t{\"a\":1}", "{\"a\": Infinity, \"b\": \"Infinity\"}", "{\"a\": [1 NaN]}"
    ]
    const verdicts = pythonReads(texts)
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(10)
    texts.forEach((text, index) => expect(isPythonReadable(text), JSON.stringify(text)).toBe(verdicts[index]))
  })

  it("agrees with Python on texts stitched from JSON and Python's constants", () => {
    const piece = fc.constantFrom(
      "NaN", "Infinity", "-Infinity", "-", "{", "}", "[", "]", ",", ":", " ", "\"", "\\", "\\\"", "\"k\"", "\"NaN\"",
      "1", "0", "e", ".", "true", "null", "n", "I"
    )
    const texts = fc.sample(fc.array(piece, { minLength: 1, maxLength: 9 }).map((parts) => parts.join("")), {
      numRuns: 3000,
      seed: 4
    })
    // Wrapped as a value in an object too, where Python's constants are most likely to appear.
    const candidates = [...texts, ...texts.map((text) => `{"v": ${text}}`)]
    const verdicts = pythonReads(candidates)
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(100)
    const disagreements = candidates.filter((text, index) => isPythonReadable(text) !== verdicts[index])
    expect(disagreements).toEqual([])
  })
})

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`Rows written by the Python SDK on ${db.label}`, () => {
    it.effect("are returned, popped and never deleted unread", () =>
      Effect.gen(function*() {
        const store = yield* SqlSessionStore.make({ createTables: true })
        const id = uniqueId("pyrows")
        const items = [
          { role: "user", content: "first" },
          { type: "function_call_output", output: { score: Number.NaN, range: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] } },
          { role: "assistant", content: "last", confidence: Number.POSITIVE_INFINITY }
        ]
        for (const { sdk } of pythonDumps(items)) yield* insertRaw(id, sdk)
        expect(yield* store.getItems(id)).toEqual(items)
        expect(yield* store.getItems(id, 2)).toEqual(items.slice(1))

        // Python reads these as items too; we cannot return them as objects, so we skip them,
        // and no pop deletes them.
        const notObjects = ["42", "[1, NaN]", "\"text\"", "null", "NaN"]
        for (const text of notObjects) yield* insertRaw(id, text)
        yield* insertRaw(id, "{corrupt")
        expect(yield* store.getItems(id)).toEqual(items)
        expect(Option.getOrThrow(yield* store.popItem(id))).toEqual(items[2])
        expect(Option.getOrThrow(yield* store.popItem(id))).toEqual(items[1])
        expect(yield* store.getItems(id)).toEqual(items.slice(0, 1))
        const left = yield* storedTexts(id)
        expect(left.slice(1)).toEqual(notObjects)
        expect(left).not.toContain("{corrupt")
      }).pipe(Effect.provide(db.layer)))

    it.effect("with a custom schema, a row Python reads but the schema refuses is kept by popItem", () =>
      Effect.gen(function*() {
        const WithRole = Schema.compose(
          ItemFromJson,
          JsonObject.pipe(Schema.filter((item) => typeof item.role === "string" || "items need a role"))
        )
        const store = yield* SqlSessionStore.make({ createTables: true, schema: WithRole })
        const id = uniqueId("pyschema")
        yield* store.addItems(id, [{ role: "user", content: "kept" }])
        const [written] = pythonDumps([{ type: "reasoning", summary: [] }])
        yield* insertRaw(id, written!.sdk)
        yield* insertRaw(id, "{corrupt")
        expect(Option.getOrThrow(yield* store.popItem(id))).toEqual({ role: "user", content: "kept" })
        expect(yield* storedTexts(id)).toEqual([written!.sdk])
        expect(yield* store.popItem(id)).toEqual(Option.none())
        expect(yield* storedTexts(id)).toEqual([written!.sdk])
      }).pipe(Effect.provide(db.layer)))
  })
}
