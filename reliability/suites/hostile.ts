/**
 * Hostile input: arbitrary JSON round trips, unstorable values, hostile session ids and table
 * names, corrupt stored rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option } from "effect"
import fc from "fast-check"
import { SessionStore, SqlSessionStore } from "../../src/index.js"
import type { Item } from "../../src/index.js"
import { corruptRows, extremeItems, jsonObject, sessionIds, tableNames, unstorable } from "../harness/hostile.js"
import { counterTotal } from "../harness/observe.js"
import { record, withOutcome } from "../harness/results.js"
import { makeTarget, rawHistory, type Target } from "../harness/targets.js"
import { dialects, dropAll, type Scale, storeLayer, uniqueTables, trackFailures } from "./common.js"

const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? String((failure.value as { _tag?: string })._tag) : "defect"
}

let sequence = 0
const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++sequence}`

export const hostileSuite = (scale: Scale) => {
  for (const db of dialects) {
    describe.skipIf(db.unavailable !== undefined)(`reliability hostile input on ${db.label} (${scale.name})`, () => {
      trackFailures(db.label)
      let target: Target
      const tables = uniqueTables("hst")
      let runtime: ManagedRuntime.ManagedRuntime<SessionStore | import("@effect/sql").SqlClient.SqlClient, unknown>
      const run = <A, E>(effect: Effect.Effect<A, E, SessionStore>) => runtime.runPromise(effect)
      const exitOf = <A, E>(effect: Effect.Effect<A, E, SessionStore>) => runtime.runPromise(Effect.exit(effect))
      const rowCount = async (sessionId: string) =>
        Number(
          (await target.admin.query(
            `SELECT count(*) AS n FROM ${target.ident(tables.messagesTable)} WHERE session_id = ?`,
            [sessionId]
          ))[0]!.n
        )
      const sessionRowCount = async (sessionId: string) =>
        Number(
          (await target.admin.query(
            `SELECT count(*) AS n FROM ${target.ident(tables.sessionsTable)} WHERE session_id = ?`,
            [sessionId]
          ))[0]!.n
        )

      beforeAll(async () => {
        target = await makeTarget(db.dialect, 4)
        runtime = ManagedRuntime.make(storeLayer(target, tables, { poolSize: 4 }))
        await runtime.runPromise(Effect.void)
      })
      afterAll(async () => {
        await runtime?.dispose()
        await dropAll(target, tables)
        await target.dispose()
      })

      it(`${scale.propertyRuns} arbitrary JSON batches come back deep-equal (fast-check)`, async () => {
        let runs = 0
        let items = 0
        const failure = await fc.assert(
          fc.asyncProperty(fc.array(jsonObject, { minLength: 1, maxLength: 4 }), async (batch) => {
            runs++
            items += batch.length
            const sessionId = fresh("fc")
            await run(Effect.flatMap(SessionStore, (s) => s.addItems(sessionId, batch)))
            const back = await run(Effect.flatMap(SessionStore, (s) => s.getItems(sessionId)))
            expect(back).toEqual(batch)
            // The stored text is JSON any client can read (the Python SDK reads it with json.loads).
            for (const text of await rawHistory(target, tables.messagesTable, sessionId)) JSON.parse(text)
            const popped = await run(Effect.flatMap(SessionStore, (s) => s.popItem(sessionId)))
            expect(Option.getOrUndefined(popped)).toEqual(batch[batch.length - 1])
          }),
          { numRuns: scale.propertyRuns }
        ).then(() => undefined, (e: unknown) => e)
        record({ section: "round-trips", dialect: db.label, figures: { "fast-check runs": runs, "items round-tripped": items } })
        await withOutcome("round-trips", db.label, async () => {
          if (failure) throw failure
        })
      }, 300_000)

      it("extreme items (deep, huge, many keys, NUL, __proto__, markers) come back deep-equal", async () => {
        const outcomes: Array<string> = []
        for (const { item, label } of extremeItems()) {
          const sessionId = fresh("xt")
          const exit = await exitOf(
            Effect.flatMap(SessionStore, (s) => Effect.zipRight(s.addItems(sessionId, [item]), s.getItems(sessionId)))
          )
          if (Exit.isFailure(exit)) {
            outcomes.push(`${label}: ${Cause.pretty(exit.cause).slice(0, 200)}`)
            continue
          }
          try {
            expect(exit.value).toEqual([item])
            expect(Object.getPrototypeOf(exit.value[0])).toBe(Object.prototype)
            // toEqual treats NaN as equal to NaN; -0 is checked on its own.
            if ("z" in item) expect(Object.is(exit.value[0]!.z, -0)).toBe(true)
            expect(({} as Record<string, unknown>).polluted).toBeUndefined()
          } catch (error) {
            outcomes.push(`${label}: ${String(error).slice(0, 200)}`)
          }
        }
        record({
          section: "extreme-items",
          dialect: db.label,
          figures: { "items tried": extremeItems().length, "came back different": outcomes.length },
          notes: outcomes
        })
        await withOutcome("extreme-items", db.label, async () => {
          expect(outcomes).toEqual([])
        })
      }, 120_000)

      it("unstorable values fail with InvalidItemError, store nothing, and leave the session usable", async () => {
        const problems: Array<string> = []
        const cases = unstorable()
        for (const { item, label } of cases) {
          const sessionId = fresh("bad")
          const exit = await exitOf(
            Effect.flatMap(SessionStore, (s) => s.addItems(sessionId, [{ ok: 1 }, item as Item, { ok: 2 }]))
          )
          if (tagOf(exit) !== "InvalidItemError") problems.push(`${label}: ${tagOf(exit)}`)
          if ((await rowCount(sessionId)) !== 0 || (await sessionRowCount(sessionId)) !== 0) {
            problems.push(`${label}: something was stored`)
          }
          const after = await exitOf(
            Effect.flatMap(SessionStore, (s) => Effect.zipRight(s.addItems(sessionId, [{ ok: 3 }]), s.getItems(sessionId)))
          )
          if (Exit.isFailure(after) || JSON.stringify(after.value) !== "[{\"ok\":3}]") {
            problems.push(`${label}: session unusable afterwards`)
          }
        }
        // The size cap: a store with maxItemBytes = 1000 refuses 1001 bytes, accepts 1000.
        const capped = ManagedRuntime.make(
          SqlSessionStore.layer({ ...tables, maxItemBytes: 1000 }).pipe(Layer.provide(target.clientLayer({ poolSize: 2 })))
        )
        const overhead = JSON.stringify({ t: "" }).length
        const capCases: Array<[string, Item, string]> = [
          ["exactly at the cap", { t: "a".repeat(1000 - overhead) }, "success"],
          ["one byte over the cap", { t: "a".repeat(1001 - overhead) }, "InvalidItemError"],
          ["multi-byte text over the cap", { t: "é".repeat(500) }, "InvalidItemError"],
          ["4-byte text over the cap", { t: "😀".repeat(300) }, "InvalidItemError"]
        ]
        try {
          for (const [label, item, want] of capCases) {
            const sessionId = fresh("cap")
            const exit = await capped.runPromise(
              Effect.exit(Effect.flatMap(SessionStore, (s) => s.addItems(sessionId, [{ small: true }, item])))
            )
            if (tagOf(exit) !== want) problems.push(`size cap, ${label}: ${tagOf(exit)}, expected ${want}`)
            const stored = await rowCount(sessionId)
            if (stored !== (want === "success" ? 2 : 0)) problems.push(`size cap, ${label}: ${stored} rows stored`)
          }
        } finally {
          await capped.dispose()
        }
        record({
          section: "unstorable",
          dialect: db.label,
          figures: { "values tried": cases.length + capCases.length, "handled wrongly": problems.length },
          notes: problems
        })
        await withOutcome("unstorable", db.label, async () => {
          expect(problems).toEqual([])
        })
      }, 120_000)

      it("hostile session ids: the documented forms work and stay apart, the others fail with InvalidArgumentError", async () => {
        const problems: Array<string> = []
        const canary = fresh("canary")
        const marker = Date.now().toString(36)
        // Ids are global on the shared servers: prefix nothing (the id itself is the test) but clear first.
        const cases = sessionIds(db.dialect)
        await run(Effect.flatMap(SessionStore, (s) => s.addItems(canary, [{ canary: true }])))
        for (const { accepted, id } of cases) if (accepted) await run(Effect.flatMap(SessionStore, (s) => s.clearSession(id)))
        for (const { accepted, id, label } of cases) {
          const exit = await exitOf(Effect.flatMap(SessionStore, (s) => s.addItems(id, [{ id, marker }])))
          const want = accepted ? "success" : "InvalidArgumentError"
          if (tagOf(exit) !== want) problems.push(`${label}: addItems gave ${tagOf(exit)}, expected ${want}`)
          if (!accepted) {
            for (const [op, effect] of [
              ["getItems", Effect.flatMap(SessionStore, (s) => s.getItems(id))],
              ["popItem", Effect.flatMap(SessionStore, (s) => s.popItem(id))],
              ["clearSession", Effect.flatMap(SessionStore, (s) => s.clearSession(id))]
            ] as const) {
              const e = await exitOf(effect as Effect.Effect<unknown, unknown, SessionStore>)
              if (tagOf(e) !== "InvalidArgumentError") problems.push(`${label}: ${op} gave ${tagOf(e)}`)
            }
          }
        }
        // Every accepted id holds exactly its own item: no two distinct ids share a session.
        for (const { accepted, id, label } of cases) {
          if (!accepted) continue
          const items = await run(Effect.flatMap(SessionStore, (s) => s.getItems(id)))
          if (items.length !== 1 || items[0]!.id !== id) {
            problems.push(`${label}: holds ${JSON.stringify(items.map((x) => x.id)).slice(0, 120)}`)
          }
        }
        // Clearing the SQL-looking and wildcard ids touches nobody else.
        for (const { accepted, id } of cases) {
          if (accepted && /DROP|OR|%|_/.test(id)) await run(Effect.flatMap(SessionStore, (s) => s.clearSession(id)))
        }
        const canaryItems = await run(Effect.flatMap(SessionStore, (s) => s.getItems(canary)))
        if (canaryItems.length !== 1) problems.push(`canary session holds ${canaryItems.length} items`)
        for (const { accepted, id, label } of cases) {
          if (!accepted || /DROP|OR|%|_/.test(id)) continue
          const items = await run(Effect.flatMap(SessionStore, (s) => s.getItems(id)))
          if (items.length !== 1) problems.push(`${label}: lost its item when another session was cleared`)
          await run(Effect.flatMap(SessionStore, (s) => s.clearSession(id)))
        }
        // Non-string ids are argument errors, not defects.
        for (const bad of [undefined, null, 42, {}]) {
          const e = await exitOf(Effect.flatMap(SessionStore, (s) => s.getItems(bad as unknown as string)))
          if (tagOf(e) !== "InvalidArgumentError") problems.push(`${String(bad)} as id: ${tagOf(e)}`)
        }
        record({
          section: "session-ids",
          dialect: db.label,
          figures: { "ids tried": cases.length + 4, "handled wrongly": problems.length },
          notes: problems
        })
        await withOutcome("session-ids", db.label, async () => {
          expect(problems).toEqual([])
        })
      }, 120_000)

      it("hostile table names fail with InvalidArgumentError before any SQL is sent", async () => {
        const problems: Array<string> = []
        const before = await tablesNamed(target, "zz")
        for (const { label, name } of tableNames()) {
          for (const option of ["sessionsTable", "messagesTable", "operationsTable"] as const) {
            const layer = SqlSessionStore.layer({ createTables: true, ...tables, [option]: name }).pipe(
              Layer.provide(target.clientLayer({ poolSize: 1 }))
            )
            const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(layer)))
            if (tagOf(exit) !== "InvalidArgumentError") problems.push(`${label} as ${option}: ${tagOf(exit)}`)
          }
        }
        const after = await tablesNamed(target, "zz")
        if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`tables appeared: ${after.join(", ")}`)
        record({
          section: "table-names",
          dialect: db.label,
          figures: { "names tried (x3 options)": tableNames().length, "handled wrongly": problems.length },
          notes: problems
        })
        await withOutcome("table-names", db.label, async () => {
          expect(problems).toEqual([])
        })
      }, 120_000)

      it("corrupt stored rows are skipped by reads and pops, counted, and never hide valid history", async () => {
        const sessionId = fresh("corrupt")
        const neighbour = fresh("neighbour")
        const corrupt = corruptRows()
        const insertRaw = (text: string) =>
          target.admin.query(
            `INSERT INTO ${target.ident(tables.messagesTable)} (session_id, message_data) VALUES (?, ?)`,
            [sessionId, text]
          )
        const add = (items: Array<Item>) => run(Effect.flatMap(SessionStore, (s) => s.addItems(sessionId, items)))
        await run(Effect.flatMap(SessionStore, (s) => s.addItems(neighbour, [{ n: 1 }])))
        // valid v1 v2, corrupt, valid v3, corrupt, valid v4, corrupt on top
        await add([{ v: 1 }, { v: 2 }])
        for (const c of corrupt.slice(0, 3)) await insertRaw(c.text)
        await add([{ v: 3 }])
        for (const c of corrupt.slice(3, 6)) await insertRaw(c.text)
        await add([{ v: 4 }])
        for (const c of corrupt.slice(6)) await insertRaw(c.text)
        const skippedBefore = await runtime.runPromise(counterTotal("agent_session_corrupt_rows_total"))
        const all = await run(Effect.flatMap(SessionStore, (s) => s.getItems(sessionId)))
        const skippedAfterRead = await runtime.runPromise(counterTotal("agent_session_corrupt_rows_total"))
        const newest2 = await run(Effect.flatMap(SessionStore, (s) => s.getItems(sessionId, 2)))
        const newest1 = await run(Effect.flatMap(SessionStore, (s) => s.getItems(sessionId, 1)))
        const pop1 = await run(Effect.flatMap(SessionStore, (s) => s.popItem(sessionId)))
        const rowsAfterPop1 = await rowCount(sessionId)
        const pop2 = await run(Effect.flatMap(SessionStore, (s) => s.popItem(sessionId)))
        const rest = await run(Effect.flatMap(SessionStore, (s) => s.getItems(sessionId)))
        const neighbourItems = await run(Effect.flatMap(SessionStore, (s) => s.getItems(neighbour)))
        const skippedEnd = await runtime.runPromise(counterTotal("agent_session_corrupt_rows_total"))
        // A pop deletes the rows above its item that start like an object yet nobody can read;
        // rows the Python SDK reads (42, null, [1,2,3], true) and other text stay (docs/limits.md).
        const deletedByPop = (rows: typeof corrupt) => rows.filter((c) => c.text.trimStart().startsWith("{")).length
        record({
          section: "corrupt-rows",
          dialect: db.label,
          figures: {
            "corrupt rows inserted": corrupt.length,
            "valid items": 4,
            "skipped by one full read (metric)": skippedAfterRead - skippedBefore,
            "skipped in all (metric)": skippedEnd - skippedBefore,
            "valid items hidden": 4 - all.length
          }
        })
        await withOutcome("corrupt-rows", db.label, async () => {
          expect(all).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }, { v: 4 }])
          expect(skippedAfterRead - skippedBefore).toBe(corrupt.length)
          expect(newest2).toEqual([{ v: 3 }, { v: 4 }])
          expect(newest1).toEqual([{ v: 4 }])
          expect(Option.getOrUndefined(pop1)).toEqual({ v: 4 })
          expect(rowsAfterPop1).toBe(4 + corrupt.length - 1 - deletedByPop(corrupt.slice(6)))
          expect(Option.getOrUndefined(pop2)).toEqual({ v: 3 })
          expect(rest).toEqual([{ v: 1 }, { v: 2 }])
          expect(await rowCount(sessionId)).toBe(2 + corrupt.length - deletedByPop(corrupt.slice(3)))
          expect(neighbourItems).toEqual([{ n: 1 }])
        })
      }, 60_000)
    })
  }
}

const tablesNamed = async (target: Target, fragment: string): Promise<Array<string>> => {
  const rows = target.dialect === "sqlite"
    ? await target.admin.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    : target.dialect === "pg"
    ? await target.admin.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")
    : await target.admin.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()")
  return rows.map((r) => String(r.name)).filter((n) => n.toLowerCase().includes(fragment)).sort()
}
