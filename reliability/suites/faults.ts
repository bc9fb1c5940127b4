/**
 * Faults: connections killed from the server side during load, fibers interrupted at random
 * points, several processes on one SQLite file, injected transient failures that must be retried,
 * and (full suite only) the server stopped and started mid-run.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Cause, Effect, Exit, Option } from "effect"
import { SessionStore, SqlSession } from "../../src/index.js"
import { readBack, runExactLoad } from "../harness/load.js"
import { checkContended, ExactModel, makeBatch, type TestItem } from "../harness/model.js"
import { counterTotal, recordingLogger } from "../harness/observe.js"
import { record, withOutcome } from "../harness/results.js"
import { startMysql, startPostgres, stopMysql, stopPostgres } from "../harness/servers.js"
import { makeTarget, rawHistory, type Target } from "../harness/targets.js"
import { dialects, dropAll, type Scale, sum, uniqueTables, withStore, trackFailures, itWhen } from "./common.js"

const run = promisify(execFile)
const here = Path.dirname(fileURLToPath(import.meta.url))
const root = Path.resolve(here, "../..")

const describeExit = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "success" : `${tagOf(exit)}: ${String(Cause.squash(exit.cause)).slice(0, 200)}`

const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? String((failure.value as { _tag?: string })._tag) : `defect: ${Cause.pretty(exit.cause)}`
}

export const faultSuite = (scale: Scale, options: { readonly restarts: boolean }) => {
  for (const db of dialects) {
    describe.skipIf(db.unavailable !== undefined)(`reliability faults on ${db.label} (${scale.name})`, () => {
      trackFailures(db.label)
      let target: Target
      const tables = uniqueTables("flt")
      beforeAll(async () => {
        target = await makeTarget(db.dialect, scale.poolSize)
      })
      afterAll(async () => {
        await dropAll(target, tables)
        await target.dispose()
      })

      itWhen(db.dialect !== "sqlite")("connections killed during load: typed failures, no partial batch, the pool recovers", async () => {
        let killing = true
        let kills = 0
        let rounds = 0
        // Started once the store is built: the faults are for the load, not for createTables.
        const startKiller = async () => {
          while (killing) {
            await new Promise((r) => setTimeout(r, scale.kill.everyMs))
            if (!killing) break
            kills += await target.killConnections().catch(() => 0)
            rounds++
          }
        }
        const program = Effect.gen(function*() {
          yield* SessionStore
          const killer = startKiller()
          const load = yield* runExactLoad({
            prefix: `kill-${Date.now().toString(36)}`,
            ...scale.kill,
            faults: true
          }).pipe(Effect.ensuring(Effect.sync(() => (killing = false))))
          yield* Effect.promise(() => killer)
          // A KILL issued in the last round lands asynchronously; give it a moment to take effect.
          yield* Effect.sleep("1 second")
          // No more faults: the same store, without a restart, must now succeed on every call.
          const store = yield* SessionStore
          const recovery = yield* Effect.forEach(load.ids.slice(0, 50), (sessionId) =>
            Effect.gen(function*() {
              const batch = makeBatch(sessionId, 3)
              const add = yield* Effect.exit(store.addItems(sessionId, batch))
              if (Exit.isSuccess(add)) load.model.acknowledge(sessionId, { _tag: "add", items: batch })
              const get = yield* Effect.exit(store.getItems(sessionId))
              if (Exit.isSuccess(get)) load.model.compare(sessionId, get.value, "history after recovery")
              return [describeExit(add), describeExit(get)]
            }), { concurrency: 8 })
          return { load, recovery: recovery.flat() }
        })
        const { load, recovery } = await withStore(target, tables, program)
        const failedAfter = recovery.filter((t) => t !== "success")
        record({
          section: "killed-connections",
          dialect: db.label,
          figures: {
            operations: load.stats.operations,
            "kill rounds": rounds,
            "connections killed": kills,
            "typed failures (SessionStoreError)": load.stats.errors.SessionStoreError ?? 0,
            "other failures": load.stats.unexpected.length,
            "unacknowledged ops found applied / not applied": `${load.stats.resolvedApplied} / ${load.stats.resolvedNotApplied}`,
            "partial batches / model violations": load.model.violations.length,
            "items lost": load.stats.lost,
            "ops failing after recovery": failedAfter.length
          },
          notes: [...load.model.violations.slice(0, 5), ...load.stats.unexpected.slice(0, 5), ...failedAfter.slice(0, 3)]
        })
        await withOutcome("killed-connections", db.label, async () => {
          expect(kills).toBeGreaterThan(0)
          expect(load.stats.unexpected).toEqual([])
          expect(load.model.violations).toEqual([])
          expect(load.stats.lost).toBe(0)
          expect(load.stats.duplicated).toBe(0)
          expect(failedAfter).toEqual([])
        })
      }, 600_000)

      it(`fibers interrupted at random points: each mutation happened entirely or not at all`, async () => {
        const { stats } = await withStore(
          target,
          tables,
          runExactLoad({
            prefix: `intr-${Date.now().toString(36)}`,
            sessions: scale.interrupt.sessions,
            concurrency: scale.interrupt.concurrency,
            operations: scale.interrupt.operations,
            mix: { add: 50, get: 10, pop: 30, clear: 10 },
            maxBatch: 8,
            interruptShare: scale.interrupt.share,
            interruptMaxMs: db.dialect === "sqlite" ? 1 : 4
          })
        )
        record({
          section: "interruption",
          dialect: db.label,
          figures: {
            operations: stats.operations,
            "mutations interrupted": stats.interrupted,
            "interrupted but applied entirely": stats.resolvedApplied,
            "interrupted before it applied": stats.resolvedNotApplied,
            "partial mutations / model violations": stats.violations.length,
            "items lost": stats.lost,
            errors: sum(stats.errors)
          },
          notes: [...stats.violations.slice(0, 5), ...stats.unexpected.slice(0, 5)]
        })
        await withOutcome("interruption", db.label, async () => {
          expect(stats.unexpected).toEqual([])
          expect(stats.violations).toEqual([])
          expect(stats.lost).toBe(0)
          expect(stats.duplicated).toBe(0)
          expect(stats.interrupted).toBeGreaterThan(0)
          expect(stats.resolvedApplied + stats.resolvedNotApplied).toBe(stats.interrupted)
        })
      }, 600_000)

      itWhen(db.dialect !== "sqlite")("injected transient failures (serialization/deadlock) are retried, logged, counted, applied once", async () => {
        const failuresToInject = 3
        const control = `relctl_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
        const sessionId = `retry-${Date.now().toString(36)}`
        const logger = recordingLogger()
        const program = Effect.gen(function*() {
          const store = yield* SessionStore
          // The tables exist now; arm the trigger on our own messages table.
          yield* Effect.promise(() => armTransientFailures(target, tables.messagesTable, control, failuresToInject))
          const before = yield* counterTotal("agent_session_retries_total", { operation: "addItems" })
          const batch = makeBatch(sessionId, 3)
          const exit = yield* Effect.exit(store.addItems(sessionId, batch))
          const after = yield* counterTotal("agent_session_retries_total", { operation: "addItems" })
          yield* Effect.promise(() => disarm(target, tables.messagesTable, control))
          const stored = yield* store.getItems(sessionId)
          return { exit, retries: after - before, batch, stored }
        }).pipe(Effect.provide(logger.layer))
        const result = await withStore(target, tables, program).finally(() =>
          disarm(target, tables.messagesTable, control).catch(() => undefined)
        )
        const retryLogs = logger.logs.filter((l) => /retr/i.test(l.message))
        record({
          section: "retries",
          dialect: db.label,
          figures: {
            "transient failures injected": failuresToInject,
            "retries counted (agent_session_retries_total)": result.retries,
            "retry log lines": retryLogs.length,
            outcome: tagOf(result.exit),
            "copies of the batch stored": result.stored.filter((x) => x.k === result.batch[0]!.k).length
          }
        })
        await withOutcome("retries", db.label, async () => {
          expect(tagOf(result.exit)).toBe("success")
          expect(result.stored.map((x) => x.k)).toEqual(result.batch.map((x) => x.k))
          expect(result.retries).toBe(failuresToInject)
          expect(retryLogs.length).toBe(failuresToInject)
          expect(retryLogs.every((l) => l.level === "WARN")).toBe(true)
        })
      }, 60_000)

      itWhen(db.dialect === "sqlite")(`${scale.sqliteProcesses.processes} processes write one SQLite file at once: no "database is locked"`, async () => {
        const shared = `shared-${Date.now().toString(36)}`
        const procTables = uniqueTables("proc")
        const script = Path.join(root, "reliability/harness/sqlite-writer.ts")
        const started = performance.now()
        const outputs = await Promise.all(
          Array.from({ length: scale.sqliteProcesses.processes }, (_, worker) =>
            run(process.execPath, [
              "--import",
              "tsx",
              script,
              JSON.stringify({
                filename: target.login,
                worker: worker + 1,
                sharedSession: shared,
                ownSession: `${shared}-own-${worker}`,
                batches: scale.sqliteProcesses.batches,
                tables: procTables
              })
            ], { cwd: root, maxBuffer: 64 * 1024 * 1024 }).then(
              (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
              (e) => ({ stdout: String(e.stdout ?? ""), stderr: String(e.stderr ?? e), code: Number(e.code ?? 1) })
            ))
        )
        const seconds = (performance.now() - started) / 1000
        const everything = outputs.map((o) => o.stdout + o.stderr).join("\n")
        // A busy wait past the 100 ms timeout is retried, and each retry is logged with its cause
        // (the documented behaviour): only a "locked" error that reached a caller counts.
        const surfaced = everything.split("\n").filter((line) => !line.includes("transient database failure, retrying"))
          .join("\n")
        const results = outputs.map((o) => {
          const line = o.stdout.trim().split("\n").pop() ?? ""
          try {
            return JSON.parse(line) as {
              ok: boolean
              shared: Array<Array<TestItem>>
              acknowledged: Array<number>
              own: Array<string>
              failures: Array<string>
              retries: number
            }
          } catch {
            return { ok: false, shared: [], acknowledged: [], own: [], failures: [`no result: ${o.stderr.slice(0, 500)}`], retries: 0 }
          }
        })
        const sharedStored = (await rawHistory(target, procTables.messagesTable, shared)).map((t) => JSON.parse(t) as TestItem)
        const check = checkContended({
          stored: sharedStored,
          added: results.flatMap((r) => r.shared),
          acknowledged: new Set(results.flatMap((r) => r.acknowledged)),
          popped: [],
          conservation: true
        })
        const ownMismatches: Array<string> = []
        for (let worker = 0; worker < results.length; worker++) {
          const own = (await rawHistory(target, procTables.messagesTable, `${shared}-own-${worker}`)).map((t) => JSON.parse(t).k)
          if (JSON.stringify(own) !== JSON.stringify(results[worker]!.own)) ownMismatches.push(`worker ${worker}`)
        }
        const failures = results.flatMap((r) => r.failures)
        const writes = results.reduce((n, r) => n + r.shared.length * 2, 0)
        record({
          section: "sqlite-processes",
          dialect: db.label,
          figures: {
            processes: scale.sqliteProcesses.processes,
            "batches written": writes,
            "shared-session items": sharedStored.length,
            "failed operations": failures.length,
            "\"database is locked\" seen by a caller": /database is locked|SQLITE_BUSY/i.test(surfaced),
            "busy retries counted": results.reduce((n, r) => n + r.retries, 0),
            "items lost": check.lost,
            seconds: Math.round(seconds * 10) / 10
          },
          notes: [...failures.slice(0, 5), ...check.violations.slice(0, 5)]
        })
        await withOutcome("sqlite-processes", db.label, async () => {
          expect(surfaced).not.toMatch(/database is locked|SQLITE_BUSY/i)
          expect(outputs.map((o) => o.code)).toEqual(outputs.map(() => 0))
          expect(failures).toEqual([])
          expect(results.every((r) => r.ok)).toBe(true)
          expect(check.violations).toEqual([])
          expect(ownMismatches).toEqual([])
        })
        await dropAll(target, procTables)
      }, 300_000)

      itWhen(db.dialect === "sqlite" && options.restarts === true)("SQLite busy past the busy timeout is retried, logged and counted", async () => {
        const sessionId = `busy-${Date.now().toString(36)}`
        const logger = recordingLogger()
        const program = Effect.gen(function*() {
          const store = yield* SessionStore
          yield* store.addItems(sessionId, [{ warm: true }])
          const before = yield* counterTotal("agent_session_retries_total", { operation: "addItems" })
          // Another connection holds the write lock. better-sqlite3 waits out its busy timeout
          // synchronously, so the timer releasing the lock can only fire once the store has given
          // up and is sleeping before its retry: exactly one SQLITE_BUSY, one retry.
          yield* Effect.promise(() => target.admin.query("BEGIN IMMEDIATE"))
          setTimeout(() => void target.admin.query("COMMIT"), 20)
          const batch = makeBatch(sessionId, 2)
          const started = performance.now()
          const exit = yield* Effect.exit(store.addItems(sessionId, batch))
          const ms = performance.now() - started
          const after = yield* counterTotal("agent_session_retries_total", { operation: "addItems" })
          const stored = yield* store.getItems(sessionId)
          return { exit, ms, retries: after - before, batch, stored }
        }).pipe(Effect.provide(logger.layer))
        const result = await withStore(target, tables, program).finally(() => target.admin.query("COMMIT").catch(() => undefined))
        const retryLogs = logger.logs.filter((l) => /retr/i.test(l.message))
        record({
          section: "retries",
          dialect: db.label,
          figures: {
            "transient failures injected": 1,
            "retries counted (agent_session_retries_total)": result.retries,
            "retry log lines": retryLogs.length,
            outcome: tagOf(result.exit),
            "copies of the batch stored": result.stored.filter((x) => x.k === result.batch[0]!.k).length,
            "ms blocked in the busy wait": Math.round(result.ms)
          }
        })
        await withOutcome("retries", db.label, async () => {
          expect(tagOf(result.exit)).toBe("success")
          expect(result.stored.slice(1).map((x) => x.k)).toEqual(result.batch.map((x) => x.k))
          expect(result.retries).toBeGreaterThanOrEqual(1)
          expect(retryLogs.length).toBe(result.retries)
        })
      }, 60_000)

      if (options.restarts && db.dialect !== "sqlite") {
        it("server stopped mid-run: calls fail typed within the connect timeout, then succeed again", async () => {
          const connectTimeoutMs = 3000
          const stop = db.dialect === "pg" ? stopPostgres : stopMysql
          const start = db.dialect === "pg" ? startPostgres : startMysql
          const model = new ExactModel()
          const ids = Array.from({ length: 5 }, (_, i) => `restart-${Date.now().toString(36)}-${i}`)
          const outage: Array<{ op: string; tag: string; ms: number }> = []
          let promiseOutage: { tag: string; ms: number; leaked: boolean } | undefined
          let after: Array<string> = []
          const program = Effect.gen(function*() {
            const store = yield* SessionStore
            for (const id of ids) {
              const batch = makeBatch(id, 2)
              yield* store.addItems(id, batch)
              model.acknowledge(id, { _tag: "add", items: batch })
            }
            yield* Effect.promise(() => stop())
            try {
              for (const id of ids) {
                for (const [op, effect] of [
                  ["addItems", store.addItems(id, makeBatch(id, 2))],
                  ["getItems", store.getItems(id)],
                  ["popItem", store.popItem(id)],
                  ["clearSession", store.clearSession(id)]
                ] as const) {
                  const started = performance.now()
                  const exit = yield* Effect.exit(effect as Effect.Effect<unknown, unknown>)
                  outage.push({ op, tag: tagOf(exit), ms: performance.now() - started })
                }
              }
              // A pool built during the outage (Promise API) fails typed too, and hides the password.
              const started = performance.now()
              const session = SqlSession.fromUrl("outage", { url: withPassword(target.url, "hunter2-secret") })
              const error = yield* Effect.promise(() => session.getItems().then(() => undefined, (e: unknown) => e))
              yield* Effect.promise(() => session.close())
              promiseOutage = {
                tag: String((error as { _tag?: string } | undefined)?._tag ?? "resolved"),
                ms: performance.now() - started,
                leaked: String((error as Error)?.message).includes("hunter2") || String(error).includes("hunter2")
              }
            } finally {
              yield* Effect.promise(() => start())
            }
            // The same store, no rebuild: the pool reconnects by itself.
            after = []
            for (const id of ids) {
              const stored = yield* Effect.exit(store.getItems(id))
              after.push(tagOf(stored))
              if (Exit.isSuccess(stored)) model.compare(id, stored.value, "history after restart")
              const batch = makeBatch(id, 2)
              const add = yield* Effect.exit(store.addItems(id, batch))
              after.push(tagOf(add))
              if (Exit.isSuccess(add)) model.acknowledge(id, { _tag: "add", items: batch })
            }
            for (const id of ids) model.compare(id, yield* readBack(id), "final history")
          })
          try {
            await withStore(target, tables, program, { connectTimeoutMs })
          } finally {
            await start()
          }
          const slowest = Math.max(...outage.map((o) => o.ms))
          record({
            section: `restart`,
            dialect: db.label,
            figures: {
              "calls during outage": outage.length,
              "typed failures (SessionStoreError)": outage.filter((o) => o.tag === "SessionStoreError").length,
              "slowest failure ms": Math.round(slowest),
              "connect timeout ms": connectTimeoutMs,
              "Promise API pool built during outage": promiseOutage ? `${promiseOutage.tag} in ${Math.round(promiseOutage.ms)} ms` : "-",
              "calls after restart that failed": after.filter((t) => t !== "success").length,
              "model violations": model.violations.length
            },
            notes: [...model.violations.slice(0, 5), ...outage.filter((o) => o.tag !== "SessionStoreError").map((o) => `${o.op}: ${o.tag}`).slice(0, 5)]
          })
          await withOutcome("restart", db.label, async () => {
            expect(outage.map((o) => o.tag)).toEqual(outage.map(() => "SessionStoreError"))
            expect(slowest).toBeLessThan(connectTimeoutMs + 2000)
            expect(promiseOutage?.tag).toBe("SessionStoreError")
            expect(promiseOutage?.ms).toBeLessThan(10_000 + 2000)
            expect(promiseOutage?.leaked).toBe(false)
            expect(after).toEqual(after.map(() => "success"))
            expect(model.violations).toEqual([])
          })
        }, 300_000)
      }
    })
  }
}

const withPassword = (url: string, password: string): string => {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}

/** Makes the next `count` inserts into `table` fail with a transient error, from a trigger. */
const armTransientFailures = async (target: Target, table: string, control: string, count: number) => {
  if (target.dialect === "pg") {
    // A sequence is not rolled back with the failed statement, so it counts attempts.
    await target.admin.query(`CREATE SEQUENCE ${control}`)
    await target.admin.query(
      `CREATE FUNCTION ${control}_fn() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
       BEGIN
         IF nextval('${control}') <= ${count} THEN
           RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
         END IF;
         RETURN NEW;
       END $$`
    )
    await target.admin.query(
      `CREATE TRIGGER ${control}_tr BEFORE INSERT ON ${target.ident(table)} FOR EACH STATEMENT EXECUTE FUNCTION ${control}_fn()`
    )
  } else {
    // MyISAM is not transactional: the countdown survives the rollback of the failed attempt.
    await target.admin.query(`CREATE TABLE ${control} (n INT) ENGINE=MyISAM`)
    await target.admin.query(`INSERT INTO ${control} VALUES (${count})`)
    await target.admin.query(
      `CREATE TRIGGER ${control}_tr BEFORE INSERT ON ${target.ident(table)} FOR EACH ROW
       BEGIN
         IF (SELECT n FROM ${control}) > 0 THEN
           UPDATE ${control} SET n = n - 1;
           SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'injected deadlock';
         END IF;
       END`
    )
  }
}

const disarm = async (target: Target, table: string, control: string) => {
  if (target.dialect === "pg") {
    await target.admin.query(`DROP TRIGGER IF EXISTS ${control}_tr ON ${target.ident(table)}`)
    await target.admin.query(`DROP FUNCTION IF EXISTS ${control}_fn()`)
    await target.admin.query(`DROP SEQUENCE IF EXISTS ${control}`)
  } else {
    await target.admin.query(`DROP TRIGGER IF EXISTS ${control}_tr`)
    await target.admin.query(`DROP TABLE IF EXISTS ${control}`)
  }
}
