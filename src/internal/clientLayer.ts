/**
 * An `SqlClient` layer for a parsed database URL. Dialect packages are imported on demand, so an
 * application installs only the one it uses.
 */
import { SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import { SessionStoreError } from "../SessionStore.js"
import { type DatabaseUrl, redactUrl } from "./url.js"

export interface ConnectionOptions {
  /** Pool size for PostgreSQL and MySQL. Default 10. */
  readonly maxConnections?: number | undefined
  /** How long to wait for the database before failing with `SessionStoreError`. Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** Longest synchronous wait for another process's SQLite lock; see `retry.ts` for the rest. */
const SQLITE_BUSY_TIMEOUT_MS = 100

const describe = (database: DatabaseUrl): string =>
  database.dialect === "sqlite" ? `sqlite:${database.filename}` : redactUrl(database.url)

const importFailed = (pkg: string) => (cause: unknown) =>
  new SessionStoreError({
    operation: "connect",
    message: `${pkg} is not installed: npm install ${pkg}`,
    cause
  })

export const clientLayer = (
  database: DatabaseUrl,
  options: ConnectionOptions = {}
): Layer.Layer<SqlClient.SqlClient, SessionStoreError> => {
  const connectTimeout = Duration.decode(options.connectTimeout ?? Duration.seconds(10))
  const maxConnections = options.maxConnections ?? 10
  type AnyClientLayer = Layer.Layer<SqlClient.SqlClient, unknown>
  const layer: Effect.Effect<AnyClientLayer, SessionStoreError> = (() => {
    switch (database.dialect) {
      case "pg":
        return Effect.tryPromise({ try: () => import("@effect/sql-pg"), catch: importFailed("@effect/sql-pg") }).pipe(
          Effect.map(({ PgClient }): AnyClientLayer =>
            PgClient.layer({
              url: Redacted.make(database.url),
              maxConnections,
              connectTimeout,
              applicationName: "effect-agent-sessions"
            })
          )
        )
      case "mysql":
        return Effect.tryPromise({ try: () => import("@effect/sql-mysql2"), catch: importFailed("@effect/sql-mysql2") })
          .pipe(
            Effect.map(({ MysqlClient }): AnyClientLayer => {
              // MysqlClient ignores poolConfig (and so the connect timeout) when given a url.
              const url = new URL(database.url)
              return MysqlClient.layer({
                host: url.hostname || "localhost",
                port: url.port === "" ? 3306 : Number(url.port),
                database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
                username: url.username === "" ? undefined : decodeURIComponent(url.username),
                password: url.password === "" ? undefined : Redacted.make(decodeURIComponent(url.password)),
                maxConnections,
                poolConfig: { connectTimeout: Duration.toMillis(connectTimeout) }
              })
            })
          )
      case "sqlite":
        return Effect.tryPromise({
          try: () => import("@effect/sql-sqlite-node"),
          catch: importFailed("@effect/sql-sqlite-node")
        }).pipe(
          Effect.map(({ SqliteClient }): AnyClientLayer =>
            SqliteClient.layer({ filename: database.filename }).pipe(
              // better-sqlite3 waits for a lock synchronously, stalling the whole process: wait
              // briefly there, and let the store's retries (asynchronous) do the rest.
              Layer.tap((context) =>
                Context.get(context, SqlClient.SqlClient).unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
              )
            )
          )
        )
    }
  })()
  return Layer.unwrapEffect(layer).pipe(
    Layer.mapError((cause) =>
      cause instanceof SessionStoreError ? cause : new SessionStoreError({
        operation: "connect",
        message: `could not connect to ${describe(database)}: ${
          (cause as { cause?: { message?: string } })?.cause?.message ?? (cause as Error)?.message ?? String(cause)
        }`,
        cause: (cause as { cause?: unknown })?.cause ?? cause
      })
    )
  )
}
