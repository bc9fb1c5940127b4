/**
 * Observability: every operation is a span carrying the session id and row counts, counters move
 * by exactly what happened, and no password reaches an error, a span or a log.
 */
import { PgClient } from "@effect/sql-pg"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Redacted } from "effect"
import { SessionStore, SqlSession, SqlSessionStore } from "../../src/index.js"
import type { Item } from "../../src/index.js"
import { allText, counterBy, recordingLogger, recordingTracer } from "../harness/observe.js"
import { record, withOutcome } from "../harness/results.js"
import { makeTarget, type Target } from "../harness/targets.js"
import { dialects, dropAll, type Scale, uniqueTables, trackFailures, itWhen } from "./common.js"

const SECRET = "s3cr3t-Pa55w0rd"

const counts = Effect.all({
  operations: counterBy("agent_session_operations_total", "operation"),
  failures: counterBy("agent_session_failures_total", "operation")
})

const delta = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)] as const).filter(([, v]) => v !== 0)
  )

export const observabilitySuite = (scale: Scale) => {
  for (const db of dialects) {
    describe.skipIf(db.unavailable !== undefined)(`reliability observability on ${db.label} (${scale.name})`, () => {
      trackFailures(db.label)
      let target: Target
      const tables = uniqueTables("obs")
      beforeAll(async () => {
        target = await makeTarget(db.dialect, 2)
      })
      afterAll(async () => {
        await dropAll(target, tables)
        await target.dispose()
      })

      it("each operation is one span with the session id and row counts; counters match", async () => {
        const tracer = recordingTracer()
        const logger = recordingLogger()
        const sessionId = `obs-${Date.now().toString(36)}`
        // On PostgreSQL (trust auth) the pool is given a password it never needs: it must not leak.
        const client = db.dialect === "pg"
          ? PgClient.layer({
            url: Redacted.make(target.url.replace(`${target.login}@`, `${target.login}:${SECRET}@`)),
            maxConnections: 2,
            connectTimeout: Duration.seconds(5)
          })
          : target.clientLayer({ poolSize: 2 })
        const layer = SqlSessionStore.layer({ createTables: true, ...tables }).pipe(Layer.provide(client))
        const program = Effect.gen(function*() {
          const store = yield* SessionStore
          const before = yield* counts
          yield* store.addItems(sessionId, [{ a: 1 }, { a: 2 }, { a: 3 }])
          yield* store.getItems(sessionId)
          yield* store.getItems(sessionId, 2)
          yield* store.popItem(sessionId)
          yield* store.clearSession(sessionId)
          const bad = yield* Effect.exit(store.addItems(sessionId, [{ n: 1n } as Item]))
          const after = yield* counts
          return { before, after, bad }
        }).pipe(Effect.provide(layer), Effect.provide(tracer.layer), Effect.provide(logger.layer))
        const { after, bad, before } = await Effect.runPromise(program)
        const storeSpans = tracer.spans.filter((s) => s.name.startsWith("SessionStore."))
        const byName = (name: string) => storeSpans.filter((s) => s.name === `SessionStore.${name}`)
        const numericAttributes = (name: string) =>
          byName(name).map((s) =>
            [...s.attributes].filter(([k, v]) => k !== "session.id" && (typeof v === "number" || typeof v === "bigint"))
              .map(([k]) => k)
          )
        const operationsDelta = delta(after.operations, before.operations)
        const failuresDelta = delta(after.failures, before.failures)
        const everything = allText(tracer.spans.map((s) => ({ name: s.name, a: s.attributes, e: s.events }))) +
          logger.logs.map((l) => l.text).join("\n")
        const missingCounts = ["addItems", "getItems", "popItem", "clearSession"].filter((op) =>
          numericAttributes(op).some((keys) => keys.length === 0)
        )
        record({
          section: "observability",
          dialect: db.label,
          figures: {
            "store spans": storeSpans.length,
            "spans with session.id": storeSpans.filter((s) => s.attributes.get("session.id") === sessionId).length,
            "operations without a row-count attribute": missingCounts.join(", ") || "none",
            "operations counted": Object.values(operationsDelta).reduce((a, b) => a + b, 0),
            "failures counted": Object.values(failuresDelta).reduce((a, b) => a + b, 0),
            "secret found in spans/logs": everything.includes(SECRET)
          }
        })
        await withOutcome("observability", db.label, async () => {
          expect(Exit.isFailure(bad)).toBe(true)
          expect(byName("addItems").length).toBe(2)
          expect(byName("getItems").length).toBe(2)
          expect(byName("popItem").length).toBe(1)
          expect(byName("clearSession").length).toBe(1)
          expect(storeSpans.every((s) => s.ended)).toBe(true)
          expect(storeSpans.every((s) => s.attributes.get("session.id") === sessionId)).toBe(true)
          expect(byName("addItems")[0]!.attributes.get("session.items")).toBe(3)
          expect(byName("getItems")[0]!.attributes.get("session.items")).toBe(3)
          expect(byName("getItems")[1]!.attributes.get("session.items")).toBe(2)
          expect(missingCounts).toEqual([])
          expect(byName("popItem")[0]!.attributes.get("session.items")).toBe(1)
          expect(byName("clearSession")[0]!.attributes.get("session.items")).toBe(2)
          expect(operationsDelta).toEqual({ addItems: 2, getItems: 2, popItem: 1, clearSession: 1 })
          expect(failuresDelta).toEqual({ addItems: 1 })
          expect(everything).not.toContain(SECRET)
        })
      }, 60_000)

      itWhen(db.dialect !== "sqlite")("an unreachable server fails typed and the password appears nowhere", async () => {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        const url = target.url.replace(/\/\/[^/]*\//, `//${target.login}:${SECRET}@127.0.0.1:1/`)
        const session = SqlSession.fromUrl(`unreachable-${Date.now()}`, { url })
        const started = performance.now()
        const error = await session.getItems().then(() => undefined, (e: unknown) => e)
        const ms = performance.now() - started
        await session.close()
        const text = allText(error) + String(error) + JSON.stringify(error, (_k, v) => (typeof v === "bigint" ? String(v) : v))
        record({
          section: "unreachable",
          dialect: db.label,
          figures: {
            error: String((error as { _tag?: string } | undefined)?._tag),
            "failed after ms": Math.round(ms),
            "password in error": text.includes(SECRET)
          }
        })
        await withOutcome("unreachable", db.label, async () => {
          expect((error as { _tag?: string })?._tag).toBe("SessionStoreError")
          expect(error).toBeInstanceOf(Error)
          expect(ms).toBeLessThan(12_000)
          expect(text).not.toContain(SECRET)
        })
      }, 60_000)
    })
  }
}
