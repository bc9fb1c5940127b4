/**
 * What every command of `agent-sessions` shares: the database option, the layers built from it,
 * the CLI's own errors and exit codes, and output formatting (aligned tables, JSON).
 */
import { Options } from "@effect/cli"
import type { SqlClient } from "@effect/sql"
import { Config, Data, Duration, Effect, Either, Layer, Redacted } from "effect"
import { existsSync } from "node:fs"
import { clientLayer } from "../internal/clientLayer.js"
import type { TableNames } from "../internal/statements.js"
import { parseDatabaseUrl } from "../internal/url.js"
import { validateTableName } from "../internal/validation.js"
import { InvalidArgumentError, type SessionStore, SessionStoreError } from "../SessionStore.js"
import * as SqlSessionStore from "../SqlSessionStore.js"

/**
 * Exit codes, documented in docs/cli.md: 0 done, 1 the work failed (database, file, import),
 * 2 the command line is wrong (flag, argument, URL, duration), 3 the named session does not exist.
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const

/** A mistake on the command line that the argument parser cannot see (a bad URL, say). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The session named on the command line does not exist. */
export class NotFoundError extends Data.TaggedError("NotFoundError")<{ readonly message: string }> {}

/** `--url`, else `DATABASE_URL`; kept `Redacted` so no help text or error ever shows it. */
export const urlOption = Options.redacted("url").pipe(
  Options.withPseudoName("URL"),
  Options.withFallbackConfig(Config.redacted("DATABASE_URL")),
  Options.withDescription(
    "Database URL (postgres://, mysql://, mariadb://, sqlite:file.db, SQLAlchemy forms too). Default: $DATABASE_URL"
  )
)

const tableOption = (name: string, fallback: string) =>
  Options.text(`${name}-table`).pipe(
    Options.withPseudoName("NAME"),
    Options.withDefault(fallback),
    Options.withDescription(`The ${name} table (default ${fallback}), when the store was given another name`)
  )

/** The database and the store's table names: what every command needs to find the sessions. */
export const databaseOptions = Options.all({
  url: urlOption,
  sessionsTable: tableOption("sessions", SqlSessionStore.defaultTableNames.sessions),
  messagesTable: tableOption("messages", SqlSessionStore.defaultTableNames.messages),
  operationsTable: tableOption("operations", SqlSessionStore.defaultTableNames.operations)
})

export interface Database {
  readonly url: Redacted.Redacted<string>
  readonly sessionsTable: string
  readonly messagesTable: string
  readonly operationsTable: string
}

/** The table names of `database`, validated like the store validates them. */
export const tableNamesOf = (database: Database): Effect.Effect<TableNames, InvalidArgumentError> =>
  Effect.all({
    sessions: validateTableName("sessions-table", database.sessionsTable),
    messages: validateTableName("messages-table", database.messagesTable),
    operations: validateTableName("operations-table", database.operationsTable)
  })

export const jsonOption = Options.boolean("json").pipe(Options.withDescription("Machine output: one JSON document"))

export const ownerOption = Options.text("owner").pipe(
  Options.withPseudoName("OWNER"),
  Options.optional,
  Options.withDescription("Only this owner's sessions")
)

/** The connection for a URL; a URL that cannot be parsed is a usage error (its password masked). */
export const sqlLayer = (
  url: Redacted.Redacted<string>,
  options: { readonly create?: boolean } = {}
): Layer.Layer<SqlClient.SqlClient, UsageError | SessionStoreError> => {
  const parsed = parseDatabaseUrl(Redacted.value(url))
  if (Either.isLeft(parsed)) {
    return Layer.fail(new UsageError({ message: parsed.left.message }))
  }
  const database = parsed.right
  // SQLite would silently create a mistyped file; only `migrate` may create one.
  if (database.dialect === "sqlite" && database.filename !== ":memory:" && !options.create && !existsSync(database.filename)) {
    return Layer.fail(
      new SessionStoreError({
        operation: "connect",
        message: `no SQLite database at ${database.filename} (agent-sessions migrate creates one)`
      })
    )
  }
  // Two connections: the CLI runs one command at a time.
  return clientLayer(database, { maxConnections: 2, connectTimeout: Duration.seconds(10) })
}

/** The store over the URL's database, as the tables are (no DDL: that is `migrate`'s job). */
export const storeLayer = (
  database: Database
): Layer.Layer<SessionStore | SqlClient.SqlClient, UsageError | SessionStoreError | InvalidArgumentError> =>
  SqlSessionStore.layer(tableOptions(database)).pipe(Layer.provideMerge(sqlLayer(database.url)))

/** The table names as the store's options. */
export const tableOptions = ({ messagesTable, operationsTable, sessionsTable }: Database) => ({
  sessionsTable,
  messagesTable,
  operationsTable
})

/** Runs `effect` with the store (and its client) of the database options. */
export const withStore = (database: Database) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | UsageError | SessionStoreError | InvalidArgumentError,
  Exclude<R, SessionStore | SqlClient.SqlClient>
> => Effect.provide(effect, storeLayer(database))

// ---------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------

/** The reader of stdout went away (`agent-sessions export | head`): stop quietly. */
export class OutputClosed extends Data.TaggedError("OutputClosed")<{}> {}

// Without a listener, a closed pipe is an unhandled 'error' event that kills the process.
process.stdout.on("error", () => undefined)

/** Writes to stdout and waits until it is flushed (a pipe applies back-pressure). */
export const writeStdout = (text: string): Effect.Effect<void, OutputClosed> =>
  Effect.async<void, OutputClosed>((resume) => {
    process.stdout.write(text, (error) => resume(error ? Effect.fail(new OutputClosed()) : Effect.void))
  })

export const printJson = (value: unknown): Effect.Effect<void, OutputClosed> => writeStdout(`${JSON.stringify(value, null, 2)}\n`)

/** Rows as an aligned table under a header; numbers are right-aligned. */
export const formatTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>
): string => {
  const cells = rows.map((row) => row.map((cell) => String(cell)))
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)))
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === "number"))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, column) =>
      column === row.length - 1 && !numeric[column]
        ? cell
        : numeric[column]
        ? cell.padStart(widths[column]!)
        : cell.padEnd(widths[column]!)
    ).join("  ").trimEnd()
  return [line(header), ...cells.map(line)].join("\n")
}

/** Label-value lines with the values aligned. */
export const formatFields = (fields: ReadonlyArray<readonly [label: string, value: string]>): string => {
  const width = Math.max(...fields.map(([label]) => label.length))
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n")
}

/** An instant for people: UTC, to the second. */
export const formatDate = (date: Date | null): string =>
  date === null ? "-" : date.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z")

export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** `owner` of an optional option, as the library's optional field. */
export const optionalOwner = (owner: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" }) =>
  owner._tag === "Some" ? owner.value : undefined

/** A store argument error caused by the command line (a bad id, say) is a usage error. */
export const isUsageFailure = (error: unknown): boolean =>
  error instanceof UsageError || error instanceof InvalidArgumentError
