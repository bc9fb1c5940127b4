/**
 * The batched floor: the floor's statements, plus natural batching written directly on the raw
 * driver (see natural-batcher.ts). Concurrent appends that queue go out as one statement on
 * PostgreSQL (a CTE over `unnest`: the distinct sessions upserted in sorted order, then every row
 * inserted in call order) and as one short transaction on MySQL/MariaDB and SQLite; queued
 * newest-20 reads go out as one LATERAL statement on PostgreSQL and one `UNION ALL` elsewhere.
 * This is the limit of the design: our store divided by it shows what the library costs on top.
 */
import { POOL_SIZE } from "../drivers.js"
import type { Databases, Item, Store, TargetSpec } from "../types.js"
import { inMysqlTransaction, openMysqlFloor, openPgFloor, openSqliteFloor } from "./floor.js"
import { type BatchCounts, makeRawBatcher, type RawBatchKind } from "./natural-batcher.js"
import { interleave, qValues } from "./schema.js"

/** The most calls one combined statement carries, as the library's default `maxBatchSize`. */
export const BATCH_LIMIT = 64

/** The library's default `batchConcurrency` when this version does not export it. */
const FALLBACK_BATCH_CONCURRENCY = 2

/**
 * How many combined statements may be in flight at once: "design" follows the library's default
 * `batchConcurrency` (read from the library, so the floor tracks the design it bounds), "pool"
 * gives every pool connection a slot. Few slots make big batches; one per connection makes
 * 16 callers on a pool of 10 mostly run alone.
 */
export type SlotRule = "design" | "pool"

const slotsFor = async (rule: SlotRule): Promise<number> => {
  if (rule === "pool") return POOL_SIZE
  const lib = (await import("../../../src/index.js")) as { SqlSessionStore: Record<string, unknown> }
  const exported = lib.SqlSessionStore["DEFAULT_BATCH_CONCURRENCY"]
  return Math.min(POOL_SIZE, typeof exported === "number" ? exported : FALLBACK_BATCH_CONCURRENCY)
}

/** Table prefix and SQLite file of the batched floor ("batched-floor" is not an identifier). */
const TABLES = "bfloor"

interface Append {
  readonly sessionId: string
  readonly items: ReadonlyArray<Item>
}
interface Newest {
  readonly sessionId: string
  readonly limit: number
}

/** A store that also says how many statements carried its calls (mean batch size = calls / statements). */
export interface BatchedStore extends Store {
  readonly batchCounts: () => BatchCounts
}

export const isBatchedStore = (store: Store): store is BatchedStore =>
  typeof (store as Partial<BatchedStore>).batchCounts === "function"

const encode = (item: Item) => JSON.stringify(item)

/** `session_id, message_data` pairs of every request's rows, in call order. */
const rowsOf = (requests: ReadonlyArray<Append>) => requests.flatMap((r) => interleave(r.sessionId, r.items.map(encode)))

const sortedSessions = (requests: ReadonlyArray<Append>) => [...new Set(requests.map((r) => r.sessionId))].sort()

/** Rows tagged with their request's position, back per request, oldest first (ids may be bigint strings). */
const regroup = (count: number, rows: ReadonlyArray<Record<string, unknown>>): Array<Array<unknown>> => {
  const groups: Array<Array<{ id: bigint; data: unknown }>> = Array.from({ length: count }, () => [])
  for (const row of rows) {
    groups[Number(row["position"])]!.push({ id: BigInt(row["id"] as string | number), data: JSON.parse(String(row["message_data"])) })
  }
  return groups.map((group) => group.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((row) => row.data))
}

const withBatching = (
  floor: Store,
  batcher: ReturnType<typeof makeRawBatcher>,
  append: RawBatchKind<Append, void>,
  newest: RawBatchKind<Newest, ReadonlyArray<unknown>>
): BatchedStore => ({
  ...floor,
  append: (sessionId, items) => batcher.run(append, { sessionId, items }),
  latest: (sessionId, limit) => batcher.run(newest, { sessionId, limit }),
  batchCounts: batcher.counts
})

const openPg = (rule: SlotRule) => async (db: Databases): Promise<Store> => {
  const { store: floor, t, conn: pool } = await openPgFloor(db, `${TABLES}_${rule}`)
  const append: RawBatchKind<Append, void> = {
    single: (r) => floor.append(r.sessionId, r.items),
    combined: async (requests) => {
      await pool.query(
        `WITH batch AS (SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS b(session_id, message_data, position)),
         touched AS (INSERT INTO ${t.sessions} (session_id) SELECT DISTINCT session_id FROM batch ORDER BY session_id
           ON CONFLICT (session_id) DO UPDATE SET updated_at = now() RETURNING session_id)
         INSERT INTO ${t.messages} (session_id, message_data)
         SELECT batch.session_id, batch.message_data FROM batch JOIN touched ON touched.session_id = batch.session_id
         ORDER BY batch.position`,
        [requests.flatMap((r) => r.items.map(() => r.sessionId)), requests.flatMap((r) => r.items.map(encode))]
      )
      return requests.map(() => undefined)
    }
  }
  const newest: RawBatchKind<Newest, ReadonlyArray<unknown>> = {
    single: (r) => floor.latest(r.sessionId, r.limit),
    combined: async (requests) => {
      const result = await pool.query(
        `SELECT b.position - 1 AS position, m.id, m.message_data
         FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS b(session_id, row_limit, position)
         CROSS JOIN LATERAL (SELECT id, message_data FROM ${t.messages} WHERE session_id = b.session_id
           ORDER BY id DESC LIMIT b.row_limit) AS m`,
        [requests.map((r) => r.sessionId), requests.map((r) => r.limit)]
      )
      return regroup(requests.length, result.rows)
    }
  }
  return withBatching(floor, makeRawBatcher({ slots: await slotsFor(rule), maxBatchSize: BATCH_LIMIT }), append, newest)
}

const openMysql = (rule: SlotRule) => async (db: Databases): Promise<Store> => {
  const { store: floor, t, conn: pool } = await openMysqlFloor(db, `${TABLES}_${rule}`)
  const append: RawBatchKind<Append, void> = {
    single: (r) => floor.append(r.sessionId, r.items),
    combined: async (requests) => {
      const sessions = sortedSessions(requests)
      await inMysqlTransaction(pool, async (conn) => {
        await conn.query(
          `INSERT INTO ${t.sessions} (session_id) VALUES ${sessions.map(() => "(?)").join(", ")} ` +
            `ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)`,
          sessions
        )
        const params = rowsOf(requests)
        await conn.query(`INSERT INTO ${t.messages} (session_id, message_data) VALUES ${qValues(params.length / 2)}`, params)
      })
      return requests.map(() => undefined)
    }
  }
  const newest: RawBatchKind<Newest, ReadonlyArray<unknown>> = {
    single: (r) => floor.latest(r.sessionId, r.limit),
    combined: async (requests) => {
      const [rows] = await pool.query(
        requests.map(() =>
          `(SELECT ? AS position, id, message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT ?)`
        ).join(" UNION ALL "),
        requests.flatMap((r, i) => [i, r.sessionId, r.limit])
      )
      return regroup(requests.length, rows as Array<Record<string, unknown>>)
    }
  }
  return withBatching(floor, makeRawBatcher({ slots: await slotsFor(rule), maxBatchSize: BATCH_LIMIT }), append, newest)
}

const openSqlite = async (db: Databases): Promise<Store> => {
  const { store: floor, t, conn: sqlite } = await openSqliteFloor(db, TABLES)
  const upsert = sqlite.prepare(
    `INSERT INTO ${t.sessions} (session_id) VALUES (?) ON CONFLICT (session_id) DO UPDATE SET updated_at = CURRENT_TIMESTAMP`
  )
  // Prepared once per row count (inserts) or request count (reads), as a driver's statement cache would.
  const cached = (make: (n: number) => string) => {
    const statements = new Map<number, ReturnType<typeof sqlite.prepare>>()
    return (n: number) => {
      let statement = statements.get(n)
      if (statement === undefined) {
        statement = sqlite.prepare(make(n))
        statements.set(n, statement)
      }
      return statement
    }
  }
  const insertRows = cached((n) => `INSERT INTO ${t.messages} (session_id, message_data) VALUES ${qValues(n)}`)
  const selectNewest = cached((n) =>
    Array.from({ length: n }, () =>
      `SELECT * FROM (SELECT ? AS position, id, message_data FROM ${t.messages} WHERE session_id = ? ORDER BY id DESC LIMIT ?)`
    ).join(" UNION ALL ")
  )
  const appendAll = sqlite.transaction((requests: ReadonlyArray<Append>) => {
    for (const sessionId of sortedSessions(requests)) upsert.run(sessionId)
    const params = rowsOf(requests)
    insertRows(params.length / 2).run(...params)
  })
  const append: RawBatchKind<Append, void> = {
    single: (r) => floor.append(r.sessionId, r.items),
    combined: async (requests) => {
      appendAll(requests)
      return requests.map(() => undefined)
    }
  }
  const newest: RawBatchKind<Newest, ReadonlyArray<unknown>> = {
    single: (r) => floor.latest(r.sessionId, r.limit),
    combined: async (requests) =>
      regroup(requests.length, selectNewest(requests.length).all(...requests.flatMap((r, i) => [i, r.sessionId, r.limit])))
  }
  return withBatching(floor, makeRawBatcher({ slots: 1, maxBatchSize: BATCH_LIMIT, holdUntilMicrotasks: true }), append, newest)
}

const NOTE = "natural batching on the raw driver: a lone call sends the floor's statement; calls that queue while every " +
  `slot is busy go out together (at most ${BATCH_LIMIT})`

const SLOTS_NOTE: Record<SlotRule, string> = {
  design: "slots: the library's default batchConcurrency (2 unless it exports another)",
  pool: `slots: one per pool connection (${POOL_SIZE})`
}

const SQL: Record<"pg" | "mysql", { readonly driver: string; readonly how: string }> = {
  pg: { driver: "pg", how: "one CTE over unnest for appends, one LATERAL statement for latest-N" },
  mysql: { driver: "mysql2", how: "one transaction (multi-row upsert + multi-row insert) for appends, one UNION ALL for latest-N" }
}

/** The batched floor of a server database with the given slot rule; id `<dialect>/batched-floor` or `…-pool`. */
export const batchedFloor = (dialect: "pg" | "mysql", rule: SlotRule): TargetSpec => ({
  id: `${dialect}/batched-floor${rule === "pool" ? "-pool" : ""}`,
  name: `batched-floor${rule === "pool" ? "-pool" : ""}`,
  label: `raw ${SQL[dialect].driver}, batched (batched floor${rule === "pool" ? `, ${POOL_SIZE} slots` : ""})`,
  dialect,
  category: "floor",
  packages: [SQL[dialect].driver],
  notes: [`${NOTE}: ${SQL[dialect].how}; ${SLOTS_NOTE[rule]}`],
  open: dialect === "pg" ? openPg(rule) : openMysql(rule)
})

/** The batched floors of the main comparison: the design's slot count. */
export const batchedFloorTargets: ReadonlyArray<TargetSpec> = [
  batchedFloor("pg", "design"),
  batchedFloor("mysql", "design"),
  {
    id: "sqlite/batched-floor",
    name: "batched-floor",
    label: "raw better-sqlite3, batched (batched floor)",
    dialect: "sqlite",
    category: "floor",
    packages: ["better-sqlite3"],
    notes: [`${NOTE}: one transaction for appends, one UNION ALL for latest-N; one slot, held until pending microtasks have run`],
    open: openSqlite
  }
]
