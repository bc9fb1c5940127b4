/**
 * Checks on caller input that run before any SQL is sent.
 */
import { Effect } from "effect"
import { InvalidArgumentError } from "../SessionStore.js"

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Longest table name: derived index names (`<table>_session_id_idx`) must stay within
 * PostgreSQL's 63-byte limit.
 */
export const MAX_TABLE_NAME_LENGTH = 48

/** Longest session id, in Unicode code points: the column is `VARCHAR(255)`. */
export const MAX_SESSION_ID_LENGTH = 255

export const validateTableName = (argument: string, name: unknown): Effect.Effect<string, InvalidArgumentError> => {
  if (typeof name !== "string" || !IDENTIFIER.test(name) || name.length > MAX_TABLE_NAME_LENGTH) {
    return Effect.fail(
      new InvalidArgumentError({
        argument,
        message: `${argument} must match ^[A-Za-z_][A-Za-z0-9_]*$ and be at most ${MAX_TABLE_NAME_LENGTH} characters, got ${
          JSON.stringify(typeof name === "string" ? name.slice(0, 80) : String(name))
        }`
      })
    )
  }
  return Effect.succeed(name)
}

/**
 * Session ids are any non-empty text of at most 255 code points, without U+0000 (PostgreSQL text
 * cannot hold it) and without lone surrogates (they cannot be stored as UTF-8, and would collide).
 */
export const sessionIdProblem = (sessionId: unknown): string | undefined => {
  if (typeof sessionId !== "string") return `must be a string, got ${typeof sessionId}`
  if (sessionId.length === 0) return "must not be empty"
  if (sessionId.includes("\u0000")) return "must not contain U+0000"
  if (!sessionId.isWellFormed()) return "must not contain lone surrogates"
  let codePoints = 0
  for (const _ of sessionId) {
    if (++codePoints > MAX_SESSION_ID_LENGTH) return `must be at most ${MAX_SESSION_ID_LENGTH} characters`
  }
  return undefined
}

/**
 * MySQL and MariaDB compare `VARCHAR`s with PAD SPACE collations, even `utf8mb4_bin`: "a" and
 * "a " would silently share one history. The Python SDK refuses such ids too.
 */
export const mysqlSessionIdProblem = (sessionId: unknown): string | undefined =>
  sessionIdProblem(sessionId) ??
    ((sessionId as string).endsWith(" ") ? "must not end with a space on MySQL/MariaDB" : undefined)

/**
 * The error for an unusable session id, or `undefined`. Synchronous, so the hot path checks its
 * input without extra effects.
 */
export const sessionIdErrorWith = (problemOf: (sessionId: unknown) => string | undefined) =>
(sessionId: string): InvalidArgumentError | undefined => {
  const problem = problemOf(sessionId)
  return problem === undefined
    ? undefined
    : new InvalidArgumentError({ argument: "sessionId", message: `sessionId ${problem}` })
}

/** The error for a limit that is not an integer (or `undefined`, meaning "all"), or `undefined`. */
export const limitError = (limit: number | undefined): InvalidArgumentError | undefined =>
  limit === undefined || (typeof limit === "number" && Number.isInteger(limit))
    ? undefined
    : new InvalidArgumentError({ argument: "limit", message: `limit must be an integer, got ${String(limit)}` })
