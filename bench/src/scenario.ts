/**
 * The operations phase: for one opened store, prepares its sessions through its own
 * API and measures every operation at every concurrency.
 */
import { makeItems } from "./items.js"
import { forEachConcurrent, HungError, measure } from "./measure.js"
import type { Mode } from "./modes.js"
import type { Item, OpName, OpResult, Stats, Store, TargetSpec } from "./types.js"

export type Log = (line: string) => void

const SEED_CONCURRENCY = 8

/** Appends `count` items in batches of at most 50, the way an application accumulates history. */
export const seedSession = async (store: Store, sessionId: string, count: number, offset = 0): Promise<void> => {
  for (let done = 0; done < count; done += 50) {
    await store.append(sessionId, makeItems(offset + done, Math.min(50, count - done)))
  }
}

/** Appends a few items, reads them back and checks their order: a broken adapter is not measured. */
export const verifyStore = async (store: Store, sessionId: string): Promise<void> => {
  const items = makeItems(0, 3)
  await store.append(sessionId, items.slice(0, 2))
  await store.append(sessionId, items.slice(2))
  const latest = await store.latest(sessionId, 2)
  const all = await store.all(sessionId)
  if (latest.length !== 2 || all.length !== 3) {
    throw new Error(`read back ${latest.length} newest / ${all.length} total items, expected 2 / 3`)
  }
  await store.clear?.(sessionId)
}

export const formatStats = (s: Stats): string =>
  `${Math.round(s.opsPerSec).toLocaleString("en-US").padStart(7)} ops/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${
    s.p99Ms.toFixed(2)
  } ms  (${s.ops} ops${s.errors > 0 ? `, ${s.errors} errors` : ""})`

export const runOperations = async (
  spec: TargetSpec,
  store: Store,
  mode: Mode,
  runId: string,
  log: Log,
  onResult: (result: OpResult) => void = () => undefined
): Promise<Array<OpResult>> => {
  const results: Array<OpResult> = []
  const push = results.push.bind(results)
  results.push = (...items: Array<OpResult>) => {
    for (const item of items) onResult(item)
    return push(...items)
  }
  const sid = (kind: string, i: number) => `${runId}-${spec.name}-${kind}-${i}`
  const two = makeItems(1_000, 2)
  const three = makeItems(2_000, 3)

  const record = (op: OpName, concurrency: number, stats: Stats) => {
    results.push({ target: spec.id, op, concurrency, stats })
    log(`  ${op.padEnd(8)} c${String(concurrency).padEnd(3)} ${formatStats(stats)}`)
  }
  const skip = (op: OpName, reason: string) => {
    for (const concurrency of mode.concurrencies) results.push({ target: spec.id, op, concurrency, skipped: reason })
    log(`  ${op.padEnd(8)} n/a: ${reason}`)
  }
  /** `indices` bounds warm-up plus measured operations, so a cell never reuses a consumed session. */
  let hung: string | undefined
  const cell = async (op: OpName, concurrency: number, indices: number, fn: (i: number) => Promise<unknown>) => {
    const warmupOps = Math.min(mode.warmupOps, Math.floor(indices / 4))
    if (hung !== undefined) {
      results.push({ target: spec.id, op, concurrency, skipped: `not run: ${hung}` })
      log(`  ${op.padEnd(8)} c${concurrency} not run: ${hung}`)
      return
    }
    try {
      record(op, concurrency, await measure({
        concurrency,
        maxOps: indices - warmupOps,
        timeBudgetMs: mode.timeBudgetMs,
        warmupOps,
        op: fn,
        hangAfterMs: mode.hangAfterMs
      }))
    } catch (error) {
      const reason = `failed: ${String(error instanceof Error ? error.message : error).slice(0, 200)}`
      if (error instanceof HungError) hung = `the store hung during ${op} at concurrency ${concurrency}`
      results.push({ target: spec.id, op, concurrency, skipped: error instanceof HungError ? `hung at concurrency ${concurrency}: ${error.message}` : reason })
      log(`  ${op.padEnd(8)} c${concurrency} ${reason}`)
    }
  }

  // Sessions that already exist, so append measures appending, not creating.
  await forEachConcurrent(mode.appendSessions, SEED_CONCURRENCY, (i) => store.append(sid("append", i), makeItems(i, 2)))
  await forEachConcurrent(mode.readSessions, SEED_CONCURRENCY, (i) => seedSession(store, sid("read", i), mode.readItems))
  await forEachConcurrent(mode.turnSessions, SEED_CONCURRENCY, (i) => seedSession(store, sid("turn", i), mode.turnSeedItems))

  for (const c of mode.concurrencies) {
    await cell("append", c, mode.maxOps, (i) => store.append(sid("append", i % mode.appendSessions), two))
  }
  for (const c of mode.concurrencies) {
    await cell("latest20", c, mode.maxOps, (i) => store.latest(sid("read", i % mode.readSessions), 20))
  }
  for (const c of mode.concurrencies) {
    await cell("turn", c, mode.maxOps, async (i) => {
      const sessionId = sid("turn", i % mode.turnSessions)
      const history: ReadonlyArray<unknown> = await store.all(sessionId)
      if (history.length === 0) throw new Error("empty history in a seeded session")
      await store.append(sessionId, three as ReadonlyArray<Item>)
    })
  }
  const pop = store.pop
  if (pop === undefined) skip("pop", "no pop in the public API")
  else {
    // Round robin over the read sessions; the cap keeps every session non-empty.
    const budget = Math.floor((mode.readSessions * mode.readItems * 0.8) / mode.concurrencies.length)
    let offset = 0
    for (const c of mode.concurrencies) {
      const base = offset
      await cell("pop", c, budget, (i) => pop(sid("read", (base + i) % mode.readSessions)))
      offset += budget
    }
  }
  const clear = store.clear
  if (clear === undefined) skip("clear", "no clear in the public API")
  else {
    for (const c of mode.concurrencies) {
      const kind = `clear${c}`
      if (hung !== undefined) {
        await cell("clear", c, 1, async () => undefined)
        continue
      }
      try {
        await forEachConcurrent(mode.clearSessions, SEED_CONCURRENCY, (i) => store.append(sid(kind, i), makeItems(i, mode.clearSeedItems)))
      } catch (error) {
        const reason = `failed: preparing sessions: ${String(error instanceof Error ? error.message : error).slice(0, 200)}`
        results.push({ target: spec.id, op: "clear", concurrency: c, skipped: reason })
        log(`  clear    c${c} ${reason}`)
        continue
      }
      await cell("clear", c, mode.clearSessions, (i) => clear(sid(kind, i % mode.clearSessions)))
    }
  }
  return results
}
