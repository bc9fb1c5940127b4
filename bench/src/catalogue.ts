/**
 * The catalogue phase (issue 10, speed), PostgreSQL only: `listSessions` pages of 50 at page 1
 * and deep in the list, with and without an owner; and how much one `deleteSessions({ idleBefore })`
 * over the idle sessions slows concurrent appends to live sessions. The tables are made by our
 * store (`createTables: true`) under names of their own, then bulk-loaded with raw SQL.
 */
import { loadavg } from "node:os"
import { loadPg, POOL_SIZE, type PgPoolLike } from "./drivers.js"
import { makeItem } from "./items.js"
import { summarize } from "./measure.js"
import type { Mode } from "./modes.js"
import type { Log } from "./scenario.js"
import type { Databases, Item, Stats } from "./types.js"

export const PAGE_SIZE = 50
/** Live sessions were last written within this many days; idle ones 90 to 120 days ago. */
const LIVE_DAYS = 30
const IDLE_BEFORE_DAYS = 60
const DAY_SECONDS = 86_400
/** Owner k (1-based) holds a share proportional to 1/k^OWNER_SKEW: one large tenant, a long tail. */
const OWNER_SKEW = 2
const PAYLOAD = JSON.stringify(makeItem(1))

export interface CatalogueListPoint {
  readonly filter: "none" | "owner"
  readonly page: number
  readonly stats: Stats
}

export interface CataloguePruneRound {
  /** How long the appends ran without pruning: the previous round's prune time (the first: the mode's guess). */
  readonly baselineMs: number
  readonly baseline: Stats
  readonly during: Stats
  readonly pruneMs: number
  readonly deleted: number
}

export interface CatalogueResult {
  readonly dialect: "pg"
  readonly sessions: number
  readonly items: number
  readonly owners: number
  /** The owner the filtered listing reads, and how many sessions it holds. */
  readonly largestOwner: { readonly owner: string; readonly sessions: number }
  readonly idleSessions: number
  readonly pageSize: number
  readonly seedSeconds: number
  readonly listing: ReadonlyArray<CatalogueListPoint>
  readonly prune: {
    readonly appenders: number
    readonly rounds: ReadonlyArray<CataloguePruneRound>
    /** Every round's latencies pooled. */
    readonly baseline: Stats
    readonly during: Stats
  }
  readonly loadAverage: { readonly start: number; readonly end: number }
}

/** A small seeded generator, so every run lays out the same data. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const ownerPicker = (owners: number) => {
  const cumulative: Array<number> = []
  let total = 0
  for (let k = 1; k <= owners; k++) cumulative.push((total += k ** -OWNER_SKEW))
  return (u: number) => {
    const target = u * total
    let lo = 0
    let hi = owners - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid]! < target) lo = mid + 1
      else hi = mid
    }
    return `owner-${lo + 1}`
  }
}

interface Tables {
  readonly sessions: string
  readonly messages: string
  readonly operations: string
}

interface SessionRows {
  readonly ids: Array<string>
  readonly owners: Array<string>
  readonly ageSeconds: Array<number>
}

const sessionRows = (count: number, idPrefix: string, minAgeDays: number, maxAgeDays: number, pick: () => string, next: () => number): SessionRows => {
  const rows: SessionRows = { ids: [], owners: [], ageSeconds: [] }
  for (let i = 0; i < count; i++) {
    rows.ids.push(`${idPrefix}${i}`)
    rows.owners.push(pick())
    rows.ageSeconds.push((minAgeDays + next() * (maxAgeDays - minAgeDays)) * DAY_SECONDS)
  }
  return rows
}

/** Sessions and `itemsEach` items per session, the items of all sessions interleaved as in a live table. */
const insertSessions = async (pool: PgPoolLike, t: Tables, rows: SessionRows, itemsEach: number) => {
  await pool.query(
    `INSERT INTO ${t.sessions} (session_id, owner, title, created_at, updated_at)
     SELECT id, owner, 'Conversation ' || id, LOCALTIMESTAMP - (age + 3600) * INTERVAL '1 second', LOCALTIMESTAMP - age * INTERVAL '1 second'
     FROM unnest($1::text[], $2::text[], $3::float8[]) AS s(id, owner, age)`,
    [rows.ids, rows.owners, rows.ageSeconds]
  )
  await pool.query(
    `INSERT INTO ${t.messages} (session_id, message_data, created_at)
     SELECT s.id, $2, LOCALTIMESTAMP - s.age * INTERVAL '1 second'
     FROM unnest($1::text[], $3::float8[]) AS s(id, age) CROSS JOIN generate_series(1, $4::int) AS g
     ORDER BY g, s.id`,
    [rows.ids, PAYLOAD, rows.ageSeconds, itemsEach]
  )
}

interface CatalogueStore {
  list(options: { owner?: string | undefined; cursor?: string | undefined }): Promise<{ sessions: ReadonlyArray<unknown>; nextCursor: string | undefined }>
  append(sessionId: string, items: ReadonlyArray<Item>): Promise<void>
  pruneIdle(idleBefore: Date): Promise<number>
  close(): Promise<void>
}

/** Our Effect store with its own pool of 10, as an application would hold it. */
const openStore = async (url: string, t: Tables): Promise<CatalogueStore> => {
  const [{ Layer, ManagedRuntime, Redacted }, { PgClient }, lib] = await Promise.all([
    import("effect"),
    import("@effect/sql-pg"),
    import("../../src/index.js")
  ])
  const layer = lib.SqlSessionStore.layer({
    createTables: true,
    sessionsTable: t.sessions,
    messagesTable: t.messages,
    operationsTable: t.operations
  }).pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: POOL_SIZE })))
  const runtime = ManagedRuntime.make(layer)
  const store = await runtime.runPromise(lib.SessionStore)
  return {
    list: (options) => runtime.runPromise(store.listSessions({ ...options, limit: PAGE_SIZE })),
    append: (sessionId, items) => runtime.runPromise(store.addItems(sessionId, items)),
    pruneIdle: (idleBefore) => runtime.runPromise(store.deleteSessions({ idleBefore })),
    close: () => runtime.dispose()
  }
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** The cursor of page `page` (1-based), by following the cursors from page 1 once. */
const cursorOf = async (store: CatalogueStore, owner: string | undefined, page: number): Promise<string | undefined> => {
  let cursor: string | undefined
  for (let p = 1; p < page; p++) {
    cursor = (await store.list({ owner, cursor })).nextCursor
    if (cursor === undefined) throw new Error(`listing${owner ? ` of ${owner}` : ""} ended before page ${page}`)
  }
  return cursor
}

const measureListing = async (
  store: CatalogueStore,
  mode: Mode,
  pages: ReadonlyArray<{ filter: "none" | "owner"; owner: string | undefined; page: number }>
): Promise<Array<CatalogueListPoint>> => {
  const series = await Promise.all(pages.map(async (p) => ({ ...p, cursor: await cursorOf(store, p.owner, p.page), latencies: [] as Array<number> })))
  for (const s of series) {
    const page = await store.list({ owner: s.owner, cursor: s.cursor })
    if (page.sessions.length !== PAGE_SIZE) throw new Error(`page ${s.page} (${s.filter}) has ${page.sessions.length} sessions, not ${PAGE_SIZE}`)
  }
  // Samples of every page interleaved, the order rotated each turn, so the machine's noise falls on all alike.
  const { samples, warmup } = mode.catalogue
  for (let i = -warmup; i < samples; i++) {
    for (let j = 0; j < series.length; j++) {
      const s = series[(i + warmup + j) % series.length]!
      const start = nowMs()
      await store.list({ owner: s.owner, cursor: s.cursor })
      if (i >= 0) s.latencies.push(nowMs() - start)
    }
  }
  return series.map((s) => ({ filter: s.filter, page: s.page, stats: summarize(s.latencies, s.latencies.reduce((a, b) => a + b, 0)) }))
}

/**
 * `appenders` workers append 2 items to live sessions until `stop()` says so; each latency is
 * kept with its start time, so a window (the prune's) can be cut out of the run.
 */
const appendLoad = (store: CatalogueStore, live: ReadonlyArray<string>, appenders: number, next: () => number) => {
  let stopped = false
  const samples: Array<[number, number]> = []
  const two = [makeItem(4), makeItem(5)]
  const worker = async () => {
    while (!stopped) {
      const sid = live[Math.floor(next() * live.length)]!
      const start = nowMs()
      await store.append(sid, two)
      samples.push([start, nowMs() - start])
    }
  }
  const done = Promise.all(Array.from({ length: appenders }, worker))
  return {
    stop: async () => {
      stopped = true
      await done
      return samples
    }
  }
}

/**
 * Every round starts from a vacuumed, analysed table: the previous prune's dead rows would
 * otherwise bring autovacuum in at a random moment of some later window.
 */
const vacuum = async (pool: PgPoolLike, t: Tables) => {
  await pool.query(`VACUUM ANALYZE ${t.sessions}`)
  await pool.query(`VACUUM ANALYZE ${t.messages}`)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const statsOf = (latencies: ReadonlyArray<number>, elapsedMs: number) => summarize(latencies, elapsedMs)

export const runCatalogue = async (db: Databases, mode: Mode, runId: string, log: Log): Promise<CatalogueResult> => {
  const settings = mode.catalogue
  const loadStart = loadavg()[0] ?? 0
  const prefix = `${db.tablePrefix}${runId}_`
  const t: Tables = { sessions: `${prefix}sessions`, messages: `${prefix}messages`, operations: `${prefix}operations` }
  const pool = new (loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
  const next = random(10)
  const pickOwner = ownerPicker(settings.owners)
  const pick = () => pickOwner(next())
  const itemsEach = Math.max(1, Math.round(settings.items / settings.sessions))
  let store: CatalogueStore | undefined
  try {
    store = await openStore(db.pgUrl, t)
    const seedStart = Date.now()
    const live = sessionRows(settings.sessions - settings.idle, "live-", 0, LIVE_DAYS, pick, next)
    await insertSessions(pool, t, live, itemsEach)
    await insertSessions(pool, t, sessionRows(settings.idle, "idle-0-", 90, 120, pick, next), itemsEach)
    await vacuum(pool, t)
    const seedSeconds = (Date.now() - seedStart) / 1000
    const counts = (await pool.query(`SELECT (SELECT count(*) FROM ${t.sessions}) AS s, (SELECT count(*) FROM ${t.messages}) AS m`)).rows[0]!
    const largest = (await pool.query(`SELECT owner, count(*) AS n FROM ${t.sessions} GROUP BY owner ORDER BY n DESC LIMIT 1`)).rows[0]!
    const largestOwner = { owner: String(largest["owner"]), sessions: Number(largest["n"]) }
    log(`  catalogue: seeded ${Number(counts["s"]).toLocaleString("en-US")} sessions and ${Number(counts["m"]).toLocaleString("en-US")} items in ${
      seedSeconds.toFixed(1)
    } s; largest owner ${largestOwner.owner} holds ${largestOwner.sessions.toLocaleString("en-US")} sessions`)

    const deep = Math.min(settings.deepPage, Math.floor(Number(counts["s"]) / PAGE_SIZE) - 1)
    const ownerDeep = Math.min(settings.deepPage, Math.floor(largestOwner.sessions / PAGE_SIZE) - 1)
    const listing = await measureListing(store, mode, [
      { filter: "none", owner: undefined, page: 1 },
      { filter: "none", owner: undefined, page: deep },
      { filter: "owner", owner: largestOwner.owner, page: 1 },
      { filter: "owner", owner: largestOwner.owner, page: ownerDeep }
    ])
    for (const p of listing) {
      log(`  listSessions(${PAGE_SIZE})${p.filter === "owner" ? " by owner" : ""} page ${p.page}: p50 ${p.stats.p50Ms.toFixed(3)} ms  p99 ${p.stats.p99Ms.toFixed(3)} ms`)
    }

    const liveIds = live.ids
    const idleBefore = () => new Date(Date.now() - IDLE_BEFORE_DAYS * DAY_SECONDS * 1000)
    // Warm the append path and the pool before the first baseline.
    await (async () => {
      const warm = appendLoad(store, liveIds, settings.appenders, next)
      await sleep(Math.min(500, settings.baselineMs))
      await warm.stop()
    })()
    const rounds: Array<CataloguePruneRound> = []
    const pooledBaseline: Array<number> = []
    const pooledDuring: Array<number> = []
    let elapsedBaseline = 0
    let elapsedDuring = 0
    for (let round = 0; round < settings.rounds; round++) {
      if (round > 0) {
        await insertSessions(pool, t, sessionRows(settings.idle, `idle-${round}-`, 90, 120, pick, next), itemsEach)
        await vacuum(pool, t)
      }
      // Windows of the same length on both sides, so neither p99 rests on more samples than the other.
      const baselineMs = round === 0 ? settings.baselineMs : Math.max(100, rounds[round - 1]!.pruneMs)
      const baselineLoad = appendLoad(store, liveIds, settings.appenders, next)
      await sleep(baselineMs)
      const baseline = (await baselineLoad.stop()).map(([, ms]) => ms)
      // The prune runs on the store's own pool, as retention would inside the application.
      const duringLoad = appendLoad(store, liveIds, settings.appenders, next)
      await sleep(Math.min(200, settings.baselineMs / 4))
      const pruneStart = nowMs()
      const deleted = await store.pruneIdle(idleBefore())
      const pruneEnd = nowMs()
      // Every append in flight at some moment of the prune counts for it.
      const during = (await duringLoad.stop()).filter(([start, ms]) => start < pruneEnd && start + ms > pruneStart).map(([, ms]) => ms)
      const pruneMs = pruneEnd - pruneStart
      if (deleted !== settings.idle) throw new Error(`the prune deleted ${deleted} sessions, not the ${settings.idle} idle ones`)
      const entry = { baselineMs, baseline: statsOf(baseline, baselineMs), during: statsOf(during, pruneMs), pruneMs, deleted }
      rounds.push(entry)
      pooledBaseline.push(...baseline)
      pooledDuring.push(...during)
      elapsedBaseline += baselineMs
      elapsedDuring += pruneMs
      log(`  prune round ${round + 1}: deleted ${deleted} in ${pruneMs.toFixed(0)} ms; append p99 ${entry.baseline.p99Ms.toFixed(2)} ms baseline, ${
        entry.during.p99Ms.toFixed(2)
      } ms during the prune (${during.length} appends)`)
    }
    return {
      dialect: "pg",
      sessions: Number(counts["s"]),
      items: Number(counts["m"]),
      owners: settings.owners,
      largestOwner,
      idleSessions: settings.idle,
      pageSize: PAGE_SIZE,
      seedSeconds,
      listing,
      prune: {
        appenders: settings.appenders,
        rounds,
        baseline: statsOf(pooledBaseline, elapsedBaseline),
        during: statsOf(pooledDuring, elapsedDuring)
      },
      loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 }
    }
  } finally {
    await store?.close().catch(() => undefined)
    for (const table of [t.operations, t.messages, t.sessions]) await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    await pool.end().catch(() => undefined)
  }
}
