/**
 * The SQL backend of `SessionStore`, for PostgreSQL, MySQL/MariaDB and SQLite through
 * `@effect/sql`. The dialect is whichever `SqlClient` the application provides.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Config, Effect, Either, Layer, Redacted, type Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"
import {
  DEFAULT_BATCH_CONCURRENCY as defaultBatchConcurrency,
  DEFAULT_MAX_BATCH_SIZE as defaultMaxBatchSize,
  makeBatching
} from "./internal/batching.js"
import { makeCatalog } from "./internal/catalog.js"
import { upgradeCatalog } from "./internal/catalogStatements.js"
import { clientLayer, type ConnectionOptions, importDialect } from "./internal/clientLayer.js"
import { makeCodec } from "./internal/codec.js"
import { makeCore } from "./internal/core.js"
import { prepareFromUrl } from "./internal/fromUrl.js"
import { makeHistory } from "./internal/history.js"
import { migrationKeys } from "./internal/migrations.js"
import { makeReading } from "./internal/reading.js"
import * as Retention from "./internal/retention.js"
import { retryTransient } from "./internal/retry.js"
import { inspectTables, tableProblem } from "./internal/tables.js"
import {
  detectFeatures,
  makeStatements,
  type Statements,
  type TableNames,
  transactionOf
} from "./internal/statements.js"
import { storeError, traced } from "./internal/tracing.js"
import {
  mysqlSessionIdProblem,
  sessionIdProblem,
  sessionIdErrorWith,
  validateTableName
} from "./internal/validation.js"
import { ItemFromJson } from "./ItemSchema.js"
import { InvalidArgumentError, type Item, SessionStore, SessionStoreError } from "./SessionStore.js"

/**
 * @since 0.1.0
 */
export interface SqlSessionStoreOptions {
  /**
   * Create the tables and index when missing (idempotent, safe from many processes). Default
   * `false`: then building the store fails with `SessionStoreError` when a table is missing.
   */
  readonly createTables?: boolean | undefined
  /** Default `agent_sessions`, as in the Python SDK. */
  readonly sessionsTable?: string | undefined
  /** Default `agent_messages`, as in the Python SDK. */
  readonly messagesTable?: string | undefined
  /** Where applied history-transaction ids are recorded. Default `agent_session_operations`. */
  readonly operationsTable?: string | undefined
  /** From the stored text to an item. Default `ItemFromJson`. */
  readonly schema?: Schema.Schema<Item, string> | undefined
  /**
   * Largest encoded item, in UTF-8 bytes. Default 8 MiB. An item must also fit in one statement:
   * on MySQL/MariaDB the server's `max_allowed_packet` (see docs/limits.md).
   */
  readonly maxItemBytes?: number | undefined
  /**
   * Natural batching: concurrent `addItems` calls (and, on PostgreSQL, `getItems(id, limit)` and
   * `popItem`) that find the store's statements busy queue up, and go out together as one
   * statement (PostgreSQL) or one short transaction (MySQL/MariaDB, SQLite) when one frees. A call
   * that finds the pipe free runs at once, alone. Default `true`. See docs/batching.md.
   */
  readonly batching?: boolean | undefined
  /** The most calls one batched statement carries. Default 64 (`DEFAULT_MAX_BATCH_SIZE`). */
  readonly maxBatchSize?: number | undefined
  /**
   * How many batched statements may be in flight at once, each on its own connection; a call
   * that finds them all busy queues and joins the next batch. Default 2
   * (`DEFAULT_BATCH_CONCURRENCY`), never more than the pool's connections (1 on SQLite).
   */
  readonly batchConcurrency?: number | undefined
}

/**
 * The default `maxItemBytes`: 8 MiB, comfortably below MariaDB's default 16 MiB packet limit.
 *
 * @since 0.1.0
 */
export const DEFAULT_MAX_ITEM_BYTES = 8 * 1024 * 1024

/**
 * The default `maxBatchSize` of natural batching (see docs/batching.md).
 *
 * @since 0.1.0
 */
export const DEFAULT_MAX_BATCH_SIZE = defaultMaxBatchSize

/**
 * The default `batchConcurrency` of natural batching (see docs/batching.md).
 *
 * @since 0.1.0
 */
export const DEFAULT_BATCH_CONCURRENCY = defaultBatchConcurrency

/**
 * @since 0.1.0
 */
export const defaultTableNames: TableNames = {
  sessions: "agent_sessions",
  messages: "agent_messages",
  operations: "agent_session_operations"
}

const resolveTableNames = (options: SqlSessionStoreOptions) =>
  Effect.all({
    sessions: validateTableName("sessionsTable", options.sessionsTable ?? defaultTableNames.sessions),
    messages: validateTableName("messagesTable", options.messagesTable ?? defaultTableNames.messages),
    operations: validateTableName("operationsTable", options.operationsTable ?? defaultTableNames.operations)
  })

/**
 * Builds a `SessionStore` on the `SqlClient` in context. Table names are validated and every
 * dialect-specific statement is chosen here, once.
 *
 * @since 0.1.0
 */
export const make = (
  options: SqlSessionStoreOptions = {}
): Effect.Effect<SessionStore["Type"], InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    const maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES
    if (!Number.isSafeInteger(maxItemBytes) || maxItemBytes <= 0) {
      return yield* new InvalidArgumentError({
        argument: "maxItemBytes",
        message: `maxItemBytes must be a positive integer, got ${maxItemBytes}`
      })
    }
    // A user's name transforms (camelCase and the like) must not rename our columns.
    const client = yield* SqlClient.SqlClient
    const sql = client.withoutTransforms()
    const features = yield* detectFeatures(sql).pipe(Effect.mapError(storeError("connect")))
    const statements: Statements = makeStatements(sql, names, features)
    const transaction = transactionOf(sql)
    const batching = yield* makeBatching(client, names, statements, options)
    const sessionIdError = sessionIdErrorWith(
      sql.onDialectOrElse({ mysql: () => mysqlSessionIdProblem, orElse: () => sessionIdProblem })
    )
    // One query: which tables exist (on tables made by the Python SDK there is no operations table
    // until migrations add it), and on MySQL how session ids compare.
    const checkTables = (requirePresent: boolean) =>
      inspectTables(sql, names).pipe(
        Effect.flatMap((report) =>
          Effect.flatMap(tableProblem(sql, names, report, requirePresent), (problem) =>
            problem === undefined
              ? Effect.succeed(report)
              : Effect.fail(new SessionStoreError({ operation: "connect", message: `SqlSessionStore: ${problem}` })))
        ),
        Effect.catchTag("SqlError", (error) => Effect.fail(storeError("connect")(error)))
      )
    if (options.createTables === true) {
      // Existing tables first: DDL against a case-insensitive sessions table fails obscurely.
      yield* checkTables(false)
      yield* statements.createTables.pipe(
        Effect.zipRight(upgradeCatalog(sql, names)),
        retryTransient("createTables"),
        Effect.mapError(storeError("createTables"))
      )
    }
    const hasOperations = (yield* checkTables(true)).present.has(names.operations)
    const catalog = yield* makeCatalog({
      sql,
      names,
      statements,
      hasOperations,
      maxItemBytes,
      sessionIdError,
      storeError,
      trace: traced
    })

    const codec = makeCodec(options.schema ?? ItemFromJson, maxItemBytes, statements.limits)
    const reading = makeReading(codec)
    const context = { statements, transaction, codec, reading, hasOperations, sessionIdError, trace: traced }
    return SessionStore.of({
      ...makeCore({ ...context, batching }),
      ...makeHistory({ ...context, names }),
      ...catalog
    })
  })

/**
 * The store as a layer over the application's `SqlClient`.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = SqlSessionStore.layer({ createTables: true }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make(process.env.DATABASE_URL!) }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: SqlSessionStoreOptions = {}
): Layer.Layer<SessionStore, InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Layer.effect(SessionStore, make(options))

/**
 * Like `layer`, with the options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = SqlSessionStore.layerConfig({
 *   createTables: Config.boolean("SESSIONS_CREATE_TABLES").pipe(Config.withDefault(false)),
 *   messagesTable: Config.string("SESSIONS_MESSAGES_TABLE").pipe(Config.withDefault("agent_messages"))
 * })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Omit<SqlSessionStoreOptions, "schema">>,
  extra: Pick<SqlSessionStoreOptions, "schema"> = {}
): Layer.Layer<SessionStore, ConfigError | InvalidArgumentError | SessionStoreError, SqlClient.SqlClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), (options) => layer({ ...options, ...extra })))

/**
 * The store over a fresh in-memory SQLite database with the tables created: for tests.
 * Every build of the layer is a new, empty database. Needs `@effect/sql-sqlite-node`.
 *
 * @since 0.1.0
 */
export const layerTest = (
  options: Omit<SqlSessionStoreOptions, "createTables"> = {}
): Layer.Layer<SessionStore, InvalidArgumentError | SessionStoreError> =>
  Layer.unwrapEffect(
    importDialect("sqlite", () => import("@effect/sql-sqlite-node")).pipe(
      Effect.map(({ SqliteClient }) =>
        layer({ ...options, createTables: true }).pipe(
          // The config is a constant, so the client's ConfigError cannot happen.
          Layer.provide(Layer.orDie(SqliteClient.layer({ filename: ":memory:" })))
        )
      )
    )
  )

/**
 * This library's migrations, in the order they run. A new one is appended, never inserted, so a
 * deployment that applied the earlier ones only runs the new one.
 */
const migrationSteps = {
  create_tables: (sql: SqlClient.SqlClient, names: TableNames) => makeStatements(sql, names).createTables,
  // 0.2.0: owner, title, metadata and expires_at, and the listing indexes (see `migrate`).
  catalogue: (sql: SqlClient.SqlClient, names: TableNames) => upgradeCatalog(sql, names)
}

/**
 * The name of one of this library's migrations: the part of its key after the number.
 *
 * @since 0.1.0
 */
export type MigrationStep = keyof typeof migrationSteps

/**
 * Options of `migrations`.
 *
 * @since 0.1.0
 */
export interface MigrationOptions extends Pick<SqlSessionStoreOptions, "sessionsTable" | "messagesTable" | "operationsTable"> {
  /**
   * The number each migration gets, to merge them into your own `Migrator.fromRecord`: pick
   * numbers above your latest migration's. Without `ids` they are numbered 1, 2, … for a Migrator
   * with a migrations table of their own. When a newer version adds a migration, TypeScript asks
   * for its number here (and `migrations` throws `InvalidArgumentError` without one).
   */
  readonly ids?: { readonly [Step in MigrationStep]: number } | undefined
}

/**
 * The tables as migrations for an `@effect/sql` `Migrator`, keyed
 * `<number>_agent_sessions_<step>` (`0001_agent_sessions_create_tables`). The DDL is idempotent,
 * so it is also safe on tables the Python SDK created: it adds the index and the operations table,
 * and the second step (`catalogue`) adds the catalogue's columns and indexes (see `migrate`).
 *
 * `@effect/sql`'s Migrator skips every number at or below the highest it has applied, so either
 * run these in a migrations table of their own, or give them numbers after yours with `ids`.
 *
 * @example
 * ```ts
 * import { Migrator } from "@effect/sql"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * // In a migrations table of their own: numbered 1, 2, … whatever your own migrations are.
 * const migrateSessions = Migrator.make({})({
 *   loader: Migrator.fromRecord(SqlSessionStore.migrations()),
 *   table: "agent_sessions_migrations"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const migrations = (
  options: MigrationOptions = {}
): Record<string, Effect.Effect<void, SqlError | InvalidArgumentError, SqlClient.SqlClient>> => {
  const steps = Object.keys(migrationSteps) as Array<MigrationStep>
  const keys = migrationKeys(steps, options.ids)
  return Object.fromEntries(steps.map((step, index) => [
    keys[index]!,
    Effect.gen(function*() {
      const names = yield* resolveTableNames(options)
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      yield* migrationSteps[step](sql, names)
    })
  ]))
}

/**
 * Creates the tables when missing and upgrades existing ones (the 0.1.0 store's, or the Python
 * SDK's) in place: the catalogue columns, the listing indexes, the operations table. Idempotent
 * and safe from several processes at once; what `createTables: true` and
 * `agent-sessions migrate` run.
 *
 * @since 0.2.0
 */
export const migrate = (
  options: Pick<SqlSessionStoreOptions, "sessionsTable" | "messagesTable" | "operationsTable"> = {}
): Effect.Effect<void, SessionStoreError | InvalidArgumentError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const names = yield* resolveTableNames(options)
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* makeStatements(sql, names).createTables.pipe(
      Effect.zipRight(upgradeCatalog(sql, names)),
      retryTransient("migrate"),
      Effect.mapError(storeError("migrate"))
    )
  }).pipe(Effect.withSpan("SessionStore.migrate"))

/**
 * @since 0.2.0
 */
export type RetentionOptions = Retention.RetentionOptions

/**
 * Retention as a scoped background fiber: every `every`, deletes the sessions idle for longer
 * than `idleFor` and the sessions past their `expiresAt` (of `owner` only, when given), logs
 * and counts (`SessionMetrics.prunedSessions`) what it removed, and stops with its scope. A
 * failed run is logged and the next run tries again. Reads never check `expiresAt`: expiry is
 * enforced by this pruning.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = SqlSessionStore.layerFromUrl("sqlite:sessions.db", { createTables: true })
 * const RetentionLive = SqlSessionStore.layerRetention({ idleFor: "30 days", every: "1 hour" })
 * // The store, with retention running for as long as the layer lives.
 * const AppLive = RetentionLive.pipe(Layer.provideMerge(SessionsLive))
 * ```
 *
 * @since 0.2.0
 */
export const layerRetention: (
  options: RetentionOptions
) => Layer.Layer<never, InvalidArgumentError, SessionStore> = Retention.layerRetention

/**
 * Options of `layerFromUrl`: the store's options, plus the pool's.
 *
 * @since 0.1.0
 */
export interface UrlOptions extends SqlSessionStoreOptions, ConnectionOptions {}

/**
 * The store and its own connection pool, from a database URL (see docs/urls.md for the forms,
 * SQLAlchemy's included, and the TLS parameters). An invalid URL or option fails the layer with
 * `InvalidArgumentError` before anything is built; every other failure, building the pool too,
 * is a `SessionStoreError` within `connectTimeout`. Neither ever contains the URL or password.
 *
 * @example
 * ```ts
 * import { Config, Layer } from "effect"
 * import { SqlSessionStore } from "effect-agent-sessions"
 *
 * const SessionsLive = Layer.unwrapEffect(
 *   Config.redacted("DATABASE_URL").pipe(
 *     Config.map((url) => SqlSessionStore.layerFromUrl(url, { createTables: true }))
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string> | string,
  options: UrlOptions = {}
): Layer.Layer<SessionStore, SessionStoreError | InvalidArgumentError> => {
  const prepared = prepareFromUrl(url, options)
  if (Either.isLeft(prepared)) return Layer.fail(prepared.left)
  const { connection, database, storeOptions } = prepared.right
  return layer(storeOptions).pipe(Layer.provide(clientLayer(database, connection)))
}
