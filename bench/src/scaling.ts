/**
 * Scaling: `getItems(20)` latency for sessions of growing length inside one table
 * that holds `totalRows` rows, bulk-loaded with raw SQL (rows of all sessions
 * interleaved, as in a live table); and append throughput as the number of
 * sessions grows.
 */
import { join } from "node:path"
import { loadMysql, loadPg, loadSqlite } from "./drivers.js"
import { makeItem } from "./items.js"
import { forEachConcurrent, measure, summarize } from "./measure.js"
import type { Mode } from "./modes.js"
import type { Log } from "./scenario.js"
import { formatStats } from "./scenario.js"
import { createTableStatements, tableNames, type TableNames } from "./targets/schema.js"
import type { Databases, ScalingPoint, SessionsPoint, Store, TargetSpec } from "./types.js"

type SqlDialect = "pg" | "mysql" | "sqlite"

const FILLER_SESSION_ROWS = 1_000
const PAYLOAD = JSON.stringify(makeItem(1))

export const scaleSessionId = (size: number) => `scale-${size}`

interface LoadPlan {
  readonly sizes: ReadonlyArray<number>
  readonly fillerRows: number
  readonly fillerSessions: number
}

const planFor = (mode: Mode): LoadPlan => {
  const used = mode.scaling.sizes.reduce((a, b) => a + b, 0)
  const fillerRows = Math.max(0, mode.scaling.totalRows - used)
  return { sizes: mode.scaling.sizes, fillerRows, fillerSessions: Math.max(1, Math.ceil(fillerRows / FILLER_SESSION_ROWS)) }
}

/** Session id of every row in insertion order: each session's rows spread evenly over the table. */
const interleavedOrder = (plan: LoadPlan): Array<string> => {
  const keys: Array<[number, string]> = []
  for (const n of plan.sizes) for (let g = 1; g <= n; g++) keys.push([g / n, scaleSessionId(n)])
  for (let g = 1; g <= plan.fillerRows; g++) keys.push([g / plan.fillerRows, `filler-${g % plan.fillerSessions}`])
  keys.sort((a, b) => a[0] - b[0])
  return keys.map(([, sid]) => sid)
}

const allSessionIds = (plan: LoadPlan) => [
  ...plan.sizes.map(scaleSessionId),
  ...Array.from({ length: plan.fillerSessions }, (_, i) => `filler-${i}`)
]

const loadPgRows = async (db: Databases, t: TableNames, plan: LoadPlan) => {
  const pool = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
  try {
    await pool.query(`INSERT INTO ${t.sessions} (session_id) SELECT unnest($1::text[])`, [allSessionIds(plan)])
    await pool.query(
      `INSERT INTO ${t.messages} (session_id, message_data)
       SELECT session_id, $4 FROM (
         SELECT 'scale-' || n AS session_id, g::float8 / n AS k FROM unnest($1::int[]) AS n, generate_series(1, n) AS g
         UNION ALL
         SELECT 'filler-' || (g % $2::int), g::float8 / $3::int FROM generate_series(1, $3::int) AS g
       ) AS t ORDER BY k`,
      [plan.sizes, plan.fillerSessions, plan.fillerRows, PAYLOAD]
    )
    await pool.query(`ANALYZE ${t.sessions}`)
    await pool.query(`ANALYZE ${t.messages}`)
  } finally {
    await pool.end()
  }
}

const loadMysqlRows = async (db: Databases, t: TableNames, plan: LoadPlan) => {
  const pool = loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: 1 })
  try {
    const ids = allSessionIds(plan)
    for (let i = 0; i < ids.length; i += 1_000) {
      const chunk = ids.slice(i, i + 1_000)
      await pool.query(`INSERT INTO ${t.sessions} (session_id) VALUES ${chunk.map(() => "(?)").join(", ")}`, chunk)
    }
    const [version] = await pool.query("SELECT VERSION() AS v")
    if (String((version as Array<{ v: string }>)[0]?.v).toLowerCase().includes("mariadb")) {
      // MariaDB's SEQUENCE engine generates the rows inside the server: one INSERT ... SELECT.
      const parts = plan.sizes.map((n) =>
        `SELECT '${scaleSessionId(n)}' AS session_id, CAST(seq AS DOUBLE) / ${n} AS k FROM seq_1_to_${n}`
      )
      if (plan.fillerRows > 0) {
        parts.push(
          `SELECT CONCAT('filler-', seq % ${plan.fillerSessions}), CAST(seq AS DOUBLE) / ${plan.fillerRows} FROM seq_1_to_${plan.fillerRows}`
        )
      }
      await pool.query(
        `INSERT INTO ${t.messages} (session_id, message_data) SELECT session_id, ? FROM (${parts.join(" UNION ALL ")}) AS t ORDER BY k`,
        [PAYLOAD]
      )
    } else {
      const order = interleavedOrder(plan)
      for (let i = 0; i < order.length; i += 2_000) {
        const chunk = order.slice(i, i + 2_000)
        await pool.query(
          `INSERT INTO ${t.messages} (session_id, message_data) VALUES ${chunk.map(() => "(?, ?)").join(", ")}`,
          chunk.flatMap((sid) => [sid, PAYLOAD])
        )
      }
    }
    await pool.query(`ANALYZE TABLE ${t.sessions}, ${t.messages}`)
  } finally {
    await pool.end()
  }
}

const loadSqliteRows = (file: string, t: TableNames, plan: LoadPlan) => {
  const sqlite = new (loadSqlite())(file)
  try {
    const insertSession = sqlite.prepare(`INSERT INTO ${t.sessions} (session_id) VALUES (?)`)
    const insertMessage = sqlite.prepare(`INSERT INTO ${t.messages} (session_id, message_data) VALUES (?, ?)`)
    sqlite.transaction(() => {
      for (const sid of allSessionIds(plan)) insertSession.run(sid)
      for (const sid of interleavedOrder(plan)) insertMessage.run(sid, PAYLOAD)
    })()
    sqlite.exec("ANALYZE")
  } finally {
    sqlite.close()
  }
}

const dropShared = async (db: Databases, dialect: SqlDialect) => {
  const t = tableNames(db.tablePrefix)
  const statements = [
    `DROP TABLE IF EXISTS ${db.tablePrefix}operations`,
    `DROP TABLE IF EXISTS ${t.messages}`,
    `DROP TABLE IF EXISTS ${t.sessions}`
  ]
  if (dialect === "pg") {
    const pool = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
    for (const s of statements) await pool.query(s)
    await pool.end()
  } else if (dialect === "mysql") {
    const pool = loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: 1 })
    for (const s of statements) await pool.query(s)
    await pool.end()
  } else {
    const sqlite = new (loadSqlite())(join(db.sqliteDir, "shared.db"))
    for (const s of statements) sqlite.exec(s)
    sqlite.close()
  }
}

const createSharedWithFloorDdl = async (db: Databases, dialect: SqlDialect) => {
  const ddl = createTableStatements(dialect, tableNames(db.tablePrefix), "id")
  if (dialect === "pg") {
    const pool = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
    for (const s of ddl) await pool.query(s)
    await pool.end()
  } else if (dialect === "mysql") {
    const pool = loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: 1 })
    for (const s of ddl) await pool.query(s)
    await pool.end()
  } else {
    const sqlite = new (loadSqlite())(join(db.sqliteDir, "shared.db"))
    for (const s of ddl) sqlite.exec(s)
    sqlite.close()
  }
}

/**
 * `targets` are the dialect's SQL targets able to share tables (ours and the floor).
 * Our Effect store, when it opens, creates the tables with its own DDL.
 */
export const runScaling = async (
  dialect: SqlDialect,
  db: Databases,
  mode: Mode,
  targets: ReadonlyArray<TargetSpec>,
  log: Log
): Promise<Array<ScalingPoint>> => {
  const shared: Databases = { ...db, shared: true }
  const plan = planFor(mode)
  const points: Array<ScalingPoint> = []
  const stores: Array<[TargetSpec, Store]> = []
  await dropShared(shared, dialect)
  try {
    const open = async (spec: TargetSpec) => {
      try {
        stores.push([spec, await spec.open(shared)])
      } catch (error) {
        log(`  ${spec.label}: not measured (${String(error instanceof Error ? error.message : error).slice(0, 160)})`)
      }
    }
    // Our store creates the tables with its own DDL; the floor prepares statements against them.
    for (const spec of targets.filter((s) => s.category === "ours")) await open(spec)
    if (stores.length === 0) await createSharedWithFloorDdl(shared, dialect)
    for (const spec of targets.filter((s) => s.category !== "ours")) await open(spec)
    stores.sort(([a], [b]) => targets.indexOf(a) - targets.indexOf(b))
    const started = Date.now()
    const t = tableNames(shared.tablePrefix)
    if (dialect === "pg") await loadPgRows(shared, t, plan)
    else if (dialect === "mysql") await loadMysqlRows(shared, t, plan)
    else loadSqliteRows(join(shared.sqliteDir, "shared.db"), t, plan)
    log(`  loaded ${mode.scaling.totalRows.toLocaleString("en-US")} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    // Rounds over every (size, store) pair, so a burst of load elsewhere falls on all points alike
    // instead of on whichever point was being measured at the time.
    for (const size of plan.sizes) {
      for (const [spec, store] of stores) {
        const check = await store.latest(scaleSessionId(size), 20)
        if (check.length !== 20) throw new Error(`${spec.id}: getItems(20) on ${scaleSessionId(size)} returned ${check.length} items`)
      }
    }
    const rounds = Math.min(10, mode.scaling.opsPerPoint)
    const perRound = Math.ceil(mode.scaling.opsPerPoint / rounds)
    const latencies = new Map<string, Array<number>>()
    const now = () => Number(process.hrtime.bigint()) / 1e6
    for (let round = -1; round < rounds; round++) {
      for (const size of plan.sizes) {
        for (const [spec, store] of stores) {
          const key = `${spec.id}|${size}`
          const list = latencies.get(key) ?? []
          latencies.set(key, list)
          // Round -1 warms every pair up and is not recorded.
          for (let i = 0; i < (round < 0 ? Math.min(20, perRound) : perRound); i++) {
            const start = now()
            await store.latest(scaleSessionId(size), 20)
            if (round >= 0) list.push(now() - start)
          }
        }
      }
    }
    for (const size of plan.sizes) {
      for (const [spec] of stores) {
        const list = latencies.get(`${spec.id}|${size}`) ?? []
        const stats = summarize(list, list.reduce((a, b) => a + b, 0))
        points.push({ target: spec.id, dialect, historyLength: size, stats })
        log(`  ${spec.name.padEnd(13)} ${String(size).padStart(7)} items  p50 ${stats.p50Ms.toFixed(3)} ms  p99 ${stats.p99Ms.toFixed(3)} ms`)
      }
    }
  } finally {
    for (const [, store] of stores) await store.close().catch(() => undefined)
    await dropShared(shared, dialect)
  }
  return points
}

const measureOrLog = async (
  log: Log,
  what: string,
  options: Parameters<typeof measure>[0],
  onFailure: (reason: string) => void
) => {
  try {
    return await measure(options)
  } catch (error) {
    const reason = `failed: ${String(error instanceof Error ? error.message : error).slice(0, 200)}`
    log(`  ${what}: ${reason}`)
    onFailure(reason)
    return undefined
  }
}

/** Append throughput at fixed concurrency over a growing number of distinct sessions. */
export const runGrowth = async (
  spec: TargetSpec,
  store: Store,
  mode: Mode,
  runId: string,
  log: Log,
  onFailure: (what: string, reason: string) => void = () => undefined
): Promise<Array<SessionsPoint>> => {
  const points: Array<SessionsPoint> = []
  const two = [makeItem(7), makeItem(8)]
  for (const sessions of mode.growth.sessions) {
    const sid = (i: number) => `${runId}-${spec.name}-grow${sessions}-${i}`
    await forEachConcurrent(sessions, 8, (i) => store.append(sid(i), two))
    const stats = await measureOrLog(log, `append over ${sessions} sessions`, {
      concurrency: mode.growth.concurrency,
      maxOps: mode.maxOps,
      timeBudgetMs: mode.growth.timeBudgetMs,
      warmupOps: Math.min(mode.warmupOps, 20),
      op: (i) => store.append(sid(i % sessions), two),
      hangAfterMs: mode.hangAfterMs
    }, (reason) => onFailure(`append over ${sessions} sessions at concurrency ${mode.growth.concurrency}`, reason))
    if (stats === undefined) continue
    points.push({ target: spec.id, dialect: spec.dialect, sessions, concurrency: mode.growth.concurrency, stats })
    log(`  append over ${String(sessions).padStart(5)} sessions c${mode.growth.concurrency}: ${formatStats(stats)}`)
  }
  return points
}
