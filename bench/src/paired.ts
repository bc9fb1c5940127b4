/**
 * Paired latency: the floor, our store and the Python pattern run in alternating
 * blocks of sequential operations on one dialect, so load from anything else on
 * the machine falls on all of them alike. The latency targets are judged on these.
 */
import { makeItems } from "./items.js"
import { summarize } from "./measure.js"
import type { Mode } from "./modes.js"
import { type Log, seedSession } from "./scenario.js"
import type { Databases, Stats, Store, TargetSpec } from "./types.js"

export interface PairedPoint {
  readonly target: string
  readonly op: "append" | "latest20"
  readonly stats: Stats
}

const SESSIONS = 16

export const runPaired = async (
  specs: ReadonlyArray<TargetSpec>,
  db: Databases,
  mode: Mode,
  runId: string,
  log: Log
): Promise<Array<PairedPoint>> => {
  const opened: Array<[TargetSpec, Store]> = []
  try {
    for (const spec of specs) {
      try {
        opened.push([spec, await spec.open(db)])
      } catch (error) {
        log(`  ${spec.label}: not paired (${String(error instanceof Error ? error.message : error).slice(0, 160)})`)
      }
    }
    const sid = (spec: TargetSpec, kind: string, i: number) => `${runId}-pair-${spec.name}-${kind}-${i}`
    for (const [spec, store] of opened) {
      for (let i = 0; i < SESSIONS; i++) {
        await seedSession(store, sid(spec, "read", i), mode.readItems)
        await store.append(sid(spec, "append", i), makeItems(i, 2))
      }
    }
    const two = makeItems(3_000, 2)
    const latencies = new Map<string, Array<number>>()
    const blocks = mode.name === "full" ? 20 : mode.name === "quick" ? 4 : 2
    const perBlock = mode.name === "smoke" ? 5 : 50
    const now = () => Number(process.hrtime.bigint()) / 1e6
    for (let block = 0; block < blocks; block++) {
      for (const op of ["append", "latest20"] as const) {
        // Rotate the order so no store always runs first in a block.
        for (let j = 0; j < opened.length; j++) {
          const [spec, store] = opened[(block + j) % opened.length]!
          const key = `${spec.id}|${op}`
          const list = latencies.get(key) ?? []
          latencies.set(key, list)
          for (let i = 0; i < perBlock; i++) {
            const sessionId = sid(spec, op === "append" ? "append" : "read", i % SESSIONS)
            const start = now()
            if (op === "append") await store.append(sessionId, two)
            else await store.latest(sessionId, 20)
            if (block > 0 || i >= perBlock / 2) list.push(now() - start) // the first half-block warms up
          }
        }
      }
    }
    const points: Array<PairedPoint> = []
    for (const [spec] of opened) {
      for (const op of ["append", "latest20"] as const) {
        const list = latencies.get(`${spec.id}|${op}`) ?? []
        const stats = summarize(list, list.reduce((a, b) => a + b, 0))
        points.push({ target: spec.id, op, stats })
        log(`  paired ${spec.name.padEnd(13)} ${op.padEnd(8)} p50 ${stats.p50Ms.toFixed(3)} ms  p99 ${stats.p99Ms.toFixed(3)} ms  (${stats.ops} ops)`)
      }
    }
    return points
  } finally {
    for (const [, store] of opened) await store.close().catch(() => undefined)
  }
}
