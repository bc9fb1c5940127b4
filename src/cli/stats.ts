/**
 * `agent-sessions stats`: how much is stored, how old it is, and who owns most of it.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { type SessionStats, sessionStats } from "../internal/stats.js"
import { SessionStoreError } from "../SessionStore.js"
import {
  databaseOptions,
  formatBytes,
  formatDate,
  formatFields,
  formatTable,
  jsonOption,
  ownerOption,
  printJson,
  sqlLayer,
  tableNamesOf,
  writeStdout
} from "./shared.js"

const human = (figures: SessionStats): string => {
  const fields = formatFields([
    ["Sessions", String(figures.sessions)],
    ["Items", String(figures.items)],
    ["Stored", `${formatBytes(figures.bytes)} (${figures.bytes} bytes of items)`],
    ["Oldest", `${formatDate(figures.oldest)} (created)`],
    ["Newest", `${formatDate(figures.newest)} (updated)`]
  ])
  const owners = figures.topOwners.length === 0
    ? "No sessions have an owner."
    : `Top owners:\n${formatTable(["OWNER", "SESSIONS"], figures.topOwners.map((o) => [o.owner, o.sessions]))}`
  return `${fields}\n\n${owners}\n`
}

export const stats = Command.make("stats", {
  db: databaseOptions,
  owner: ownerOption,
  top: Options.integer("top").pipe(Options.withDefault(5), Options.withDescription("How many owners to list (default 5)")),
  json: jsonOption
}, ({ db, json, owner, top }) =>
  Effect.gen(function*() {
    const names = yield* tableNamesOf(db)
    const figures = yield* sessionStats(names, { owner: Option.getOrUndefined(owner), topOwners: Math.max(0, top) }).pipe(
      Effect.mapError((cause) =>
        new SessionStoreError({
          operation: "stats",
          message: `could not read the statistics (${
            (cause.cause as { message?: string } | undefined)?.message ?? cause.message
          }); if the tables are missing or older than 0.2.0, run agent-sessions migrate`,
          cause
        })
      )
    )
    yield* json
      ? printJson({ ...figures, oldest: figures.oldest?.toISOString() ?? null, newest: figures.newest?.toISOString() ?? null })
      : writeStdout(human(figures))
  }).pipe(Effect.provide(sqlLayer(db.url)))).pipe(
    Command.withDescription("Totals: sessions, items, bytes, the oldest and newest, and the top owners.")
  )
