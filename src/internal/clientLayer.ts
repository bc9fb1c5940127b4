/**
 * An `SqlClient` layer for a parsed database URL. Dialect packages are imported on demand, so an
 * application installs only the one it uses.
 */
import { SqlClient } from "@effect/sql"
import { Cause, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { readFile } from "node:fs/promises"
import type { ConnectionOptions as TlsOptions } from "node:tls"
import { InvalidArgumentError, SessionStoreError } from "../SessionStore.js"
import { mysqlStream } from "./mysqlSockets.js"
import { type DatabaseUrl, describeDatabase, type ServerUrl, type TlsSettings } from "./url.js"

export interface ConnectionOptions {
  /** Pool size for PostgreSQL and MySQL: an integer of at least 1. Default 10. */
  readonly maxConnections?: number | undefined
  /** How long to wait for the database before failing with `SessionStoreError`. Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

interface ResolvedOptions {
  readonly maxConnections: number
  readonly connectTimeout: Duration.Duration
}

/** Checks the pool options before anything is built, so `fromUrl` can throw at once. */
export const resolveConnectionOptions = (
  options: ConnectionOptions
): Either.Either<ResolvedOptions, InvalidArgumentError> => {
  const maxConnections = options.maxConnections ?? 10
  if (typeof maxConnections !== "number" || !Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    return Either.left(
      new InvalidArgumentError({
        argument: "maxConnections",
        message: `maxConnections must be an integer of at least 1, got ${String(maxConnections)}`
      })
    )
  }
  const connectTimeout = Duration.decodeUnknown(options.connectTimeout ?? Duration.seconds(10))
  if (Option.isNone(connectTimeout) || !Duration.isFinite(connectTimeout.value) || Duration.toMillis(connectTimeout.value) <= 0) {
    return Either.left(
      new InvalidArgumentError({
        argument: "connectTimeout",
        message: "connectTimeout must be a positive, finite duration (milliseconds or a Duration)"
      })
    )
  }
  return Either.right({ maxConnections, connectTimeout: connectTimeout.value })
}

/**
 * The dialect packages, with the ranges this release supports (the `peerDependencies` of
 * package.json; a test keeps the two equal).
 */
export const DIALECT_PACKAGES = {
  pg: { name: "@effect/sql-pg", range: "^0.53.0" },
  mysql: { name: "@effect/sql-mysql2", range: "^0.53.0" },
  sqlite: { name: "@effect/sql-sqlite-node", range: "^0.53.0" }
} as const

const importFailed = (dialect: keyof typeof DIALECT_PACKAGES) => (cause: unknown) => {
  const { name, range } = DIALECT_PACKAGES[dialect]
  const missing = (cause as { code?: unknown })?.code === "ERR_MODULE_NOT_FOUND" ||
    (cause as { code?: unknown })?.code === "MODULE_NOT_FOUND"
  return new SessionStoreError({
    operation: "connect",
    message: missing
      ? `${name} is not installed: npm install ${name}@${range}`
      : `${name} could not be loaded (reinstall it: npm install ${name}@${range})`,
    cause
  })
}

/** Imports a dialect package, failing with the install command when it is missing. */
export const importDialect = <A>(dialect: keyof typeof DIALECT_PACKAGES, load: () => Promise<A>) =>
  Effect.tryPromise({ try: load, catch: importFailed(dialect) })

/** Longest synchronous wait for another process's SQLite lock; see `retry.ts` for the rest. */
const SQLITE_BUSY_TIMEOUT_MS = 100

/**
 * Idle pooled PostgreSQL connections are closed after this long, so a script that never calls
 * `close()` still exits once it is idle (an open socket keeps Node running).
 */
const IDLE_TIMEOUT = Duration.seconds(5)

// ---------------------------------------------------------------------------------------------
// Causes without secrets

const scrubText = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((acc, secret) => (secret === "" ? acc : acc.split(secret).join("***")), text)

const COPIED_FIELDS = ["code", "errno", "syscall", "address", "port", "severity", "routine", "sqlState", "sqlMessage"]

/**
 * A copy of a driver's error that keeps its message, name, code and causes with every secret
 * replaced. The original is dropped: drivers hang their configuration (and so the password) on
 * errors and sockets in ways no one can audit.
 */
export const scrubCause = (error: unknown, secrets: ReadonlyArray<string>, depth = 0): unknown => {
  if (depth > 4) return undefined
  if (!(error instanceof Error)) {
    return error === undefined ? undefined : new Error(scrubText(String((error as { message?: unknown })?.message ?? error), secrets))
  }
  const nested = error instanceof AggregateError
    ? error.errors.map((inner) => scrubCause(inner, secrets, depth + 1))
    : undefined
  const copy = (nested === undefined
    ? new Error(scrubText(error.message, secrets))
    : new AggregateError(nested, scrubText(error.message, secrets))) as Error & Record<string, unknown>
  copy.name = scrubText(error.name, secrets)
  copy.stack = scrubText(error.stack ?? "", secrets)
  for (const field of COPIED_FIELDS) {
    const value = (error as unknown as Record<string, unknown>)[field]
    if (typeof value === "number" || typeof value === "boolean") copy[field] = value
    else if (typeof value === "string") copy[field] = scrubText(value, secrets)
  }
  if ("cause" in error && error.cause !== undefined) copy.cause = scrubCause(error.cause, secrets, depth + 1)
  return copy
}

/** The innermost useful message: SqlError wraps the driver's error, pg's may be an AggregateError. */
const detailOf = (error: unknown): string => {
  const inner = (error as { _tag?: unknown; cause?: unknown })?._tag === "SqlError"
    ? (error as { cause?: unknown }).cause ?? error
    : error
  if (inner instanceof AggregateError && inner.message === "" && inner.errors.length > 0) return detailOf(inner.errors[0])
  if (inner instanceof Error) return inner.message || String((inner as { code?: unknown }).code ?? inner.name)
  return String((inner as { message?: unknown })?.message ?? inner)
}

const causeChain = (error: unknown): ReadonlyArray<unknown> => {
  const chain: Array<unknown> = []
  for (let current = error, i = 0; current !== undefined && current !== null && i < 6; i++) {
    chain.push(current)
    if (current instanceof AggregateError) chain.push(...current.errors)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

/** The server answered that it does not do TLS (pg: "does not support SSL", mysql2: HANDSHAKE_NO_SSL_SUPPORT). */
const isTlsRefused = (error: unknown): boolean =>
  causeChain(error).some((e) =>
    (e as { code?: unknown })?.code === "HANDSHAKE_NO_SSL_SUPPORT" ||
    /does not support SSL/i.test(String((e as { message?: unknown })?.message ?? ""))
  )

// ---------------------------------------------------------------------------------------------
// TLS

const readTlsFile = (database: DatabaseUrl, parameter: string, path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) => {
      // The path is the caller's URL text, which may hold anything: name the parameter and the
      // error code, never the path (the OS error's message quotes it).
      const code = (cause as { code?: unknown } | null)?.code
      return new SessionStoreError({
        operation: "connect",
        message: `could not read the ${parameter} file for ${describeDatabase(database)}${
          typeof code === "string" ? ` (${code})` : ""
        }`,
        cause: scrubCause(cause, [path])
      })
    }
  })

interface TlsFiles {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

const loadTlsFiles = (database: ServerUrl) =>
  Effect.all({
    ca: database.tls.ca === undefined || database.tls.ca === "system"
      ? Effect.succeed(undefined)
      : readTlsFile(database, "sslrootcert", database.tls.ca),
    cert: database.tls.cert === undefined ? Effect.succeed(undefined) : readTlsFile(database, "sslcert", database.tls.cert),
    key: database.tls.key === undefined ? Effect.succeed(undefined) : readTlsFile(database, "sslkey", database.tls.key)
  })

/** node:tls options for a mode: "require" encrypts, "verify-ca" checks the chain, "verify-full" the host too. */
const tlsOptions = (mode: Exclude<TlsSettings["mode"], "disable" | "prefer">, files: TlsFiles): TlsOptions => ({
  ...(files.ca === undefined ? {} : { ca: files.ca }),
  ...(files.cert === undefined ? {} : { cert: files.cert }),
  ...(files.key === undefined ? {} : { key: files.key }),
  rejectUnauthorized: mode !== "require",
  ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {})
})

// ---------------------------------------------------------------------------------------------
// Layers per dialect

type AnyClientLayer = Layer.Layer<SqlClient.SqlClient, unknown>
type Tls = Exclude<TlsSettings["mode"], "prefer">

const pgLayer = (database: ServerUrl, options: ResolvedOptions, tls: Tls, files: TlsFiles) =>
  importDialect("pg", () => import("@effect/sql-pg")).pipe(
    Effect.map(({ PgClient }): AnyClientLayer =>
      PgClient.layer({
        host: database.host,
        port: database.port,
        database: database.database,
        username: database.username,
        password: database.password,
        ssl: tls === "disable" ? false : tlsOptions(tls, files),
        maxConnections: options.maxConnections,
        connectTimeout: options.connectTimeout,
        idleTimeout: IDLE_TIMEOUT,
        applicationName: database.applicationName ?? "effect-agent-sessions"
      })
    )
  )

const mysqlLayer = (database: ServerUrl, options: ResolvedOptions, tls: Tls, files: TlsFiles) =>
  importDialect("mysql", () => import("@effect/sql-mysql2")).pipe(
    Effect.map(({ MysqlClient }): AnyClientLayer => {
      const socketPath = database.host.startsWith("/") ? database.host : undefined
      return MysqlClient.layer({
        host: socketPath === undefined ? database.host : undefined,
        port: database.port,
        database: database.database,
        username: database.username,
        password: database.password,
        maxConnections: options.maxConnections,
        poolConfig: {
          connectTimeout: Duration.toMillis(options.connectTimeout),
          // Below the pool size, mysql2 runs a timer that never lets the process exit; our
          // sockets are unreferenced while idle instead (see mysqlSockets.ts).
          maxIdle: options.maxConnections,
          stream: mysqlStream as never,
          ...(socketPath === undefined ? {} : { socketPath }),
          ...(tls === "disable" ? {} : {
            ssl: { ...tlsOptions(tls, files), verifyIdentity: tls === "verify-full" } as never
          })
        }
      })
    })
  )

const sqliteLayer = (filename: string) =>
  importDialect("sqlite", () => import("@effect/sql-sqlite-node")).pipe(
    Effect.map(({ SqliteClient }): AnyClientLayer =>
      SqliteClient.layer({ filename }).pipe(
        // better-sqlite3 waits for a lock synchronously, stalling the whole process: wait
        // briefly there, and let the store's retries (asynchronous) do the rest.
        Layer.tap((context) =>
          Context.get(context, SqlClient.SqlClient).unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
        )
      )
    )
  )

const serverLayer = (database: ServerUrl, options: ResolvedOptions) => (tls: Tls, files: TlsFiles) =>
  Layer.unwrapEffect(
    database.dialect === "pg" ? pgLayer(database, options, tls, files) : mysqlLayer(database, options, tls, files)
  )

/**
 * The client layer for a parsed URL. Every failure, a defect of a driver included, becomes a
 * `SessionStoreError` that names the database by scheme, host, port and name only, with the
 * driver's error scrubbed of the password.
 */
export const clientLayer = (
  database: DatabaseUrl,
  options: ResolvedOptions
): Layer.Layer<SqlClient.SqlClient, SessionStoreError> => {
  const where = describeDatabase(database)
  const secrets = database.dialect === "sqlite" || database.password === undefined
    ? []
    : [Redacted.value(database.password), encodeURIComponent(Redacted.value(database.password))]
  const layer: Layer.Layer<SqlClient.SqlClient, unknown> = database.dialect === "sqlite"
    ? Layer.unwrapEffect(sqliteLayer(database.filename))
    : Layer.unwrapEffect(Effect.map(loadTlsFiles(database), (files) => {
      const build = serverLayer(database, options)
      if (database.tls.mode !== "prefer") return build(database.tls.mode, files)
      // libpq's "prefer": TLS when the server offers it, else plain.
      return Layer.catchAll(build("require", files), (error) => isTlsRefused(error) ? build("disable", files) : Layer.fail(error))
    }))
  return Layer.catchAllCause(layer, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Layer.failCause(cause as Cause.Cause<never>)
    const error = Cause.squash(cause)
    if (error instanceof SessionStoreError) return Layer.fail(error)
    // SqlError only wraps the driver's error: keep the driver's, scrubbed.
    const driverError = (error as { _tag?: unknown })?._tag === "SqlError" ? (error as { cause?: unknown }).cause ?? error : error
    const detail = database.dialect !== "sqlite" && isTlsRefused(error)
      ? `the server refused TLS (sslmode=${database.tls.mode}); use sslmode=prefer or sslmode=disable for a server without TLS`
      : scrubText(detailOf(error), secrets)
    return Layer.fail(
      new SessionStoreError({
        operation: "connect",
        message: `could not connect to ${where}: ${detail}`,
        cause: scrubCause(driverError, secrets)
      })
    )
  })
}
