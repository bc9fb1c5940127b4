/**
 * Load: many sessions, many concurrent fibers, every acknowledged operation in the model, nothing
 * lost or duplicated, the pool never over its size and back to zero connections after close.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { SqlSessionPool } from "../../src/index.js"
import { runContendedLoad, runExactLoad } from "../harness/load.js"
import { makeBatch } from "../harness/model.js"
import { record, withOutcome } from "../harness/results.js"
import { makeTarget, rawHistory, type Target, waitFor } from "../harness/targets.js"
import { dialects, dropAll, type Scale, sum, uniqueTables, withStore, trackFailures, itWhen } from "./common.js"

export const loadSuite = (scale: Scale) => {
  for (const db of dialects) {
    describe.skipIf(db.unavailable !== undefined)(`reliability load on ${db.label} (${scale.name})`, () => {
      trackFailures(db.label)
      let target: Target
      const tables = uniqueTables("load")
      beforeAll(async () => {
        target = await makeTarget(db.dialect, scale.poolSize)
      })
      afterAll(async () => {
        await dropAll(target, tables)
        await target.dispose()
      })

      it(`${scale.load.sessions} sessions, ${scale.load.concurrency} fibers, ${scale.load.operations} ops equal the model`, async () => {
        const baseline = await waitFor(target.connections, (n) => n === 0, 5000)
        const { ids, model, stats } = await withStore(
          target,
          tables,
          runExactLoad({ prefix: `load-${Date.now().toString(36)}`, ...scale.load, sample: target.connections })
        )
        const afterClose = await waitFor(target.connections, (n) => n <= baseline, 5000)
        // The same comparison once more, with raw SQL instead of the store's own read path.
        const rawMismatches: Array<string> = []
        for (let i = 0; i < ids.length; i += 50) {
          await Promise.all(ids.slice(i, i + 50).map(async (id) => {
            const raw = (await rawHistory(target, tables.messagesTable, id)).map((t) => String(JSON.parse(t).k))
            const want = model.history(id).map((x) => String(x.k))
            if (raw.join(",") !== want.join(",")) rawMismatches.push(`${id}: raw [${raw.join(",")}], model [${want.join(",")}]`)
          }))
        }
        record({
          section: "load",
          dialect: db.label,
          figures: {
            sessions: scale.load.sessions,
            concurrency: scale.load.concurrency,
            operations: stats.operations,
            adds: stats.byKind.add,
            gets: stats.byKind.get,
            pops: stats.byKind.pop,
            clears: stats.byKind.clear,
            errors: sum(stats.errors),
            "items stored at end": stats.itemsStored,
            "items lost": stats.lost,
            "items duplicated": stats.duplicated,
            "model violations": stats.violations.length,
            "sessions differing in raw SQL": rawMismatches.length,
            "p50 ms": round(stats.p50),
            "p99 ms": round(stats.p99),
            "max ms": round(stats.max),
            "ops/s": Math.round(stats.operations / stats.seconds),
            "pool size": target.poolSize,
            "peak connections": stats.peakSample,
            "connections before / after close": `${baseline} / ${afterClose}`
          },
          notes: [...stats.violations.slice(0, 5), ...stats.unexpected.slice(0, 5), ...rawMismatches.slice(0, 5)]
        })
        await withOutcome("load", db.label, async () => {
          expect(rawMismatches).toEqual([])
          expect(stats.unexpected).toEqual([])
          expect(stats.violations).toEqual([])
          expect(stats.errors).toEqual({})
          expect(stats.lost).toBe(0)
          expect(stats.duplicated).toBe(0)
          expect(stats.itemsStored).toBe(stats.itemsAcknowledged)
          expect(stats.peakSample).toBeLessThanOrEqual(target.poolSize)
          expect(afterClose).toBe(baseline)
        })
      }, 600_000)

      it(`${scale.contended.concurrency} fibers on ${scale.contended.sessions} hot sessions: batches contiguous, pops distinct`, async () => {
        const stats = await withStore(target, tables, runContendedLoad({ prefix: `hot-${Date.now().toString(36)}`, ...scale.contended }))
        record({
          section: "contended",
          dialect: db.label,
          figures: {
            sessions: stats.sessions,
            concurrency: stats.concurrency,
            operations: stats.operations,
            pops: stats.pops,
            "snapshots checked": stats.snapshots,
            errors: sum(stats.errors),
            "items lost": stats.lost,
            "items duplicated": stats.duplicated,
            violations: stats.violations.length,
            "p99 ms": round(stats.p99)
          },
          notes: [...stats.violations.slice(0, 5), ...stats.unexpected.slice(0, 5)]
        })
        await withOutcome("contended", db.label, async () => {
          expect(stats.unexpected).toEqual([])
          expect(stats.violations).toEqual([])
          expect(stats.lost).toBe(0)
          expect(stats.duplicated).toBe(0)
          expect(stats.pops).toBeGreaterThan(0)
        })
      }, 600_000)

      itWhen(db.dialect !== "sqlite")("the Promise pool releases every connection on close()", async () => {
        // The login is this suite's own: once earlier pools have finished closing, it holds none.
        const baseline = await waitFor(target.connections, (n) => n === 0, 5000)
        const promiseTables = uniqueTables("pp")
        const pool = SqlSessionPool.fromUrl({ url: target.url, createTables: true, ...promiseTables })
        let peak = 0
        try {
          const ids = Array.from({ length: 40 }, (_, i) => `pp-${Date.now().toString(36)}-${i}`)
          const sessions = ids.map((id) => pool.session(id))
          const batches = ids.map((id) => makeBatch(id, 3))
          await Promise.all(sessions.map((s, i) => s.addItems(batches[i]! as unknown as Parameters<typeof s.addItems>[0])))
          peak = await target.connections()
          const histories = await Promise.all(sessions.map((s) => s.getItems()))
          expect(histories.map((h) => h.map((x) => (x as unknown as { k: string }).k))).toEqual(batches.map((b) => b.map((x) => x.k)))
          // A session handle closing must not close the shared pool.
          await sessions[0]!.close?.()
          expect((await sessions[1]!.getItems()).length).toBe(3)
        } finally {
          await pool.close()
        }
        const afterClose = await waitFor(target.connections, (n) => n <= baseline, 5000)
        record({
          section: "promise-pool",
          dialect: db.label,
          figures: { sessions: 40, "connections before": baseline, "connections in use": peak, "after close()": afterClose }
        })
        await withOutcome("promise-pool", db.label, async () => {
          expect(peak).toBeGreaterThan(baseline)
          expect(afterClose).toBe(baseline)
        })
        await dropAll(target, promiseTables)
      }, 60_000)
    })
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100
