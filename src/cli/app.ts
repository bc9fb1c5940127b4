/**
 * The `agent-sessions` program: the commands, and how their failures become exit codes. Loaded
 * by `main.ts`.
 *
 * Exit codes (docs/cli.md): 0 done, 1 the work failed, 2 a usage error, 3 no such session.
 */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit } from "effect"
import { exportCommand } from "./export.js"
import { importCommand } from "./import.js"
import { list } from "./list.js"
import { migrate } from "./migrate.js"
import { prune } from "./prune.js"
import { ExitCode, isUsageFailure, NotFoundError, OutputClosed } from "./shared.js"
import { show } from "./show.js"
import { stats } from "./stats.js"

const VERSION = "0.2.0"

const root = Command.make("agent-sessions").pipe(
  Command.withDescription("Inspect and maintain the sessions of effect-agent-sessions (DATABASE_URL or --url)."),
  Command.withSubcommands([list, show, exportCommand, importCommand, prune, migrate, stats])
)

const cli = Command.run(root, { name: "agent-sessions", version: VERSION })

/** The exit code of a failure, after telling the operator what went wrong (never a password). */
const report = (error: unknown): Effect.Effect<number> => {
  // The parser has already printed its message and the usage.
  if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.usage)
  if (error instanceof OutputClosed) return Effect.succeed(ExitCode.ok)
  const message = (error as { message?: string })?.message ?? String(error)
  const tag = (error as { _tag?: string })?._tag
  const code = isUsageFailure(error)
    ? ExitCode.usage
    : error instanceof NotFoundError
    ? ExitCode.notFound
    : ExitCode.failure
  const label = tag === undefined || tag === "UsageError" || tag === "NotFoundError" ? "" : ` (${tag})`
  return Console.error(`agent-sessions: ${message}${label}`).pipe(Effect.as(code))
}

// The parser renders help and its errors with ANSI styles: keep them for terminals only.
const ANSI_STYLE = /\u001b\[[0-9;]*m/g
const plain = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? arg.replace(ANSI_STYLE, "") : arg))
const withPlainText = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.consoleWith((console) => {
    const styled = (stream: NodeJS.WriteStream) => stream.isTTY === true && process.env.NO_COLOR === undefined
    if (styled(process.stdout) && styled(process.stderr)) return effect
    return Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(...(styled(process.stdout) ? args : plain(args))),
      error: (...args) => console.error(...(styled(process.stderr) ? args : plain(args)))
    })
  })

const program = Effect.suspend(() => cli(process.argv)).pipe(
  withPlainText,
  Effect.as(ExitCode.ok as number),
  Effect.catchAll(report),
  Effect.catchAllDefect((defect) =>
    Console.error(`agent-sessions: unexpected failure: ${Cause.pretty(Cause.die(defect))}`).pipe(
      Effect.as(ExitCode.failure as number)
    )
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? (exit.value as number) : ExitCode.failure)
})
