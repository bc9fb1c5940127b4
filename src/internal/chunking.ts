/**
 * How many rows, and how many bytes, one INSERT may carry on each dialect, and how a batch is cut
 * into statements that fit. A batch that fits (nearly every batch) is one chunk, found without
 * counting a single byte; only big batches are measured and cut. The caller runs the chunks in
 * one transaction that holds the session lock, so a cut batch is still atomic and contiguous.
 */
import type { SqlClient } from "@effect/sql"

export interface ChunkLimits {
  /** Most rows in one statement: bound parameters are limited (SQLite 32,766, MySQL 65,535). */
  readonly maxRows: number
  /** Most bytes of bound values in one statement. */
  readonly maxBytes: number
  /** Bytes one row costs beyond its text: the session id bound again, and the wire's framing. */
  readonly rowOverhead: (sessionIdBytes: number) => number
  /** Largest single item one statement can carry. */
  readonly maxItemBytes: number
  /** What sets `maxItemBytes`, and what to do about it, for error messages. */
  readonly itemLimitReason: string
}

/** Room left in a MySQL packet for the statement header, parameter types and lengths. */
export const PACKET_HEADROOM = 64 * 1024

/**
 * A cap on one statement's values where the server's own limit is far higher (1 GB): it bounds
 * the driver's copies of a huge batch, and costs a round trip per 16 MiB, which is nothing.
 */
const STATEMENT_BYTES = 16 * 1024 * 1024

export const chunkLimits = (sql: SqlClient.SqlClient, maxPacketBytes: number | undefined): ChunkLimits =>
  sql.onDialectOrElse({
    // Rows go in as one text[] parameter: only bytes matter.
    pg: (): ChunkLimits => ({
      maxRows: Number.POSITIVE_INFINITY,
      maxBytes: STATEMENT_BYTES,
      // An array literal quotes each element and may escape every character.
      rowOverhead: () => 4,
      // Escaped, it must stay under PostgreSQL's 1 GB limit on one message.
      maxItemBytes: 400 * 1024 * 1024,
      itemLimitReason: "PostgreSQL takes at most 1 GB in one message, and an item may double when escaped"
    }),
    // Two parameters a row, under MySQL's 65,535; the whole statement must fit in one packet.
    mysql: (): ChunkLimits => {
      const packet = maxPacketBytes ?? 16 * 1024 * 1024
      const budget = Math.max(packet - PACKET_HEADROOM, 1024)
      return {
        maxRows: 16_000,
        maxBytes: budget,
        // Each value: a type (2 bytes) and a length prefix (at most 9).
        rowOverhead: (sessionIdBytes) => sessionIdBytes + 2 * 11,
        maxItemBytes: budget - 1024 - 22,
        itemLimitReason: `the server's max_allowed_packet is ${packet} bytes; raise it on the server to store larger items`
      }
    },
    // Two parameters a row, under SQLite's 32,766.
    orElse: (): ChunkLimits => ({
      maxRows: 8_000,
      maxBytes: STATEMENT_BYTES,
      rowOverhead: (sessionIdBytes) => sessionIdBytes,
      maxItemBytes: 1_000_000_000,
      itemLimitReason: "SQLite stores at most 1,000,000,000 bytes in one value (SQLITE_MAX_LENGTH)"
    })
  })

/**
 * Cuts `texts` into consecutive runs that each fit `limits`, in order. One run when the batch
 * fits (none when it is empty); a single text larger than the byte budget gets a run of its own (the caller refuses such
 * items up front where the server would).
 */
export const planChunks = (
  texts: ReadonlyArray<string>,
  limits: ChunkLimits,
  sessionId: string
): ReadonlyArray<ReadonlyArray<string>> => {
  if (texts.length === 0) return []
  // A UTF-16 unit is at most 3 UTF-8 bytes.
  const roughRow = limits.rowOverhead(sessionId.length * 3)
  if (texts.length <= limits.maxRows) {
    let units = 0
    for (const text of texts) units += text.length
    if (units * 3 + texts.length * roughRow <= limits.maxBytes) return [texts]
  }
  const rowOverhead = limits.rowOverhead(Buffer.byteLength(sessionId, "utf8"))
  const chunks: Array<ReadonlyArray<string>> = []
  let start = 0
  let bytes = 0
  for (let index = 0; index < texts.length; index++) {
    const text = texts[index]!
    const size = Buffer.byteLength(text, "utf8") + rowOverhead
    if (index > start && (index - start >= limits.maxRows || bytes + size > limits.maxBytes)) {
      chunks.push(texts.slice(start, index))
      start = index
      bytes = 0
    }
    bytes += size
  }
  if (start < texts.length) chunks.push(texts.slice(start))
  return chunks
}

/** Cuts ids for `IN (...)` lists: one parameter each. */
export const chunkIds = <A>(ids: ReadonlyArray<A>, limits: ChunkLimits): ReadonlyArray<ReadonlyArray<A>> => {
  const size = Number.isFinite(limits.maxRows) ? limits.maxRows * 2 : 30_000
  if (ids.length <= size) return [ids]
  const chunks: Array<ReadonlyArray<A>> = []
  for (let start = 0; start < ids.length; start += size) chunks.push(ids.slice(start, start + size))
  return chunks
}
