/**
 * The catalogue operations of the SQL store: session fields, listing and pruning (export and
 * import are in `exchange.ts`). Built once per store; the hot path never goes through here.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Either, FiberRef, Option, type Tracer } from "effect"
import {
  type DeleteSessionsFilter,
  InvalidArgumentError,
  type ListSessionsOptions,
  type SessionInfo,
  type SessionMetadata,
  type SessionPage,
  type SessionPatch,
  type SessionStore,
  SessionStoreError
} from "../SessionStore.js"
import {
  type CatalogStatements,
  detectCatalogFeatures,
  type InfoRow,
  makeCatalogStatements,
  type SessionFields
} from "./catalogStatements.js"
import {
  decodeMetadata,
  encodeMetadata,
  invalid,
  MAX_OWNER_LENGTH,
  MAX_TITLE_LENGTH,
  textProblem
} from "./catalogValidation.js"
import { cursorScope, decodeCursor, encodeCursor } from "./cursor.js"
import { makeExchange } from "./exchange.js"
import { retryTransient } from "./retry.js"
import type { Statements, TableNames } from "./statements.js"

export interface CatalogContext {
  readonly sql: SqlClient.SqlClient
  readonly names: TableNames
  readonly statements: Statements
  readonly hasOperations: boolean
  readonly maxItemBytes: number
  readonly sessionIdError: (sessionId: string) => InvalidArgumentError | undefined
  readonly storeError: (operation: string, sessionId?: string) => (error: SqlError) => SessionStoreError
  /** The store's span-and-metrics wrapper of an operation. */
  readonly trace: (
    operation: CatalogOperation
  ) => <A, E extends { readonly _tag: string }, R>(
    body: (span: Tracer.Span) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
}

export type CatalogOperation =
  | "updateSession"
  | "getSession"
  | "listSessions"
  | "deleteSessions"
  | "exportSessions"
  | "importSessions"

export type Catalog = Pick<SessionStore["Type"], CatalogOperation>

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 1000
/** Sessions deleted per transaction by `deleteSessions`. */
export const DELETE_BATCH_SIZE = 500

/**
 * Runs between selecting a batch of pruning candidates and deleting them. Tests use it to write
 * to a candidate in that window; it does nothing otherwise.
 */
export const afterPruneCandidates = FiberRef.unsafeMake<(ids: ReadonlyArray<string>) => Effect.Effect<void>>(
  () => Effect.void
)

const checkText = (argument: string, value: unknown, max: number, nullable: boolean) => {
  if (value === undefined || (nullable && value === null)) return undefined
  const problem = textProblem(value, max)
  return problem === undefined ? undefined : invalid(argument, `${argument} ${problem}`)
}

const isDate = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime())

const checkDate = (argument: string, value: unknown, nullable: boolean) =>
  value === undefined || (nullable && value === null) || isDate(value)
    ? undefined
    : invalid(argument, `${argument} must be a valid Date${nullable ? " or null" : ""}`)

const toDate = (value: number | string | null): Date | null => value === null ? null : new Date(Number(value))

export const toSessionInfo = (row: InfoRow): SessionInfo => ({
  sessionId: row.session_id,
  owner: row.owner ?? null,
  title: row.title ?? null,
  metadata: decodeMetadata(row.metadata),
  createdAt: toDate(row.created_ms)!,
  updatedAt: toDate(row.updated_ms)!,
  expiresAt: toDate(row.expires_ms),
  itemCount: Number(row.item_count ?? 0)
})

const validatePatch = (patch: SessionPatch): Either.Either<SessionFields, InvalidArgumentError> => {
  if (patch === null || typeof patch !== "object") return Either.left(invalid("patch", "patch must be an object"))
  const problem = checkText("owner", patch.owner, MAX_OWNER_LENGTH, true) ??
    checkText("title", patch.title, MAX_TITLE_LENGTH, true) ??
    checkDate("expiresAt", patch.expiresAt, true)
  if (problem !== undefined) return Either.left(problem)
  let metadata: string | undefined
  if (patch.metadata !== undefined) {
    const encoded = encodeMetadata(patch.metadata)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    metadata = encoded.right
  }
  return Either.right({
    owner: patch.owner,
    title: patch.title,
    metadata,
    expiresAt: patch.expiresAt === undefined ? undefined : patch.expiresAt === null ? null : patch.expiresAt.getTime()
  })
}

const validateListOptions = (options: ListSessionsOptions | undefined, sessionsTable: string) => {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    return Either.left(invalid("options", "options must be an object"))
  }
  const { cursor, limit = DEFAULT_PAGE_SIZE, owner, updatedAfter, updatedBefore } = options ?? {}
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    return Either.left(invalid("limit", `limit must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${String(limit)}`))
  }
  const problem = checkText("owner", owner, MAX_OWNER_LENGTH, false) ??
    checkDate("updatedAfter", updatedAfter, false) ??
    checkDate("updatedBefore", updatedBefore, false)
  if (problem !== undefined) return Either.left(problem)
  const scope = cursorScope([
    sessionsTable,
    owner ?? null,
    updatedAfter?.getTime() ?? null,
    updatedBefore?.getTime() ?? null
  ])
  const after = cursor === undefined ? Either.right(undefined) : decodeCursor(cursor, scope)
  return Either.map(after, (position) => ({
    scope,
    query: {
      owner,
      updatedAfter: updatedAfter?.getTime(),
      updatedBefore: updatedBefore?.getTime(),
      after: position,
      limit
    }
  }))
}

const validateDeleteFilter = (filter: DeleteSessionsFilter) => {
  if (filter === null || typeof filter !== "object") return invalid("filter", "filter must be an object")
  const { expired, idleBefore, owner } = filter
  const problem = checkText("owner", owner, MAX_OWNER_LENGTH, false) ?? checkDate("idleBefore", idleBefore, false)
  if (problem !== undefined) return problem
  if (expired !== undefined && typeof expired !== "boolean") return invalid("expired", "expired must be a boolean")
  if (owner === undefined && idleBefore === undefined && expired !== true) {
    return invalid("filter", "deleteSessions needs owner, idleBefore or expired: true (it never deletes every session)")
  }
  return undefined
}

const fromEither = <A>(either: Either.Either<A, InvalidArgumentError>) =>
  Either.isRight(either) ? Effect.succeed(either.right) : Effect.fail(either.left)

export const makeCatalog = (context: CatalogContext): Effect.Effect<Catalog, SessionStoreError> =>
  Effect.gen(function*() {
    const { names, sql, storeError, trace } = context
    const features = yield* detectCatalogFeatures(sql).pipe(Effect.mapError(storeError("connect")))
    const statements: CatalogStatements = makeCatalogStatements(sql, names, features)
    let hasColumns = yield* statements.hasCatalogColumns.pipe(Effect.mapError(storeError("connect")))

    // Until the tables are upgraded the catalogue looks again on each call, so a store built
    // before another process ran the upgrade starts working without a restart.
    const requireColumns = (operation: string): Effect.Effect<void, SessionStoreError> =>
      hasColumns ? Effect.void : statements.hasCatalogColumns.pipe(
        Effect.mapError(storeError(operation)),
        Effect.flatMap((found) => {
          hasColumns = found
          return found ? Effect.void : Effect.fail(
            new SessionStoreError({
              operation,
              message: `${operation} needs the catalogue columns of ${JSON.stringify(names.sessions)}: upgrade the ` +
                "tables (SqlSessionStore.migrate, SqlSessionStore.migrations, agent-sessions migrate, or createTables: true)"
            })
          )
        })
      )

    const checkSessionId = (sessionId: string) => {
      const problem = context.sessionIdError(sessionId)
      return problem === undefined ? Effect.void : Effect.fail(problem)
    }

    const retryDelete = retryTransient("deleteSessions")
    // Reads of the candidates in a row that deleted nothing before a pruner stops (see deleteSessions).
    const MAX_EMPTY_BATCHES = 3

    const updateSession = (sessionId: string, patch: SessionPatch) =>
      trace("updateSession")((span) =>
        Effect.gen(function*() {
          yield* checkSessionId(sessionId)
          span.attribute("session.id", sessionId)
          const fields = yield* fromEither(validatePatch(patch))
          yield* requireColumns("updateSession")
          yield* statements.upsertFields(sessionId, fields).pipe(
            retryTransient("updateSession"),
            Effect.mapError(storeError("updateSession", sessionId)),
            Effect.uninterruptible
          )
        })
      )

    const getSession = (sessionId: string) =>
      trace("getSession")((span) =>
        Effect.gen(function*() {
          yield* checkSessionId(sessionId)
          span.attribute("session.id", sessionId)
          yield* requireColumns("getSession")
          const row = yield* statements.selectInfo(sessionId).pipe(
            retryTransient("getSession"),
            Effect.mapError(storeError("getSession", sessionId))
          )
          return Option.map(Option.fromNullable(row), toSessionInfo)
        })
      )

    const listSessions = (options?: ListSessionsOptions) =>
      trace("listSessions")((span) =>
        Effect.gen(function*() {
          const { query, scope } = yield* fromEither(validateListOptions(options, names.sessions))
          yield* requireColumns("listSessions")
          const rows = yield* statements.selectPage({ ...query, limit: query.limit + 1 }).pipe(
            retryTransient("listSessions"),
            Effect.mapError(storeError("listSessions"))
          )
          const page = rows.slice(0, query.limit)
          const last = page[page.length - 1]
          span.attribute("session.count", page.length)
          return {
            sessions: page.map(toSessionInfo),
            nextCursor: rows.length > query.limit && last !== undefined
              ? encodeCursor(scope, { updatedKey: last.updated_key, sessionId: last.session_id })
              : undefined
          } satisfies SessionPage
        })
      )

    const deleteSessions = (filter: DeleteSessionsFilter) =>
      trace("deleteSessions")((span) =>
        Effect.gen(function*() {
          const problem = validateDeleteFilter(filter)
          if (problem !== undefined) return yield* problem
          yield* requireColumns("deleteSessions")
          const query = {
            owner: filter.owner,
            idleBefore: filter.idleBefore?.getTime(),
            expiredAt: filter.expired === true ? yield* Clock.currentTimeMillis : undefined
          }
          const hook = yield* FiberRef.get(afterPruneCandidates)
          let total = 0
          let emptyBatches = 0
          while (true) {
            const ids = yield* statements.selectCandidates(query, DELETE_BATCH_SIZE).pipe(retryDelete)
            if (ids.length === 0) break
            yield* hook(ids)
            const deleted = yield* statements.deleteBatch(ids, query, context.hasOperations).pipe(
              retryDelete,
              Effect.uninterruptible
            )
            total += deleted
            // A short batch deleted whole was the last. Rows of a batch not deleted were taken by
            // another pruner or written to meanwhile, which the next read of the candidates shows;
            // they may also have been skipped as locked when no pruner was left to delete them
            // (seen once on MariaDB: 4 pruners of 1,234 sessions deleted 500 in all). So the
            // candidates are read again, and a pruner leaves the rest to the others only after a
            // few reads in a row in which it could delete nothing.
            if (ids.length < DELETE_BATCH_SIZE && deleted === ids.length) break
            emptyBatches = deleted === 0 ? emptyBatches + 1 : 0
            if (emptyBatches >= MAX_EMPTY_BATCHES) break
          }
          span.attribute("session.deleted", total)
          return total
        }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storeError("deleteSessions")(error))))
      )

    const exchange = makeExchange({ ...context, catalog: statements, requireColumns })

    return {
      updateSession,
      getSession,
      listSessions,
      deleteSessions,
      exportSessions: exchange.exportSessions,
      importSessions: exchange.importSessions
    }
  })
