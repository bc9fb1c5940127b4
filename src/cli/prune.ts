/**
 * `agent-sessions prune --idle 30d`: deletes sessions not updated for that long.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Clock, Duration, Effect, Either, Option } from "effect"
import { SessionStore } from "../SessionStore.js"
import { parseDuration } from "./duration.js"
import { progressBar } from "./progress.js"
import { databaseOptions, jsonOption, ownerOption, printJson, withStore, writeStdout } from "./shared.js"

/** The library's largest page. */
const PAGE = 1000

const idleOption = Options.text("idle").pipe(
  Options.withPseudoName("DURATION"),
  Options.mapEffect((text) =>
    Either.mapLeft(parseDuration(text), (why) => ValidationError.invalidValue(HelpDoc.p(`--idle: ${why}`)))
  ),
  Options.withDescription("Delete sessions not updated for this long: 30d, 12h, 90m, 45s, 2w")
)

/**
 * When the sessions `deleteSessions` would remove were last updated, oldest first: read through
 * the listing with the same filter, so the dry run counts without deleting.
 */
const idleSince = (owner: string | undefined, updatedBefore: Date) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const times: Array<number> = []
    let cursor: string | undefined
    do {
      const page = yield* store.listSessions({ owner, updatedBefore, cursor, limit: PAGE })
      for (const session of page.sessions) times.push(session.updatedAt.getTime())
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return times.reverse()
  })

/** Steps of the progress bar: the library reports only a total per call. */
const STEPS = 20

/**
 * Deletes in steps by moving the idle cutoff forward through the candidates' own update times,
 * so the bar moves as sessions go; every step's cutoff is at most the real one, and the last
 * step uses the real one, so exactly the same sessions are deleted as in one call.
 */
const deleteInSteps = (owner: string | undefined, idleBefore: Date, times: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const progress = yield* progressBar("prune", times.length, "sessions")
    const steps = Math.min(STEPS, times.length)
    const cutoffs = Array.from({ length: steps - 1 }, (_, step) => times[Math.floor(((step + 1) * times.length) / steps)]!)
    let deleted = 0
    for (const cutoff of [...new Set(cutoffs)].filter((time) => time < idleBefore.getTime())) {
      deleted += yield* store.deleteSessions({ owner, idleBefore: new Date(cutoff) })
      yield* progress.update(deleted)
    }
    deleted += yield* store.deleteSessions({ owner, idleBefore })
    yield* progress.update(deleted)
    return deleted
  })

export const prune = Command.make("prune", {
  db: databaseOptions,
  idle: idleOption,
  owner: ownerOption,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Only count what would be deleted")),
  json: jsonOption
}, ({ db, dryRun, idle, json, owner }) =>
  Effect.gen(function*() {
    const ownerFilter = Option.getOrUndefined(owner)
    const idleBefore = new Date((yield* Clock.currentTimeMillis) - Duration.toMillis(idle))
    const times = yield* idleSince(ownerFilter, idleBefore)
    const candidates = times.length
    const deleted = dryRun || candidates === 0 ? 0 : yield* deleteInSteps(ownerFilter, idleBefore, times)
    const who = ownerFilter === undefined ? "" : ` of owner "${ownerFilter}"`
    yield* json
      ? printJson({ dryRun, idleBefore: idleBefore.toISOString(), matched: candidates, deleted })
      : writeStdout(
        dryRun
          ? `Would delete ${candidates} sessions${who} not updated since ${idleBefore.toISOString()} (dry run).\n`
          : `Deleted ${deleted} sessions${who} not updated since ${idleBefore.toISOString()}.\n`
      )
  }).pipe(Effect.scoped, withStore(db))).pipe(
    Command.withDescription("Delete sessions idle for longer than --idle, with their items.")
  )
