/**
 * The natural-batching scenario set (issue 11): append 2 items at 1, 16 and 64 callers and
 * latest 20 of 200 at 1 and 16 callers, for the floor (one statement or transaction per call),
 * the batched floor (natural batching on the raw driver), and our store through both faces with
 * `batching: true` and `batching: false`. Every cell runs in several short rounds, and within a
 * round the stores take turns in a rotating order, so other load on the machine falls on all of
 * them alike. Each store is first checked under concurrency (see `verifyConcurrentAppends`).
 */
import { coreTargets } from "./catalog.js"
import { makeItems } from "./items.js"
import { forEachConcurrent, measure, summarize } from "./measure.js"
import type { Mode } from "./modes.js"
import { formatStats, type Log, seedSession, verifyStore } from "./scenario.js"
import { batchedFloor, isBatchedStore } from "./targets/batched-floor.js"
import { oursVariant } from "./targets/ours.js"
import type { Databases, Dialect, Item, Stats, Store, TargetSpec } from "./types.js"

export type BatchingOp = "append" | "latest20"

export interface BatchingPoint {
  readonly target: string
  readonly dialect: Dialect
  readonly op: BatchingOp
  readonly concurrency: number
  readonly stats: Stats
  /** Calls per statement, for the batched floor (it counts them; our store's figure is in its metrics). */
  readonly meanBatch?: number | undefined
}

export interface BatchingOutcome {
  readonly points: ReadonlyArray<BatchingPoint>
  /** Stores of the set that could not be opened, verified or measured, with the reason. */
  readonly unavailable: ReadonlyArray<{ readonly target: string; readonly label: string; readonly reason: string }>
}

/** The cells of the set, in the order they are reported. */
export const BATCHING_CELLS: ReadonlyArray<readonly [BatchingOp, number]> = [
  ["append", 1],
  ["append", 16],
  ["append", 64],
  ["latest20", 1],
  ["latest20", 16]
]

type SqlDialect = "pg" | "mysql" | "sqlite"

/** Variant suffixes of our store in this set: the option on, and off. */
export const BATCHING_VARIANTS = [
  { suffix: "batched", label: "batching: true", options: { batching: true } },
  { suffix: "unbatched", label: "batching: false", options: { batching: false } }
] as const

/**
 * The stores of the set on one dialect: floor, batched floor (the design's slots, and on server
 * databases one slot per connection too), then ours (Effect, Promise) with batching on and off.
 */
export const batchingTargets = (dialect: SqlDialect): Array<TargetSpec> => [
  ...coreTargets.filter((t) => t.id === `${dialect}/floor` || t.id === `${dialect}/batched-floor`),
  ...(dialect === "sqlite" ? [] : [batchedFloor(dialect, "pool")]),
  ...(["effect", "promise"] as const).flatMap((face) => BATCHING_VARIANTS.map((variant) => oursVariant(dialect, face, variant)))
]

const marked = (caller: number, part: number): Item => ({ type: "message", role: "user", content: `caller ${caller} part ${part}` })

/**
 * Concurrent appends of three marked items from 24 callers into 3 sessions, and concurrent reads:
 * every caller's items must come back contiguous and in order (per-call atomicity under batching),
 * and each read must equal the tail of the session. The batched floor must also have combined calls.
 */
export const verifyConcurrentAppends = async (store: Store, prefix: string): Promise<void> => {
  const callers = 24
  const sessions = 3
  const sid = (s: number) => `${prefix}-s${s}`
  const before = isBatchedStore(store) ? store.batchCounts() : undefined
  await Promise.all(
    Array.from({ length: callers }, (_, caller) => store.append(sid(caller % sessions), [0, 1, 2].map((part) => marked(caller, part))))
  )
  for (let s = 0; s < sessions; s++) {
    const all = (await store.all(sid(s))) as ReadonlyArray<{ content?: unknown }>
    const texts = all.map((item) => String(item.content))
    if (texts.length !== (callers / sessions) * 3) throw new Error(`session ${s}: ${texts.length} items, expected ${(callers / sessions) * 3}`)
    for (let i = 0; i < texts.length; i += 3) {
      const caller = /^caller (\d+) part 0$/.exec(texts[i]!)?.[1]
      if (caller === undefined || texts[i + 1] !== `caller ${caller} part 1` || texts[i + 2] !== `caller ${caller} part 2`) {
        throw new Error(`session ${s}: a caller's items are not contiguous and in order at position ${i}: ${texts.slice(i, i + 3).join(" | ")}`)
      }
    }
  }
  const reads = await Promise.all(Array.from({ length: callers }, (_, i) => store.latest(sid(i % sessions), 4)))
  for (let i = 0; i < callers; i++) {
    const all = (await store.all(sid(i % sessions))) as ReadonlyArray<{ content?: unknown }>
    const expected = all.slice(-4).map((item) => String(item.content))
    const got = (reads[i] as ReadonlyArray<{ content?: unknown }>).map((item) => String(item.content))
    if (got.join("\n") !== expected.join("\n")) throw new Error(`concurrent latest(4) of session ${i % sessions} did not return the session's tail`)
  }
  if (before !== undefined && isBatchedStore(store)) {
    const after = store.batchCounts()
    if (after.statements - before.statements >= after.calls - before.calls) {
      throw new Error("the batched floor combined no calls under 48 concurrent calls")
    }
  }
  for (let s = 0; s < sessions; s++) await store.clear?.(sid(s))
}

interface Cell {
  readonly latencies: Array<number>
  elapsedMs: number
  cpuMicros: number
  errors: number
  calls: number
  statements: number
  next: number
}

const errorText = (error: unknown) => String(error instanceof Error ? error.message : error).split("\n")[0]!.slice(0, 200)

export const runBatching = async (
  dialect: SqlDialect,
  specs: ReadonlyArray<TargetSpec>,
  db: Databases,
  mode: Mode,
  runId: string,
  log: Log
): Promise<BatchingOutcome> => {
  const settings = mode.batching
  const unavailable: Array<{ target: string; label: string; reason: string }> = []
  const opened: Array<[TargetSpec, Store]> = []
  const sid = (spec: TargetSpec, kind: string, i: number) => `${runId}-nb-${spec.name}-${kind}-${i}`
  try {
    for (const spec of specs) {
      let store: Store | undefined
      try {
        store = await spec.open(db)
        await verifyStore(store, `${runId}-nb-${spec.name}-verify`)
        await verifyConcurrentAppends(store, `${runId}-nb-${spec.name}-concurrent`)
        await forEachConcurrent(settings.appendSessions, 8, (i) => store!.append(sid(spec, "append", i), makeItems(i, 2)))
        await forEachConcurrent(settings.readSessions, 8, (i) => seedSession(store!, sid(spec, "read", i), mode.readItems))
        opened.push([spec, store])
      } catch (error) {
        log(`  ${spec.label}: not measured (${errorText(error)})`)
        unavailable.push({ target: spec.id, label: spec.label, reason: errorText(error) })
        await store?.close().catch(() => undefined)
      }
    }
    const two = makeItems(5_000, 2)
    const cells = new Map<string, Cell>()
    const failed = new Set<string>()
    for (let round = 0; round < settings.rounds; round++) {
      for (const [op, concurrency] of BATCHING_CELLS) {
        for (let j = 0; j < opened.length; j++) {
          // Rotate the order so no store always runs first in a round.
          const [spec, store] = opened[(round + j) % opened.length]!
          const key = `${spec.id}|${op}|${concurrency}`
          if (failed.has(key)) continue
          const cell = cells.get(key) ?? { latencies: [], elapsedMs: 0, cpuMicros: 0, errors: 0, calls: 0, statements: 0, next: 0 }
          cells.set(key, cell)
          const sessions = op === "append" ? settings.appendSessions : settings.readSessions
          const base = cell.next
          const counts = isBatchedStore(store) ? store.batchCounts() : undefined
          try {
            const warmupOps = round === 0 ? Math.max(mode.warmupOps, 2 * concurrency) : concurrency
            const before = cell.latencies.length
            const stats = await measure({
              concurrency,
              maxOps: settings.maxOpsPerRound,
              timeBudgetMs: settings.roundBudgetMs,
              warmupOps,
              op: (i) => op === "append"
                ? store.append(sid(spec, "append", (base + i) % sessions), two)
                : store.latest(sid(spec, "read", (base + i) % sessions), 20),
              hangAfterMs: mode.hangAfterMs,
              latencies: cell.latencies
            })
            cell.next += warmupOps + (cell.latencies.length - before) + concurrency // past every index this round used
            cell.elapsedMs += stats.elapsedMs
            if (stats.ops > 0) cell.cpuMicros += stats.cpuUsPerOp * stats.ops
            cell.errors += stats.errors
            if (counts !== undefined && isBatchedStore(store)) {
              const after = store.batchCounts()
              cell.calls += after.calls - counts.calls
              cell.statements += after.statements - counts.statements
            }
          } catch (error) {
            failed.add(key)
            log(`  ${spec.name} ${op} c${concurrency}: failed (${errorText(error)})`)
          }
        }
      }
    }
    const points: Array<BatchingPoint> = []
    for (const [spec] of opened) {
      for (const [op, concurrency] of BATCHING_CELLS) {
        const cell = cells.get(`${spec.id}|${op}|${concurrency}`)
        if (cell === undefined || cell.latencies.length === 0) continue
        const stats = summarize(cell.latencies, cell.elapsedMs, cell.errors, cell.cpuMicros)
        const meanBatch = cell.statements > 0 ? cell.calls / cell.statements : undefined
        points.push({ target: spec.id, dialect, op, concurrency, stats, ...(meanBatch !== undefined ? { meanBatch } : {}) })
        log(`  ${spec.name.padEnd(24)} ${op.padEnd(8)} c${String(concurrency).padEnd(3)} ${formatStats(stats)}  cpu ${Math.round(stats.cpuUsPerOp)} µs/op${
          meanBatch !== undefined ? `  ${meanBatch.toFixed(1)} calls/statement` : ""
        }`)
      }
    }
    for (const key of failed) {
      const [target] = key.split("|")
      if (!unavailable.some((u) => u.target === target)) {
        unavailable.push({ target: target!, label: specs.find((s) => s.id === target)?.label ?? target!, reason: `failed during ${key.split("|").slice(1).join(" c")}` })
      }
    }
    return { points, unavailable }
  } finally {
    for (const [, store] of opened) await store.close().catch(() => undefined)
  }
}
