/**
 * Natural batching under fire: many fibers append to many sessions and to one hot session at once,
 * so calls queue and share combined statements, while (on the servers) every connection of the
 * store's login is killed again and again. Every acknowledged call must be stored once, whole and
 * in its fiber's order; a failed call whole or not at all; and batches must really have formed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Metric, Option } from "effect"
import { SessionMetrics, SessionStore } from "../../src/index.js"
import { record, withOutcome } from "../harness/results.js"
import { makeTarget, rawHistory, type Target } from "../harness/targets.js"
import { dialects, dropAll, type Scale, trackFailures, uniqueTables, withStore } from "./common.js"

const ITEMS_PER_CALL = 3

interface Outcome {
  readonly key: string
  readonly sessionId: string
  readonly fiber: number
  readonly call: number
  readonly acknowledged: boolean
}

const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? String((failure.value as { _tag?: string })._tag) : "defect"
}

/** Checks one session's stored rows against the calls made on it; returns the violations. */
export const checkSession = (
  sessionId: string,
  stored: ReadonlyArray<string>,
  outcomes: ReadonlyArray<Outcome>
): Array<string> => {
  const violations: Array<string> = []
  const byKey = new Map(outcomes.map((outcome) => [outcome.key, outcome]))
  const seen = new Set<string>()
  const lastCallOf = new Map<number, number>()
  let row = 0
  while (row < stored.length) {
    const key = stored[row]!.slice(0, stored[row]!.lastIndexOf("#"))
    const outcome = byKey.get(key)
    const run = stored.slice(row, row + ITEMS_PER_CALL)
    const whole = Array.from({ length: ITEMS_PER_CALL }, (_, i) => `${key}#${i}`)
    if (outcome === undefined) violations.push(`${sessionId}: row ${row} belongs to no call on it (${stored[row]})`)
    else if (run.join() !== whole.join()) violations.push(`${sessionId}: call ${key} not whole and contiguous`)
    else if (seen.has(key)) violations.push(`${sessionId}: call ${key} stored twice`)
    else if (outcome.call <= (lastCallOf.get(outcome.fiber) ?? -1)) {
      violations.push(`${sessionId}: call ${key} stored before an earlier call of its fiber`)
    }
    if (outcome !== undefined) lastCallOf.set(outcome.fiber, Math.max(outcome.call, lastCallOf.get(outcome.fiber) ?? -1))
    seen.add(key)
    row += ITEMS_PER_CALL
  }
  for (const outcome of outcomes) {
    if (outcome.acknowledged && !seen.has(outcome.key)) violations.push(`${sessionId}: acknowledged call ${outcome.key} lost`)
  }
  return violations
}

export const batchingSuite = (scale: Scale) => {
  const fibers = scale.load.concurrency
  const callsPerFiber = scale.name === "fast" ? 24 : 120
  const sessions = scale.kill.sessions
  for (const db of dialects) {
    describe.skipIf(db.unavailable !== undefined)(`reliability batching on ${db.label} (${scale.name})`, () => {
      trackFailures(db.label)
      let target: Target
      const tables = uniqueTables("bat")
      beforeAll(async () => {
        target = await makeTarget(db.dialect, scale.poolSize)
      })
      afterAll(async () => {
        await dropAll(target, tables)
        await target.dispose()
      })

      it(`${fibers} fibers on ${sessions} sessions and one hot session${
        db.dialect === "sqlite" ? "" : ", connections killed"
      }: every acknowledged call stored once, whole, in order`, async () => {
        const prefix = `bat-${Date.now().toString(36)}`
        const hot = `${prefix}-hot`
        const sessionIds = Array.from({ length: sessions }, (_, i) => `${prefix}-${i}`)
        const outcomes: Array<Outcome> = []
        const tags: Record<string, number> = {}
        let killing = db.dialect !== "sqlite"
        let kills = 0
        let rounds = 0
        const killer = async () => {
          while (killing) {
            await new Promise((resolve) => setTimeout(resolve, scale.kill.everyMs))
            if (killing) kills += await target.killConnections().catch(() => 0)
            rounds++
          }
        }
        // The calls go on until the killer has struck a few times, however fast the database is.
        const enough = (call: number) => call >= callsPerFiber && (db.dialect === "sqlite" || rounds >= 3)
        const sizes = Metric.tagged(SessionMetrics.batchSize, "operation", "addItems")
        const program = Effect.gen(function*() {
          const store = yield* SessionStore
          const before = yield* Metric.value(sizes)
          const killing$ = killer()
          const calls = (fiber: number, call: number): Effect.Effect<void> => {
            if (enough(call)) return Effect.void
            const key = `${fiber}.${call}`
            // Every other call on the hot session; the rest spread over the others.
            const sessionId = call % 2 === 0 ? hot : sessionIds[(fiber * 7 + call) % sessions]!
            const items = Array.from({ length: ITEMS_PER_CALL }, (_, i) => ({ role: "user", content: `${key}#${i}` }))
            return Effect.flatMap(Effect.exit(store.addItems(sessionId, items)), (exit) => {
              const tag = tagOf(exit)
              tags[tag] = (tags[tag] ?? 0) + 1
              outcomes.push({ key, sessionId, fiber, call, acknowledged: Exit.isSuccess(exit) })
              return calls(fiber, call + 1)
            })
          }
          yield* Effect.forEach(Array.from({ length: fibers }, (_, fiber) => fiber), (fiber) => calls(fiber, 0), {
            concurrency: "unbounded",
            discard: true
          }).pipe(Effect.ensuring(Effect.sync(() => (killing = false))))
          yield* Effect.promise(() => killing$)
          const after = yield* Metric.value(sizes)
          return { statements: after.count - before.count, requests: after.sum - before.sum }
        })
        const { requests, statements } = await withStore(target, tables, program, { poolSize: scale.poolSize })

        const violations: Array<string> = []
        for (const sessionId of [hot, ...sessionIds]) {
          const stored = (await rawHistory(target, tables.messagesTable, sessionId)).map((text) =>
            String((JSON.parse(text) as { content: string }).content)
          )
          violations.push(...checkSession(sessionId, stored, outcomes.filter((o) => o.sessionId === sessionId)))
        }
        const unexpected = Object.keys(tags).filter((tag) => tag !== "success" && tag !== "SessionStoreError")
        record({
          section: "batching",
          dialect: db.label,
          figures: {
            fibers,
            calls: outcomes.length,
            acknowledged: tags.success ?? 0,
            "typed failures (SessionStoreError)": tags.SessionStoreError ?? 0,
            "connections killed": kills,
            "statements (combined or alone)": statements,
            "mean calls per statement": statements === 0 ? 0 : Math.round((requests / statements) * 100) / 100,
            violations: violations.length
          },
          notes: [...violations.slice(0, 5), ...unexpected]
        })
        await withOutcome("batching", db.label, async () => {
          expect(outcomes.length).toBeGreaterThanOrEqual(fibers * callsPerFiber)
          expect(unexpected).toEqual([])
          expect(violations).toEqual([])
          // Batches formed: fewer statements than the calls that reached one.
          expect(statements).toBeLessThan(requests)
          if (db.dialect !== "sqlite") expect(kills).toBeGreaterThan(0)
        })
      }, 600_000)
    })
  }
}
