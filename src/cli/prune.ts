/**
 * `agent-sessions prune --idle 30d`: deletes sessions not updated for that long.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Clock, Duration, Effect, Either, Option } from "effect"
import { SessionStore } from "../SessionStore.js"
import { parseDuration } from "./duration.js"
import { progressBar } from "./progress.js"
import { jsonOption, ownerOption, printJson, urlOption, withStore, writeStdout } from "./shared.js"

/** The library's largest page. */
const PAGE = 1000

const idleOption = Options.text("idle").pipe(
  Options.withPseudoName("DURATION"),
  Options.mapEffect((text) =>
    Either.mapLeft(parseDuration(text), (why) => ValidationError.invalidValue(HelpDoc.p(`--idle: ${why}`)))
  ),
  Options.withDescription("Delete sessions not updated for this long: 30d, 12h, 90m, 45s, 2w")
)

/** The sessions `deleteSessions` would remove, counted through the listing (same filter). */
const countIdle = (owner: string | undefined, updatedBefore: Date) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    let count = 0
    let cursor: string | undefined
    do {
      const page = yield* store.listSessions({ owner, updatedBefore, cursor, limit: PAGE })
      count += page.sessions.length
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return count
  })

export const prune = Command.make("prune", {
  url: urlOption,
  idle: idleOption,
  owner: ownerOption,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Only count what would be deleted")),
  json: jsonOption
}, ({ dryRun, idle, json, owner, url }) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ownerFilter = Option.getOrUndefined(owner)
    const idleBefore = new Date((yield* Clock.currentTimeMillis) - Duration.toMillis(idle))
    const candidates = yield* countIdle(ownerFilter, idleBefore)
    let deleted = 0
    if (!dryRun && candidates > 0) {
      // The library deletes in batches of its own but reports only the total: the bar moves once.
      const progress = yield* progressBar("prune", candidates, "sessions")
      deleted = yield* store.deleteSessions({ owner: ownerFilter, idleBefore })
      yield* progress.update(deleted)
    }
    const who = ownerFilter === undefined ? "" : ` of owner "${ownerFilter}"`
    yield* json
      ? printJson({ dryRun, idleBefore: idleBefore.toISOString(), matched: candidates, deleted })
      : writeStdout(
        dryRun
          ? `Would delete ${candidates} sessions${who} not updated since ${idleBefore.toISOString()} (dry run).\n`
          : `Deleted ${deleted} sessions${who} not updated since ${idleBefore.toISOString()}.\n`
      )
  }).pipe(Effect.scoped, withStore(url))).pipe(
    Command.withDescription("Delete sessions idle for longer than --idle, with their items.")
  )
