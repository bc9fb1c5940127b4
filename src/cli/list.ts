/**
 * `agent-sessions list`: the catalogue, newest first.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { type SessionInfo, SessionStore } from "../SessionStore.js"
import {
  databaseOptions,
  formatDate,
  formatTable,
  jsonOption,
  ownerOption,
  printJson,
  withStore,
  writeStdout
} from "./shared.js"

/** The library's largest page. */
const PAGE = 1000

/** Up to `limit` sessions, page after page. */
const collect = (owner: string | undefined, limit: number) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const sessions: Array<SessionInfo> = []
    let cursor: string | undefined
    do {
      const page = yield* store.listSessions({ owner, cursor, limit: Math.min(PAGE, limit - sessions.length) })
      sessions.push(...page.sessions)
      cursor = page.nextCursor
    } while (cursor !== undefined && sessions.length < limit)
    return { sessions, more: cursor !== undefined }
  })

/** A session's fields as JSON: dates as ISO 8601 strings. */
export const sessionJson = (info: SessionInfo) => ({
  sessionId: info.sessionId,
  owner: info.owner,
  title: info.title,
  metadata: info.metadata,
  createdAt: info.createdAt.toISOString(),
  updatedAt: info.updatedAt.toISOString(),
  expiresAt: info.expiresAt?.toISOString() ?? null,
  itemCount: info.itemCount
})

const table = (sessions: ReadonlyArray<SessionInfo>): string =>
  formatTable(
    ["SESSION", "OWNER", "ITEMS", "UPDATED", "CREATED", "TITLE"],
    sessions.map((info) => [
      info.sessionId,
      info.owner ?? "-",
      info.itemCount,
      formatDate(info.updatedAt),
      formatDate(info.createdAt),
      info.title ?? "-"
    ])
  )

export const list = Command.make("list", {
  db: databaseOptions,
  owner: ownerOption,
  limit: Options.integer("limit").pipe(
    Options.withDefault(50),
    Options.withDescription("At most this many sessions (default 50)")
  ),
  json: jsonOption
}, ({ db, json, limit, owner }) =>
  collect(Option.getOrUndefined(owner), limit).pipe(
    Effect.flatMap(({ more, sessions }) =>
      json
        ? printJson(sessions.map(sessionJson))
        : writeStdout(
          sessions.length === 0
            ? "No sessions.\n"
            : `${table(sessions)}\n${more ? `(the newest ${sessions.length}; --limit shows more)\n` : ""}`
        )
    ),
    withStore(db)
  )).pipe(Command.withDescription("List sessions, most recently updated first."))
