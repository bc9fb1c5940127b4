/**
 * Interleaved A/B of natural batching: the store with `batching: true` (A), the store with
 * `batching: false` (B) and the raw driver with one statement (pg) or one transaction (MariaDB,
 * SQLite) per call (floor), in rounds A, B, floor, A, B, floor, ... so that the machine's load
 * drifts equally over all three. Prints ops/s, p50 and client CPU per operation.
 *
 *   npx tsx scripts/measure-batching.ts [pg|mysql|sqlite ...]
 *
 * Env: TEST_POSTGRES_URL, TEST_MYSQL_URL, TRIAL_SECONDS (per trial, default 1.5), ROUNDS (default 2),
 * CALLERS (default "1,16,64"), MAX_BATCH (maxBatchSize of A).
 */
import { MysqlClient } from "@effect/sql-mysql2"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { SqlClient } from "@effect/sql"
import Sqlite from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, Metric, Redacted } from "effect"
import * as Mysql from "mysql2/promise"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import Pg from "pg"
import { SessionMetrics, type SessionStore, SqlSessionStore } from "../src/index.js"

const seconds = Number(process.env.TRIAL_SECONDS ?? 1.5)
const rounds = Number(process.env.ROUNDS ?? 2)
const callerCounts = (process.env.CALLERS ?? "1,16,64").split(",").map(Number)
const maxBatchSize = process.env.MAX_BATCH === undefined ? undefined : Number(process.env.MAX_BATCH)
const pgUrl = process.env.TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test"
const mysqlUrl = process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test"
const POOL = 10
const READ_SESSIONS = 50
const HISTORY = 200

interface Trial {
  readonly ops: number
  readonly seconds: number
  readonly p50: number
  readonly cpuPerOpUs: number
}

type Op = (caller: number, n: number) => Promise<void>

/** Runs `callers` concurrent loops of `op` for the trial's duration. */
const trial = async (callers: number, op: Op): Promise<Trial> => {
  const latencies: Array<number> = []
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(Array.from({ length: callers }, async (_, caller) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const t0 = performance.now()
      await op(caller, n)
      latencies.push(performance.now() - t0)
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  latencies.sort((a, b) => a - b)
  return {
    ops: latencies.length,
    seconds: elapsed,
    p50: latencies[Math.floor(latencies.length / 2)] ?? 0,
    cpuPerOpUs: (used.user + used.system) / latencies.length
  }
}

const items = (n: number) => [{ role: "user", content: `message ${n} of an ordinary length, as agents write them` }, {
  role: "assistant",
  content: `reply ${n} of an ordinary length, as agents write them`
}]

interface Variant {
  readonly name: string
  readonly append: Op
  readonly latest: Op
}

const storeVariant = (
  name: string,
  runtime: ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown>,
  store: SessionStore["Type"],
  prefix: string
): Variant => ({
  name,
  append: (caller, n) => runtime.runPromise(store.addItems(`${prefix}-${name}-${caller}`, items(n))),
  latest: (caller, n) =>
    runtime.runPromise(Effect.asVoid(store.getItems(`${prefix}-read-${(caller * 31 + n) % READ_SESSIONS}`, 20)))
})

const table = {
  sessions: "batchab_sessions",
  messages: "batchab_messages",
  operations: "batchab_operations"
}

const floorPg = async (prefix: string): Promise<Variant & { close: () => Promise<void> }> => {
  const pool = new Pg.Pool({ connectionString: pgUrl, max: POOL })
  return {
    name: "floor",
    append: async (caller, n) => {
      await pool.query(
        `WITH touched AS (INSERT INTO ${table.sessions} (session_id) VALUES ($1)
          ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP RETURNING session_id)
        INSERT INTO ${table.messages} (session_id, message_data, created_at)
        SELECT touched.session_id, batch.message_data, clock_timestamp()
        FROM touched, unnest($2::text[]) WITH ORDINALITY AS batch(message_data, position) ORDER BY batch.position`,
        [`${prefix}-floor-${caller}`, items(n).map((item) => JSON.stringify(item))]
      )
    },
    latest: async (caller, n) => {
      const id = `${prefix}-read-${(caller * 31 + n) % READ_SESSIONS}`
      await pool.query(
        `SELECT id, message_data FROM ${table.messages} WHERE session_id >= $1 AND session_id <= $1
          ORDER BY session_id DESC, id DESC LIMIT 20`,
        [id]
      )
    },
    close: () => pool.end()
  }
}

const floorMysql = async (prefix: string): Promise<Variant & { close: () => Promise<void> }> => {
  const pool = Mysql.createPool({ uri: mysqlUrl, connectionLimit: POOL })
  return {
    name: "floor",
    append: async (caller, n) => {
      const connection = await pool.getConnection()
      try {
        const id = `${prefix}-floor-${caller}`
        await connection.query("BEGIN")
        await connection.execute(
          `INSERT INTO ${table.sessions} (session_id) VALUES (?) ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)`,
          [id]
        )
        const rows = items(n).map((item) => JSON.stringify(item)) as [string, string]
        await connection.execute(`INSERT INTO ${table.messages} (session_id, message_data) VALUES (?, ?), (?, ?)`, [
          id,
          rows[0],
          id,
          rows[1]
        ])
        await connection.query("COMMIT")
      } finally {
        connection.release()
      }
    },
    latest: async (caller, n) => {
      await pool.execute(
        `SELECT id, message_data FROM ${table.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 20`,
        [`${prefix}-read-${(caller * 31 + n) % READ_SESSIONS}`]
      )
    },
    close: () => pool.end()
  }
}

const floorSqlite = async (prefix: string, file: string): Promise<Variant & { close: () => Promise<void> }> => {
  const db = new Sqlite(file)
  db.pragma("journal_mode = WAL")
  const touch = db.prepare(
    `INSERT INTO ${table.sessions} (session_id) VALUES (?) ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`
  )
  const insert = db.prepare(`INSERT INTO ${table.messages} (session_id, message_data) VALUES (?, ?), (?, ?)`)
  const append = db.transaction((id: string, rows: ReadonlyArray<string>) => {
    touch.run(id)
    insert.run(id, rows[0], id, rows[1])
  })
  const latest = db.prepare(`SELECT id, message_data FROM ${table.messages} WHERE session_id = ? ORDER BY id DESC LIMIT 20`)
  return {
    name: "floor",
    append: async (caller, n) => {
      append(`${prefix}-floor-${caller}`, items(n).map((item) => JSON.stringify(item)))
    },
    latest: async (caller, n) => {
      latest.all(`${prefix}-read-${(caller * 31 + n) % READ_SESSIONS}`)
    },
    close: async () => {
      db.close()
    }
  }
}

const clientLayer = (dialect: string, file: string): Layer.Layer<SqlClient.SqlClient, unknown> =>
  dialect === "pg"
    ? PgClient.layer({ url: Redacted.make(pgUrl), maxConnections: POOL })
    : dialect === "mysql"
    ? MysqlClient.layer({ url: Redacted.make(mysqlUrl), maxConnections: POOL })
    : SqliteClient.layer({ filename: file })

const measureDialect = async (dialect: string) => {
  const file = Path.join(Os.tmpdir(), `batchab-${Date.now()}.db`)
  const runtime = ManagedRuntime.make(clientLayer(dialect, file))
  const options = {
    createTables: true,
    sessionsTable: table.sessions,
    messagesTable: table.messages,
    operationsTable: table.operations
  }
  const slotChoices = (process.env.SLOTS ?? "").split(",").filter((x) => x !== "").map(Number)
  const [batched, unbatched] = await runtime.runPromise(
    Effect.all([
      SqlSessionStore.make({ ...options, maxBatchSize }),
      SqlSessionStore.make({ ...options, batching: false })
    ])
  )
  const slotStores = await runtime.runPromise(
    Effect.forEach(slotChoices, (batchSlots) => SqlSessionStore.make({ ...options, maxBatchSize, batchConcurrency: batchSlots }))
  )
  if (dialect === "sqlite") await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`PRAGMA journal_mode = WAL`))
  const prefix = `ab${Date.now().toString(36)}`
  for (let s = 0; s < READ_SESSIONS; s++) {
    const id = `${prefix}-read-${s}`
    for (let i = 0; i < HISTORY; i += 50) {
      await runtime.runPromise(unbatched.addItems(id, Array.from({ length: 50 }, (_, k) => ({ role: "user", content: `h${i + k}` }))))
    }
  }
  const floor = dialect === "pg"
    ? await floorPg(prefix)
    : dialect === "mysql"
    ? await floorMysql(prefix)
    : await floorSqlite(prefix, file)
  const only = process.env.VARIANTS?.split(",")
  const variants = [
    storeVariant("batched", runtime, batched, prefix),
    ...slotStores.map((store, i) => storeVariant(`slots${slotChoices[i]}`, runtime, store, prefix)),
    storeVariant("unbatched", runtime, unbatched, prefix),
    floor
  ].filter((variant) => only === undefined || only.includes(variant.name))
  const results: Record<string, Array<Trial>> = {}
  const meanBatch: Record<string, Array<number>> = {}
  for (const workload of ["append", "latest"] as const) {
    for (const callers of callerCounts) {
      for (let round = 0; round < rounds; round++) {
        for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
          const before = await runtime.runPromise(Metric.value(SessionMetrics.batchSize.pipe(
            Metric.tagged("operation", workload === "append" ? "addItems" : "getItems")
          )))
          const result = await trial(callers, variant[workload])
          const after = await runtime.runPromise(Metric.value(SessionMetrics.batchSize.pipe(
            Metric.tagged("operation", workload === "append" ? "addItems" : "getItems")
          )))
          if (variant.name === "batched" && after.count > before.count) {
            ;(meanBatch[`${workload} ${callers}`] ??= []).push((after.sum - before.sum) / (after.count - before.count))
          }
          ;(results[`${workload} ${callers} ${variant.name}`] ??= []).push(result)
        }
      }
      const line = variants.map((variant) => {
        const trials = results[`${workload} ${callers} ${variant.name}`]!
        const rates = trials.map((t) => Math.round(t.ops / t.seconds))
        const p50 = trials.map((t) => t.p50.toFixed(2))
        const cpu = trials.map((t) => Math.round(t.cpuPerOpUs))
        return `${variant.name}: ${rates.join(" / ")} ops/s, p50 ${p50.join(" / ")} ms, cpu ${cpu.join(" / ")} µs/op`
      })
      const batches = meanBatch[`${workload} ${callers}`]
      if (batches) line.push(`batched mean calls per statement ${batches.map((b) => b.toFixed(1)).join(" / ")}`)
      const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "-")
      const mean = (name: string) => {
        const trials = results[`${workload} ${callers} ${name}`]
        if (trials === undefined) return NaN
        return trials.reduce((sum, t) => sum + t.ops / t.seconds, 0) / trials.length
      }
      console.log(
        `${dialect} ${workload} ${callers} callers | ${line.join(" | ")} | batched/floor ${
          ratio(mean("batched"), mean("floor"))
        }, batched/unbatched ${ratio(mean("batched"), mean("unbatched"))} | load ${Os.loadavg()[0]!.toFixed(2)}`
      )
    }
  }
  await floor.close()
  await runtime.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.forEach([table.operations, table.messages, table.sessions], (name) => sql`DROP TABLE ${sql(name)}`)
    )
  )
  await runtime.dispose()
  if (dialect === "sqlite") for (const suffix of ["", "-wal", "-shm"]) Fs.rmSync(file + suffix, { force: true })
}

const dialects = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["pg", "mysql", "sqlite"]
for (const dialect of dialects) await measureDialect(dialect)
