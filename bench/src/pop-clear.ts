/**
 * `npx tsx bench/src/pop-clear.ts [--rounds=3] [--ops=1500] [--concurrency=16] [--dialects=pg,mysql,sqlite]`
 *
 * Does natural batching pay for `popItem` and `clearSession`? Issue 11 asks to measure before
 * deciding. This probe answers it at the design's limit, with the raw drivers and no library in
 * the way: the floor (one statement or transaction per call) against the same calls through the
 * raw natural batcher (natural-batcher.ts, the library's default slots) with combined statements:
 *
 * - pop: PostgreSQL one `LATERAL … FOR UPDATE` delete over the sorted sessions; MariaDB one
 *   `DELETE … WHERE id IN (newest id per session) RETURNING`; SQLite one transaction of the
 *   floor's pop per session.
 * - clear: PostgreSQL one CTE over `= ANY($1)`; MariaDB one `DELETE … IN (…)` of the session rows
 *   (the foreign key cascades, as in the floor); SQLite one transaction of the floor's clears.
 *
 * Each round runs every (dialect, operation) cell for both stores, in alternating order, for a
 * fixed number of calls at a fixed concurrency on distinct sessions; figures pool the rounds.
 * Writes bench/pop-clear/results.md and results.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { MysqlPoolLike, PgPoolLike, SqliteDatabaseLike } from "./drivers.js"
import { DEFAULT_MYSQL_URL, DEFAULT_PG_URL, freshDir, redactUrl } from "./env.js"
import { makeItems } from "./items.js"
import { forEachConcurrent, measure, summarize } from "./measure.js"
import { openMysqlFloor, openPgFloor, openSqliteFloor } from "./targets/floor.js"
import { makeRawBatcher, type RawBatchKind } from "./targets/natural-batcher.js"
import { qValues } from "./targets/schema.js"
import type { Databases, Store } from "./types.js"

type Dialect = "pg" | "mysql" | "sqlite"
type Op = "pop" | "clear"

interface Probe {
  readonly store: Store
  readonly seed: (sessionIds: ReadonlyArray<string>, items: number) => Promise<void>
  readonly counts?: () => { readonly calls: number; readonly statements: number }
}

const SLOTS = 2 // the library's default batchConcurrency
const MAX_BATCH = 64

const distinctOrThrow = (sessionIds: ReadonlyArray<string>): Array<string> => {
  const sorted = [...sessionIds].sort()
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new Error(`a combined pop holds session ${sorted[i]} twice`)
  }
  return sorted
}

/** Rows of 4 kB-ish items, inserted in bulk (seeding is not measured). */
const seedRows = (sessionIds: ReadonlyArray<string>, items: number): Array<string> => {
  const texts = makeItems(0, items).map((item) => JSON.stringify(item))
  return sessionIds.flatMap((sessionId) => texts.flatMap((text) => [sessionId, text]))
}

const inChunks = async (params: ReadonlyArray<string>, rowsPerChunk: number, run: (chunk: Array<string>) => Promise<unknown>) => {
  for (let i = 0; i < params.length; i += 2 * rowsPerChunk) await run(params.slice(i, i + 2 * rowsPerChunk))
}

const withBatcher = (floor: Store, pop: RawBatchKind<string, unknown>, clear: RawBatchKind<string, void>, holdUntilMicrotasks = false) => {
  const batcher = makeRawBatcher({ slots: holdUntilMicrotasks ? 1 : SLOTS, maxBatchSize: MAX_BATCH, holdUntilMicrotasks })
  const store: Store = { ...floor, pop: (id) => batcher.run(pop, id), clear: (id) => batcher.run(clear, id) }
  return { store, counts: batcher.counts }
}

const pgSeed = (pool: PgPoolLike, t: { sessions: string; messages: string }) => async (ids: ReadonlyArray<string>, items: number) => {
  await pool.query(`INSERT INTO ${t.sessions} (session_id) SELECT unnest($1::text[])`, [ids])
  const params = seedRows(ids, items)
  await inChunks(params, 5_000, (chunk) =>
    pool.query(`INSERT INTO ${t.messages} (session_id, message_data) SELECT * FROM unnest($1::text[], $2::text[])`, [
      chunk.filter((_, i) => i % 2 === 0),
      chunk.filter((_, i) => i % 2 === 1)
    ]))
}

const openPg = async (db: Databases, batched: boolean): Promise<Probe> => {
  const { conn: pool, store: floor, t } = await openPgFloor(db, batched ? "batched" : "floor")
  const seed = pgSeed(pool, t)
  if (!batched) return { store: floor, seed }
  const pop: RawBatchKind<string, unknown> = {
    single: (id) => floor.pop!(id),
    combined: async (ids) => {
      const result = await pool.query(
        `WITH picked AS (SELECT newest.id FROM unnest($1::text[]) AS s(session_id)
           CROSS JOIN LATERAL (SELECT id FROM ${t.messages} WHERE session_id = s.session_id
             ORDER BY id DESC LIMIT 1 FOR UPDATE) AS newest)
         DELETE FROM ${t.messages} AS m USING picked WHERE m.id = picked.id RETURNING m.session_id, m.message_data`,
        [distinctOrThrow(ids)]
      )
      const bySession = new Map(result.rows.map((row) => [String(row["session_id"]), JSON.parse(String(row["message_data"]))]))
      return ids.map((id) => bySession.get(id))
    }
  }
  const clear: RawBatchKind<string, void> = {
    single: (id) => floor.clear!(id),
    combined: async (ids) => {
      await pool.query(
        `WITH m AS (DELETE FROM ${t.messages} WHERE session_id = ANY($1::text[]))
         DELETE FROM ${t.sessions} WHERE session_id = ANY($1::text[])`,
        [distinctOrThrow(ids)]
      )
      return ids.map(() => undefined)
    }
  }
  return { ...withBatcher(floor, pop, clear), seed }
}

const mysqlSeed = (pool: MysqlPoolLike, t: { sessions: string; messages: string }) => async (ids: ReadonlyArray<string>, items: number) => {
  await inChunks(ids.flatMap((id) => [id, id]), 2_000, (chunk) =>
    pool.query(`INSERT INTO ${t.sessions} (session_id) VALUES ${chunk.filter((_, i) => i % 2 === 0).map(() => "(?)").join(", ")}`,
      chunk.filter((_, i) => i % 2 === 0)))
  await inChunks(seedRows(ids, items), 2_000, (chunk) =>
    pool.query(`INSERT INTO ${t.messages} (session_id, message_data) VALUES ${qValues(chunk.length / 2)}`, chunk))
}

const openMysql = async (db: Databases, batched: boolean): Promise<Probe> => {
  const { conn: pool, store: floor, t } = await openMysqlFloor(db, batched ? "batched" : "floor")
  const seed = mysqlSeed(pool, t)
  if (!batched) return { store: floor, seed }
  const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ")
  const pop: RawBatchKind<string, unknown> = {
    single: (id) => floor.pop!(id),
    combined: async (ids) => {
      const sorted = distinctOrThrow(ids)
      // MariaDB 10.5+: one statement, one commit; the derived table lets the DELETE read its own table.
      const [rows] = await pool.query(
        `DELETE FROM ${t.messages} WHERE id IN (SELECT id FROM (SELECT MAX(id) AS id FROM ${t.messages} ` +
          `WHERE session_id IN (${marks(sorted.length)}) GROUP BY session_id) AS newest) RETURNING session_id, message_data`,
        sorted
      )
      const bySession = new Map((rows as Array<Record<string, unknown>>).map((row) => [String(row["session_id"]), JSON.parse(String(row["message_data"]))]))
      return ids.map((id) => bySession.get(id))
    }
  }
  const clear: RawBatchKind<string, void> = {
    single: (id) => floor.clear!(id),
    combined: async (ids) => {
      const sorted = distinctOrThrow(ids)
      await pool.query(`DELETE FROM ${t.sessions} WHERE session_id IN (${marks(sorted.length)})`, sorted)
      return ids.map(() => undefined)
    }
  }
  return { ...withBatcher(floor, pop, clear), seed }
}

const sqliteSeed = (sqlite: SqliteDatabaseLike, t: { sessions: string; messages: string }) => async (ids: ReadonlyArray<string>, items: number) => {
  const session = sqlite.prepare(`INSERT INTO ${t.sessions} (session_id) VALUES (?)`)
  const message = sqlite.prepare(`INSERT INTO ${t.messages} (session_id, message_data) VALUES (?, ?)`)
  const rows = seedRows(ids, items)
  sqlite.transaction(() => {
    for (const id of ids) session.run(id)
    for (let i = 0; i < rows.length; i += 2) message.run(rows[i], rows[i + 1])
  })()
}

const openSqlite = async (db: Databases, batched: boolean): Promise<Probe> => {
  const { conn: sqlite, store: floor, t } = await openSqliteFloor(db, batched ? "batched" : "floor")
  const seed = sqliteSeed(sqlite, t)
  if (!batched) return { store: floor, seed }
  const popOne = sqlite.prepare(
    `DELETE FROM ${t.messages} WHERE id = (SELECT id FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 1) RETURNING message_data`
  )
  const clearMessages = sqlite.prepare(`DELETE FROM ${t.messages} WHERE session_id = ?`)
  const clearSession = sqlite.prepare(`DELETE FROM ${t.sessions} WHERE session_id = ?`)
  const popAll = sqlite.transaction((ids: ReadonlyArray<string>) =>
    ids.map((id) => {
      const row = popOne.all(id)[0]
      return row === undefined ? undefined : JSON.parse(String(row["message_data"]))
    })
  )
  const clearAll = sqlite.transaction((ids: ReadonlyArray<string>) => {
    for (const id of ids) {
      clearMessages.run(id)
      clearSession.run(id)
    }
  })
  const pop: RawBatchKind<string, unknown> = { single: (id) => floor.pop!(id), combined: async (ids) => popAll(distinctOrThrow(ids)) }
  const clear: RawBatchKind<string, void> = {
    single: (id) => floor.clear!(id),
    combined: async (ids) => {
      clearAll(distinctOrThrow(ids))
      return ids.map(() => undefined)
    }
  }
  return { ...withBatcher(floor, pop, clear, true), seed }
}

const OPENERS: Record<Dialect, (db: Databases, batched: boolean) => Promise<Probe>> = { pg: openPg, mysql: openMysql, sqlite: openSqlite }

interface Row {
  readonly dialect: Dialect
  readonly op: Op
  readonly target: "floor" | "batched"
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly cpuUsPerOp: number
  readonly callsPerStatement?: number | undefined
  readonly errors: number
}

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)

const main = async () => {
  const rounds = Number(arg("rounds") ?? 3)
  const ops = Number(arg("ops") ?? 1_500)
  const concurrency = Number(arg("concurrency") ?? 16)
  const dialects = (arg("dialects")?.split(",") ?? ["pg", "mysql", "sqlite"]) as Array<Dialect>
  const outDir = fileURLToPath(new URL("../pop-clear/", import.meta.url))
  mkdirSync(outDir, { recursive: true })
  const db: Databases = {
    pgUrl: process.env["BENCH_PG_URL"] ?? DEFAULT_PG_URL,
    mysqlUrl: process.env["BENCH_MYSQL_URL"] ?? DEFAULT_MYSQL_URL,
    sqliteDir: freshDir(join(outDir, ".tmp")),
    tablePrefix: `popclear_${process.pid}_`
  }
  const loadAtStart = loadavg()[0]!
  const started = Date.now()
  // A session per pop slot of the window (pops) and one per clear call: every call finds work.
  const popSessions = 64
  const popItems = Math.ceil(((rounds + 1) * ops) / popSessions) + 8
  const clearCalls = (rounds + 1) * ops
  const rows: Array<Row> = []
  for (const dialect of dialects) {
    const probes = { floor: await OPENERS[dialect](db, false), batched: await OPENERS[dialect](db, true) }
    try {
      const targets = ["floor", "batched"] as const
      const sid = (target: string, op: Op, i: number) => `pc-${target}-${op}-${i}`
      for (const target of targets) {
        const probe = probes[target]
        await probe.seed(Array.from({ length: popSessions }, (_, i) => sid(target, "pop", i)), popItems)
        await probe.seed(Array.from({ length: clearCalls }, (_, i) => sid(target, "clear", i)), 4)
      }
      const cells = new Map<string, { latencies: Array<number>; elapsedMs: number; cpu: number; errors: number; calls: number; statements: number }>()
      const next = { floor: { pop: 0, clear: 0 }, batched: { pop: 0, clear: 0 } }
      for (let round = 0; round < rounds; round++) {
        for (const op of ["pop", "clear"] as const) {
          const order: ReadonlyArray<"floor" | "batched"> = round % 2 === 0 ? targets : [...targets].reverse()
          for (const target of order) {
            const probe = probes[target]
            const key = `${target}|${op}`
            const cell = cells.get(key) ?? { latencies: [], elapsedMs: 0, cpu: 0, errors: 0, calls: 0, statements: 0 }
            cells.set(key, cell)
            const base = next[target][op]
            const warmup = round === 0 ? 2 * concurrency : 0
            const before = probe.counts?.()
            const stats = await measure({
              concurrency,
              maxOps: ops,
              timeBudgetMs: 120_000,
              warmupOps: warmup,
              op: (i) => op === "pop"
                ? probe.store.pop!(sid(target, "pop", (base + i) % popSessions))
                : probe.store.clear!(sid(target, "clear", base + i)),
              latencies: cell.latencies
            })
            next[target][op] += warmup + ops
            cell.elapsedMs += stats.elapsedMs
            cell.cpu += stats.cpuUsPerOp * stats.ops
            cell.errors += stats.errors
            const after = probe.counts?.()
            if (before !== undefined && after !== undefined) {
              cell.calls += after.calls - before.calls
              cell.statements += after.statements - before.statements
            }
            console.log(`${dialect.padEnd(6)} ${op.padEnd(5)} ${target.padEnd(8)} round ${round + 1}: ${Math.round(stats.opsPerSec)} ops/s`)
          }
        }
      }
      for (const op of ["pop", "clear"] as const) {
        for (const target of targets) {
          const cell = cells.get(`${target}|${op}`)!
          const stats = summarize(cell.latencies, cell.elapsedMs, cell.errors, cell.cpu)
          rows.push({
            dialect,
            op,
            target,
            opsPerSecond: stats.opsPerSec,
            p50Ms: stats.p50Ms,
            p99Ms: stats.p99Ms,
            cpuUsPerOp: stats.cpuUsPerOp,
            callsPerStatement: cell.statements > 0 ? cell.calls / cell.statements : undefined,
            errors: stats.errors
          })
        }
      }
    } finally {
      await probes.floor.store.close()
      await probes.batched.store.close()
    }
  }
  const meta = {
    date: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    rounds,
    opsPerCellPerRound: ops,
    concurrency,
    slots: SLOTS,
    servers: { pg: redactUrl(db.pgUrl), mysql: redactUrl(db.mysqlUrl) }
  }
  writeFileSync(join(outDir, "results.json"), JSON.stringify({ meta, rows }, null, 2) + "\n")
  writeFileSync(join(outDir, "results.md"), renderMarkdown(meta, rows))
  console.log(renderMarkdown(meta, rows))
}

const NAMES: Record<Dialect, string> = { pg: "PostgreSQL", mysql: "MariaDB", sqlite: "SQLite (file, WAL)" }

const renderMarkdown = (meta: { date: string; durationSeconds: number; loadAverage: { start: number; end: number }; rounds: number; opsPerCellPerRound: number; concurrency: number }, rows: ReadonlyArray<Row>): string => {
  const lines = [
    "# Does batching pay for pop and clear? (raw drivers)",
    "",
    `Run ${meta.date}, ${meta.durationSeconds} s, load ${meta.loadAverage.start.toFixed(2)} → ${meta.loadAverage.end.toFixed(2)}. ` +
      `${meta.concurrency} callers on distinct sessions, ${meta.rounds} rounds of ${meta.opsPerCellPerRound} calls per cell, ` +
      "the two stores alternating. Produced by `npx tsx bench/src/pop-clear.ts`; see the file's header for the statements.",
    "",
    "| database | operation | floor ops/s | batched ops/s | batched / floor | calls per statement | floor p50 / p99 ms | batched p50 / p99 ms | client CPU µs/op floor / batched |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const dialect of ["pg", "mysql", "sqlite"] as const) {
    for (const op of ["pop", "clear"] as const) {
      const floor = rows.find((r) => r.dialect === dialect && r.op === op && r.target === "floor")
      const batched = rows.find((r) => r.dialect === dialect && r.op === op && r.target === "batched")
      if (floor === undefined || batched === undefined) continue
      lines.push(`| ${NAMES[dialect]} | ${op} | ${Math.round(floor.opsPerSecond).toLocaleString("en-US")} | ${
        Math.round(batched.opsPerSecond).toLocaleString("en-US")
      } | ${(batched.opsPerSecond / floor.opsPerSecond).toFixed(2)}× | ${batched.callsPerStatement?.toFixed(1) ?? "–"} | ${
        floor.p50Ms.toFixed(2)
      } / ${floor.p99Ms.toFixed(2)} | ${batched.p50Ms.toFixed(2)} / ${batched.p99Ms.toFixed(2)} | ${Math.round(floor.cpuUsPerOp)} / ${
        Math.round(batched.cpuUsPerOp)
      } |`)
    }
  }
  const failures = rows.filter((r) => r.errors > 0)
  if (failures.length > 0) {
    lines.push("", `Failed calls: ${failures.map((r) => `${r.dialect} ${r.op} ${r.target}: ${r.errors}`).join(", ")}.`)
  }
  return lines.join("\n") + "\n"
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
