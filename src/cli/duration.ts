/**
 * Durations on the command line: `30d`, `12h`, `90m`, `45s`, `2w`, or anything Effect's
 * `Duration` reads (`"30 days"`).
 */
import { Duration, Either } from "effect"

const UNITS: Record<string, Duration.Unit> = { w: "weeks", d: "days", h: "hours", m: "minutes", s: "seconds" }
const SHORT = /^(\d+)\s*([wdhms])$/i

/** A positive, finite duration, or why the text is not one. */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const trimmed = text.trim()
  const short = SHORT.exec(trimmed)
  const decoded = short !== null
    ? Duration.decodeUnknown(`${short[1]} ${UNITS[short[2]!.toLowerCase()]}`)
    : Duration.decodeUnknown(trimmed)
  if (decoded._tag === "Some" && Duration.isFinite(decoded.value) && Duration.greaterThan(decoded.value, Duration.zero)) {
    return Either.right(decoded.value)
  }
  return Either.left(`"${text}" is not a positive duration (examples: 30d, 12h, 90m, 45s, 2w)`)
}
