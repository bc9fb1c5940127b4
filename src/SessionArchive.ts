/**
 * The export format as text: JSON Lines, one `ExportRecord` per line.
 *
 * ```text
 * {"type":"session","version":1,"sessionId":"chat-1","owner":"user-7","title":null,"metadata":{},"createdAt":"2026-01-02T03:04:05.000Z","updatedAt":"2026-01-02T03:04:09.000Z","expiresAt":null}
 * {"type":"item","version":1,"sessionId":"chat-1","data":"{\"role\":\"user\",\"content\":\"Hi\"}"}
 * ```
 *
 * @since 0.2.0
 */
import { Stream } from "effect"
import type { ExportRecord } from "./SessionStore.js"

/**
 * Records as JSON Lines text: each string is one record followed by `"\n"`, so the strings
 * concatenated are the file.
 *
 * @since 0.2.0
 */
export const toJsonLines = <E, R>(records: Stream.Stream<ExportRecord, E, R>): Stream.Stream<string, E, R> =>
  Stream.map(records, (record) => `${JSON.stringify(record)}\n`)

/**
 * JSON Lines text in chunks of any size (a file read as strings or bytes) as lines, one record
 * each, ready for `importSessions`. Line numbers are kept: blank lines are passed on (and ignored
 * by the import).
 *
 * @since 0.2.0
 */
export const fromJsonLines = <E, R>(chunks: Stream.Stream<string | Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  chunks.pipe(
    Stream.mapAccum(new TextDecoder("utf-8", { fatal: false }), (decoder, chunk) =>
      [decoder, typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })]),
    Stream.splitLines
  )
