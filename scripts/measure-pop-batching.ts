/**
 * Would batching pay for popItem? An interleaved A/B on raw `pg` (pool of 10), before writing the
 * store's code: 16 and 64 callers each popping their own session, either one statement per call
 * (the store's single pop) or queued calls combined into one LATERAL … FOR UPDATE statement, with
 * two statements in flight at most (as the store batches appends).
 *
 *   npx tsx scripts/measure-pop-batching.ts
 *
 * Env: TEST_POSTGRES_URL, TRIAL_SECONDS (default 1.5), ROUNDS (default 3).
 */
import * as Os from "node:os"
import Pg from "pg"

const url = process.env.TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test"
const seconds = Number(process.env.TRIAL_SECONDS ?? 1.5)
const rounds = Number(process.env.ROUNDS ?? 3)
const pool = new Pg.Pool({ connectionString: url, max: 10 })
const messages = "popab_messages"
const SESSIONS = 64
const ROWS = 6000

const single = async (sessionId: string): Promise<void> => {
  await pool.query(
    `WITH target AS (SELECT id FROM ${messages} WHERE session_id >= $1 AND session_id <= $1
        ORDER BY session_id DESC, id DESC LIMIT 1 FOR UPDATE),
      removed AS (DELETE FROM ${messages} WHERE id IN (SELECT id FROM target) RETURNING message_data)
    SELECT (SELECT message_data FROM removed) AS message_data,
      EXISTS (SELECT 1 FROM ${messages} WHERE session_id = $1) AS remaining`,
    [sessionId]
  )
}

const combined = async (sessionIds: ReadonlyArray<string>): Promise<void> => {
  await pool.query(
    `WITH request AS (SELECT * FROM unnest($1::text[]) WITH ORDINALITY AS request(session_id, position)),
      target AS (
        SELECT newest.id, request.position FROM request CROSS JOIN LATERAL (
          SELECT id FROM ${messages} WHERE session_id >= request.session_id AND session_id <= request.session_id
          ORDER BY session_id DESC, id DESC LIMIT 1 FOR UPDATE) AS newest),
      removed AS (DELETE FROM ${messages} WHERE id IN (SELECT id FROM target) RETURNING id, message_data)
    SELECT target.position, removed.message_data FROM target JOIN removed ON removed.id = target.id`,
    [sessionIds]
  )
}

/** Natural batching in miniature: two slots; queued calls go out together when one frees. */
const makeBatched = () => {
  let free = 2
  let queue: Array<{ sessionId: string; done: () => void }> = []
  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      await (batch.length === 1 ? single(batch[0]!.sessionId) : combined(batch.map((entry) => entry.sessionId)))
      for (const entry of batch) entry.done()
    }
    free++
  }
  return async (sessionId: string): Promise<void> => {
    if (free > 0) {
      free--
      await single(sessionId)
      if (queue.length > 0) void drain()
      else free++
      return
    }
    await new Promise<void>((done) => queue.push({ sessionId, done }))
  }
}

const trial = async (callers: number, pop: (sessionId: string) => Promise<void>, prefix: string) => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + seconds * 1000
  let ops = 0
  await Promise.all(Array.from({ length: callers }, async (_, caller) => {
    while (performance.now() < deadline) {
      await pop(`${prefix}-${caller % SESSIONS}`)
      ops++
    }
  }))
  const used = process.cpuUsage(cpu)
  return { rate: ops / ((performance.now() - started) / 1000), cpu: (used.user + used.system) / ops }
}

const main = async () => {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${messages} (id BIGSERIAL PRIMARY KEY, session_id VARCHAR(255) NOT NULL,
    message_data TEXT NOT NULL)`)
  await pool.query(`CREATE INDEX IF NOT EXISTS ${messages}_idx ON ${messages} (session_id, id)`)
  const prefix = `pop${Date.now().toString(36)}`
  await pool.query(
    `INSERT INTO ${messages} (session_id, message_data)
      SELECT $1 || '-' || (g % ${SESSIONS}), '{"role":"user","content":"a message of ordinary length"}'
      FROM generate_series(1, ${SESSIONS * ROWS}) AS g`,
    [prefix]
  )
  await pool.query(`ANALYZE ${messages}`)
  for (const callers of [16, 64]) {
    const figures: Record<string, Array<string>> = { single: [], batched: [] }
    let sums = { single: 0, batched: 0 }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["single", "batched"] as const) : (["batched", "single"] as const)
      for (const name of order) {
        const result = await trial(callers, name === "single" ? single : makeBatched(), prefix)
        figures[name]!.push(`${Math.round(result.rate)} ops/s (${Math.round(result.cpu)} µs cpu)`)
        sums = { ...sums, [name]: sums[name] + result.rate }
      }
    }
    console.log(
      `pop, ${callers} callers | single: ${figures.single!.join(" / ")} | batched: ${figures.batched!.join(" / ")} | ` +
        `batched/single ${(sums.batched / sums.single).toFixed(2)} | load ${Os.loadavg()[0]!.toFixed(2)}`
    )
  }
  await pool.query(`DROP TABLE ${messages}`)
  await pool.end()
}

await main()
