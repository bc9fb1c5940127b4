/**
 * Checks on the catalogue's caller input, shared by the catalogue and the import.
 */
import { Either } from "effect"
import { InvalidArgumentError, type SessionMetadata } from "../SessionStore.js"
import { messageOf } from "./json.js"

export const MAX_OWNER_LENGTH = 255
export const MAX_TITLE_LENGTH = 1000
export const MAX_METADATA_BYTES = 64 * 1024

export const invalid = (argument: string, message: string) => new InvalidArgumentError({ argument, message })

/** Text we can store: well-formed, without U+0000 (PostgreSQL text cannot hold it), bounded. */
export const textProblem = (value: unknown, max: number): string | undefined => {
  if (typeof value !== "string") return `must be a string or null, got ${typeof value}`
  if (value.includes("\u0000")) return "must not contain U+0000"
  if (!value.isWellFormed()) return "must not contain lone surrogates"
  if (value.length > max && [...value].length > max) return `must be at most ${max} characters`
  return undefined
}

/** The metadata's stored text, or why it cannot be stored. */
export const encodeMetadata = (value: unknown): Either.Either<string, InvalidArgumentError> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return Either.left(invalid("metadata", "metadata must be a JSON object"))
  }
  let text: string
  try {
    text = JSON.stringify(value)
  } catch (error) {
    return Either.left(invalid("metadata", `metadata is not JSON: ${messageOf(error)}`))
  }
  return Buffer.byteLength(text, "utf8") > MAX_METADATA_BYTES
    ? Either.left(invalid("metadata", `metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON`))
    : Either.right(text)
}

/** Stored metadata as an object: NULL (rows the Python SDK wrote) and anything unreadable are `{}`. */
export const decodeMetadata = (text: string | null): SessionMetadata => {
  if (text === null || text === "") return {}
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value as SessionMetadata : {}
  } catch {
    return {}
  }
}
