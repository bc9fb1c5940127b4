import type { Stats } from "./types.js"

export interface MeasureOptions {
  readonly concurrency: number
  /** Upper bound on measured operations (a scenario may run out of sessions). */
  readonly maxOps: number
  /** Stop starting new operations after this long. */
  readonly timeBudgetMs: number
  /** Operations run first at the same concurrency and not recorded. */
  readonly warmupOps: number
  /** Runs operation number `i`; `i` counts warm-up operations too, so no index is used twice. */
  readonly op: (i: number) => Promise<unknown>
  /** A cell still running this long after its budget is declared hung. Default 15 s. */
  readonly hangAfterMs?: number | undefined
  /** When given, every measured latency is appended here too (to pool several rounds of one cell). */
  readonly latencies?: Array<number> | undefined
}

/** A store stopped answering (for instance a pool that deadlocks under concurrency). */
export class HungError extends Error {
  constructor(readonly afterMs: number) {
    super(`operations still pending ${Math.round(afterMs / 1000)} s after the time budget: the store hung`)
  }
}

/** Rejects with `HungError` when `promise` is not settled within `ms`. */
export const withHangGuard = <A>(promise: Promise<A>, ms: number): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HungError(ms)), ms)
  })
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer))
}

const percentile = (sorted: Float64Array, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[rank]!
}

/** Statistics of a list of latencies in milliseconds over a wall-clock span. */
export const summarize = (
  latencies: ReadonlyArray<number>,
  elapsedMs: number,
  errors = 0,
  cpuMicros = Number.NaN
): Stats => {
  const sorted = Float64Array.from(latencies).sort()
  const total = latencies.reduce((a, b) => a + b, 0)
  return {
    ops: latencies.length,
    errors,
    elapsedMs,
    opsPerSec: elapsedMs > 0 ? (latencies.length / elapsedMs) * 1000 : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: latencies.length > 0 ? total / latencies.length : Number.NaN,
    cpuUsPerOp: latencies.length > 0 ? cpuMicros / latencies.length : Number.NaN
  }
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6

/**
 * Closed-loop load: `concurrency` workers each run one operation at a time, taking
 * the next index from a shared counter, until `maxOps` or the time budget is spent.
 * Throughput is measured operations over the wall time of the measured phase.
 */
export const measure = async (options: MeasureOptions): Promise<Stats> => {
  let next = 0
  const failures: Array<unknown> = []
  const runPhase = async (limit: number, deadline: number, record: Array<number> | undefined) => {
    const worker = async () => {
      while (next < limit && nowMs() < deadline) {
        const i = next++
        const start = nowMs()
        try {
          await options.op(i)
          record?.push(nowMs() - start)
        } catch (error) {
          failures.push(error)
          // Failures are counted (a deadlock is a result too); a store that fails more often
          // than it succeeds is broken and would otherwise spin through the whole budget.
          if (failures.length > 20 && failures.length > (record?.length ?? 0)) throw error
        }
      }
    }
    await Promise.all(Array.from({ length: options.concurrency }, worker))
  }
  const hangAfter = options.hangAfterMs ?? 15_000
  await withHangGuard(runPhase(options.warmupOps, Number.POSITIVE_INFINITY, undefined), options.timeBudgetMs + hangAfter)
  const latencies: Array<number> = []
  const cpuStart = process.cpuUsage()
  const start = nowMs()
  await withHangGuard(
    runPhase(options.warmupOps + options.maxOps, start + options.timeBudgetMs, latencies),
    options.timeBudgetMs + hangAfter
  )
  const elapsed = nowMs() - start
  const cpu = process.cpuUsage(cpuStart)
  if (latencies.length === 0 && failures.length > 0) throw failures[0]
  if (options.latencies !== undefined) for (const latency of latencies) options.latencies.push(latency)
  return summarize(latencies, elapsed, failures.length, cpu.user + cpu.system)
}

/** Runs `fn` over `count` indices with bounded concurrency (used for seeding). */
export const forEachConcurrent = async (
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
