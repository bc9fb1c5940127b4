/**
 * Export and import of sessions as records of the versioned export format (see `SessionArchive`
 * for its text form). Both stream: export reads sessions and items in keyset pages, import writes
 * each session in one transaction in bounded chunks, so neither holds a whole session in memory.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import {
  EXPORT_FORMAT_VERSION,
  type ExportRecord,
  type ExportSessionsOptions,
  type ImportOptions,
  type ImportSummary,
  InvalidArgumentError,
  type ItemExportRecord,
  SessionImportError,
  type SessionExportRecord,
  type SessionStoreError
} from "../SessionStore.js"
import type { CatalogContext } from "./catalog.js"
import type { CatalogStatements, InfoRow, SessionFields } from "./catalogStatements.js"
import { decodeMetadata, encodeMetadata, MAX_OWNER_LENGTH, MAX_TITLE_LENGTH, textProblem } from "./catalogValidation.js"
import { retryTransient } from "./retry.js"
import { transactionOf } from "./statements.js"

/** Sessions per export page. */
const SESSION_PAGE = 100
/** Items per export page. */
const ITEM_PAGE = 500
/** Import writes a session's items in chunks of at most this many rows … */
const IMPORT_CHUNK_ROWS = 500
/** … or this many bytes of item text (below MariaDB's default 16 MiB packet). */
const IMPORT_CHUNK_BYTES = 4 * 1024 * 1024

export interface ExchangeContext extends Omit<CatalogContext, "trace"> {
  readonly catalog: CatalogStatements
  readonly requireColumns: (operation: string) => Effect.Effect<void, SessionStoreError>
}

const iso = (ms: number | string | null): string | null => ms === null ? null : new Date(Number(ms)).toISOString()

const sessionRecord = (row: InfoRow): SessionExportRecord => ({
    type: "session",
    version: EXPORT_FORMAT_VERSION,
    sessionId: row.session_id,
    owner: row.owner ?? null,
    title: row.title ?? null,
    metadata: decodeMetadata(row.metadata),
    createdAt: iso(row.created_ms)!,
    updatedAt: iso(row.updated_ms)!,
    expiresAt: iso(row.expires_ms)
})

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

const parseIso = (value: unknown): number | undefined => {
  if (typeof value !== "string" || !ISO_DATE.test(value)) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

interface ParsedSession {
  readonly record: SessionExportRecord
  readonly fields: SessionFields & { readonly createdAt: number; readonly updatedAt: number }
}

type Parsed =
  | { readonly type: "session"; readonly line: number; readonly session: ParsedSession }
  | { readonly type: "item"; readonly line: number; readonly record: ItemExportRecord }

const malformed = (line: number, message: string, sessionId?: string) =>
  new SessionImportError({ reason: "malformed", line, sessionId, message: `line ${line}: ${message}` })

export const makeExchange = (context: ExchangeContext) => {
  const { catalog, requireColumns, sql, storeError } = context
  const transaction = transactionOf(sql)
  const retryExport = retryTransient("exportSessions")

  // --- export ---

  const validateExport = (options: ExportSessionsOptions | undefined) => {
    if (options !== undefined && (options === null || typeof options !== "object")) {
      return new InvalidArgumentError({ argument: "options", message: "options must be an object" })
    }
    if (options?.owner !== undefined) {
      const problem = textProblem(options.owner, MAX_OWNER_LENGTH)
      if (problem !== undefined) return new InvalidArgumentError({ argument: "owner", message: `owner ${problem}` })
    }
    if (options?.sessionIds !== undefined) {
      if (!Array.isArray(options.sessionIds)) {
        return new InvalidArgumentError({ argument: "sessionIds", message: "sessionIds must be an array" })
      }
      for (const id of options.sessionIds) {
        const problem = context.sessionIdError(id)
        if (problem !== undefined) return problem
      }
    }
    return undefined
  }

  const itemsOf = (sessionId: string): Stream.Stream<ExportRecord, SqlError> =>
    Stream.paginateChunkEffect(undefined as string | number | undefined, (afterId) =>
      catalog.selectItemsPage(sessionId, afterId, ITEM_PAGE).pipe(
        retryExport,
        Effect.map((rows) => [
          Chunk.fromIterable(rows.map((row): ExportRecord => ({
            type: "item",
            version: EXPORT_FORMAT_VERSION,
            sessionId,
            data: row.message_data
          }))),
          rows.length < ITEM_PAGE ? Option.none() : Option.some(rows[rows.length - 1]!.id)
        ] as const)
      ))

  const sessionRows = (options: ExportSessionsOptions | undefined): Stream.Stream<InfoRow, SqlError> => {
    const owner = options?.owner
    if (options?.sessionIds !== undefined) {
      // The listed ids in the order given, each once.
      return Stream.fromIterable(new Set(options.sessionIds)).pipe(
        Stream.mapEffect((id) => catalog.selectExportInfo(id, owner).pipe(retryExport)),
        Stream.filterMap(Option.fromNullable)
      )
    }
    return Stream.paginateChunkEffect(undefined as string | undefined, (afterId) =>
      catalog.selectExportPage(owner, afterId, SESSION_PAGE).pipe(
        retryExport,
        Effect.map((rows) => [
          Chunk.fromIterable(rows),
          rows.length < SESSION_PAGE ? Option.none() : Option.some(rows[rows.length - 1]!.session_id)
        ] as const)
      ))
  }

  const exportSessions = (
    options?: ExportSessionsOptions
  ): Stream.Stream<ExportRecord, SessionStoreError | InvalidArgumentError> =>
    Stream.unwrap(Effect.gen(function*() {
      const problem = validateExport(options)
      if (problem !== undefined) return yield* problem
      yield* requireColumns("exportSessions")
      return sessionRows(options).pipe(
        Stream.flatMap((row) => Stream.concat(Stream.succeed(sessionRecord(row)), itemsOf(row.session_id))),
        Stream.mapError(storeError("exportSessions"))
      )
    })).pipe(Stream.withSpan("SessionStore.exportSessions"))

  // --- import ---

  const parseSession = (value: Record<string, unknown>, line: number): Either.Either<Parsed, SessionImportError> => {
    const sessionId = value.sessionId as string
    const idProblem = context.sessionIdError(sessionId)
    if (idProblem !== undefined) return Either.left(malformed(line, idProblem.message))
    const fail = (message: string) => Either.left(malformed(line, message, sessionId))
    for (const [field, max] of [["owner", MAX_OWNER_LENGTH], ["title", MAX_TITLE_LENGTH]] as const) {
      if (value[field] !== null) {
        const problem = textProblem(value[field], max)
        if (problem !== undefined) return fail(`${field} ${problem}`)
      }
    }
    const metadata = encodeMetadata(value.metadata)
    if (Either.isLeft(metadata)) return fail(metadata.left.message)
    const createdAt = parseIso(value.createdAt)
    const updatedAt = parseIso(value.updatedAt)
    const expiresAt = value.expiresAt === null ? null : parseIso(value.expiresAt)
    if (createdAt === undefined || updatedAt === undefined || expiresAt === undefined) {
      return fail("createdAt and updatedAt must be ISO 8601 date-times, expiresAt one or null")
    }
    return Either.right({
      type: "session",
      line,
      session: {
        record: value as unknown as SessionExportRecord,
        fields: {
          owner: value.owner as string | null,
          title: value.title as string | null,
          metadata: metadata.right,
          expiresAt,
          createdAt,
          updatedAt
        }
      }
    })
  }

  const parseRecord = (element: unknown, line: number): Either.Either<Parsed | undefined, SessionImportError> => {
    let value: unknown = element
    if (typeof element === "string") {
      if (element.trim() === "") return Either.right(undefined)
      try {
        value = JSON.parse(element)
      } catch {
        return Either.left(malformed(line, "not a JSON object"))
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return Either.left(malformed(line, "not a JSON object"))
    }
    const record = value as Record<string, unknown>
    if (record.version !== EXPORT_FORMAT_VERSION) {
      return Either.left(
        malformed(line, `unsupported version ${JSON.stringify(record.version)} (this release reads version 1)`)
      )
    }
    if (typeof record.sessionId !== "string") return Either.left(malformed(line, "sessionId must be a string"))
    if (record.type === "session") return parseSession(record, line)
    if (record.type === "item") {
      if (typeof record.data !== "string") return Either.left(malformed(line, "an item's data must be a string"))
      if (record.data.length * 3 > context.maxItemBytes && Buffer.byteLength(record.data) > context.maxItemBytes) {
        return Either.left(malformed(line, `item is larger than maxItemBytes (${context.maxItemBytes})`, record.sessionId))
      }
      return Either.right({ type: "item", line, record: record as unknown as ItemExportRecord })
    }
    return Either.left(malformed(line, `unknown record type ${JSON.stringify(record.type)}`))
  }

  /** Reads parsed records one at a time from a pulled stream, with one record of look-ahead. */
  const makeReader = <E, R>(pull: Effect.Effect<Chunk.Chunk<unknown>, Option.Option<E>, R>) => {
    let buffer: ReadonlyArray<unknown> = []
    let index = 0
    let line = 0
    let done = false
    let pushedBack: Parsed | undefined
    const next: Effect.Effect<Parsed | undefined, E | SessionImportError, R> = Effect.suspend(() => {
      if (pushedBack !== undefined) {
        const record = pushedBack
        pushedBack = undefined
        return Effect.succeed(record)
      }
      if (index < buffer.length) {
        const parsed = parseRecord(buffer[index++], ++line)
        if (Either.isLeft(parsed)) return Effect.fail(parsed.left)
        return parsed.right === undefined ? next : Effect.succeed(parsed.right)
      }
      if (done) return Effect.succeed(undefined)
      return Effect.matchEffect(pull, {
        onFailure: Option.match({
          onNone: () => {
            done = true
            return Effect.succeed(undefined)
          },
          onSome: (error) => Effect.fail(error)
        }),
        onSuccess: (chunk) => {
          buffer = Chunk.toReadonlyArray(chunk)
          index = 0
          return next
        }
      })
    })
    return { next, pushBack: (record: Parsed) => void (pushedBack = record) }
  }

  type Outcome = "written" | "skipped"

  /** One session, header already read, in one transaction. */
  const importSession = <E, R>(
    session: ParsedSession,
    reader: ReturnType<typeof makeReader<E, R>>,
    onConflict: ImportOptions["onConflict"],
    counts: { items: number }
  ) => {
    const sessionId = session.record.sessionId
    return transaction(Effect.gen(function*() {
      const created = yield* catalog.insertIfAbsent(sessionId, session.fields)
      let outcome: Outcome = "written"
      if (!created) {
        yield* catalog.lockSessionRow(sessionId)
        switch (onConflict) {
          case "fail":
            return yield* new SessionImportError({
              reason: "conflict",
              sessionId,
              message: `session ${JSON.stringify(sessionId)} already exists (onConflict: "fail")`
            })
          case "skip":
            outcome = "skipped"
            break
          case "replace":
            yield* catalog.deleteContents(sessionId, context.hasOperations)
            yield* catalog.setFields(sessionId, session.fields)
            break
          case "append":
            yield* catalog.touch(sessionId)
        }
      }
      let chunk: Array<string> = []
      let bytes = 0
      let written = 0
      const flush = Effect.suspend(() => {
        const rows = chunk
        written += rows.length
        chunk = []
        bytes = 0
        return context.statements.insertMessages(sessionId, rows)
      })
      while (true) {
        const next = yield* reader.next
        if (next === undefined) break
        if (next.type === "session") {
          reader.pushBack(next)
          break
        }
        if (next.record.sessionId !== sessionId) {
          return yield* malformed(
            next.line,
            `an item of session ${JSON.stringify(next.record.sessionId)} follows the header of ${JSON.stringify(sessionId)}`,
            next.record.sessionId
          )
        }
        if (outcome === "skipped") continue
        chunk.push(next.record.data)
        bytes += next.record.data.length
        if (chunk.length >= IMPORT_CHUNK_ROWS || bytes >= IMPORT_CHUNK_BYTES) yield* flush
      }
      if (chunk.length > 0) yield* flush
      counts.items += written
      return outcome
    })).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(storeError("importSessions", sessionId)(error as SqlError)))
    )
  }

  const importSessions = <E, R>(
    input: Stream.Stream<string | ExportRecord, E, R>,
    options: ImportOptions
  ): Effect.Effect<ImportSummary, E | SessionStoreError | InvalidArgumentError | SessionImportError, R> =>
    Effect.gen(function*() {
      const onConflict = options?.onConflict
      if (onConflict !== "fail" && onConflict !== "skip" && onConflict !== "replace" && onConflict !== "append") {
        return yield* new InvalidArgumentError({
          argument: "onConflict",
          message: `onConflict must be "fail", "skip", "replace" or "append", got ${JSON.stringify(onConflict)}`
        })
      }
      yield* requireColumns("importSessions")
      const reader = makeReader(yield* Stream.toPull(input))
      const counts = { sessions: 0, skipped: 0, items: 0 }
      while (true) {
        const next = yield* reader.next
        if (next === undefined) break
        if (next.type !== "session") {
          return yield* malformed(next.line, "an item record comes before any session record", next.record.sessionId)
        }
        const outcome = yield* importSession(next.session, reader, onConflict, counts)
        if (outcome === "written") counts.sessions++
        else counts.skipped++
      }
      yield* Effect.annotateCurrentSpan({ "session.count": counts.sessions, "session.items": counts.items })
      return counts satisfies ImportSummary
    }).pipe(Effect.scoped, Effect.withSpan("SessionStore.importSessions"))

  return { exportSessions, importSessions }
}
