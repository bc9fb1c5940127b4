/**
 * `agent-sessions show <sessionId>`: a session's fields, then its items as a transcript.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { SessionStore } from "../SessionStore.js"
import { sessionJson } from "./list.js"
import {
  formatDate,
  formatFields,
  jsonOption,
  NotFoundError,
  printJson,
  databaseOptions,
  withStore,
  writeStdout
} from "./shared.js"
import { formatTranscript } from "./transcript.js"

export const show = Command.make("show", {
  sessionId: Args.text({ name: "sessionId" }).pipe(Args.withDescription("The session to show")),
  db: databaseOptions,
  limit: Options.integer("limit").pipe(
    Options.optional,
    Options.withDescription("Only the newest items, this many (default: all)")
  ),
  json: jsonOption
}, ({ db, json, limit, sessionId }) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const info = yield* store.getSession(sessionId)
    if (Option.isNone(info)) {
      return yield* new NotFoundError({ message: `no session "${sessionId}"` })
    }
    const items = yield* store.getItems(sessionId, Option.getOrUndefined(limit))
    if (json) {
      return yield* printJson({ session: sessionJson(info.value), items })
    }
    const session = info.value
    const fields = formatFields([
      ["Session", session.sessionId],
      ["Owner", session.owner ?? "-"],
      ["Title", session.title ?? "-"],
      ["Created", formatDate(session.createdAt)],
      ["Updated", formatDate(session.updatedAt)],
      ["Expires", session.expiresAt === null ? "never" : formatDate(session.expiresAt)],
      ["Items", String(session.itemCount)],
      ["Metadata", JSON.stringify(session.metadata)]
    ])
    const shown = items.length < session.itemCount ? ` (the newest ${items.length})` : ""
    const transcript = items.length === 0
      ? "No items."
      : `Items${shown}:\n${formatTranscript(items, Math.max(1, session.itemCount - items.length + 1))}`
    yield* writeStdout(`${fields}\n\n${transcript}\n`)
  }).pipe(withStore(db))).pipe(Command.withDescription("Show a session: its fields, then its items as a transcript."))
