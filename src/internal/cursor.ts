/**
 * The opaque cursor of `listSessions`: the last row's position (its stored `updated_at` text and
 * its session id) and a digest of the listing's filter and table, with a checksum.
 *
 * There is no per-process secret, so a cursor works in every process of the application. The
 * checksum catches garbage and edits, and the filter digest a cursor replayed on another listing;
 * a cursor is not encrypted (it shows an `updated_at` and a session id of the page it ends).
 */
import { Either } from "effect"
import { createHash } from "node:crypto"
import { InvalidArgumentError } from "../SessionStore.js"

const VERSION = 1
const MAX_LENGTH = 2048
const SHAPE = /^[A-Za-z0-9_-]{1,2000}\.[0-9a-f]{16}$/

export interface CursorPosition {
  readonly updatedKey: string
  readonly sessionId: string
}

const digest = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16)

/** What a cursor is valid for: the table and every filter that shapes the sequence of rows. */
export const cursorScope = (scope: ReadonlyArray<string | number | null>): string => digest(JSON.stringify(scope))

export const encodeCursor = (scope: string, position: CursorPosition): string => {
  const payload = JSON.stringify([VERSION, scope, position.updatedKey, position.sessionId])
  return `${Buffer.from(payload, "utf8").toString("base64url")}.${digest(`cursor:${payload}`)}`
}

const invalid = (message: string) => Either.left(new InvalidArgumentError({ argument: "cursor", message }))

export const decodeCursor = (cursor: unknown, scope: string): Either.Either<CursorPosition, InvalidArgumentError> => {
  if (typeof cursor !== "string" || cursor.length > MAX_LENGTH || !SHAPE.test(cursor)) {
    return invalid("cursor is not a cursor returned by listSessions")
  }
  const [body, checksum] = cursor.split(".") as [string, string]
  const payload = Buffer.from(body, "base64url").toString("utf8")
  if (digest(`cursor:${payload}`) !== checksum) return invalid("cursor is damaged or was not made by listSessions")
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return invalid("cursor is damaged or was not made by listSessions")
  }
  if (
    !Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== VERSION || typeof parsed[1] !== "string" ||
    typeof parsed[2] !== "string" || typeof parsed[3] !== "string"
  ) {
    return invalid("cursor is of an unknown version or shape")
  }
  if (parsed[1] !== scope) {
    return invalid("cursor was made for a different listing (another owner, date range or table)")
  }
  return Either.right({ updatedKey: parsed[2], sessionId: parsed[3] })
}
