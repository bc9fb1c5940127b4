/**
 * Running `agent-sessions` as a subprocess, as an operator would, and looking at the database
 * behind it with raw SQL.
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Either } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { clientLayer } from "../../src/internal/clientLayer.js"
import { parseDatabaseUrl } from "../../src/internal/url.js"

/** The project folder: the CLI runs from here, like `npm run sessions` does. */
export const projectDir = fileURLToPath(new URL("../..", import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `env` is the whole environment besides PATH/HOME: no DATABASE_URL leaks in from the caller's. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<CliResult> =>
  runIn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], env)

/** A command line through the shell, from the project folder. */
export const runShell = (command: string, env: Record<string, string> = {}): Promise<CliResult> =>
  runIn("/bin/sh", ["-c", command], env)

const runIn = (file: string, args: ReadonlyArray<string>, env: Record<string, string>): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(file, args, {
      cwd: projectDir,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      maxBuffer: 64 * 1024 * 1024
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout, stderr })
    })
  })

/** Parses stdout as JSON, with the whole output in the failure when it is not. */
export const json = <A = any>(result: CliResult): A => {
  try {
    return JSON.parse(result.stdout) as A
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  }
}

/** Runs `f` with a raw client of the URL's database. */
export const withSql = <A>(url: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>): Promise<A> => {
  const database = parseDatabaseUrl(url)
  if (Either.isLeft(database)) throw database.left
  return Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => f(sql.withoutTransforms())).pipe(
      Effect.provide(clientLayer(database.right, { maxConnections: 2, connectTimeout: Duration.seconds(10) }))
    )
  )
}
