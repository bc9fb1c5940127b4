/**
 * Keys of this library's migrations for an `@effect/sql` `Migrator`. Its record keys are
 * `<number>_<name>` (a key without a leading number is silently ignored); it runs them in number
 * order and skips every number at or below the highest one it has applied. So a library cannot
 * fix its numbers for an application's Migrator: a low one collides with the application's own,
 * a high one would make the application's later migrations be skipped. In a Migrator (and
 * migrations table) of their own, the steps are numbered 1, 2, … in order; in the application's,
 * the application gives each step its number.
 */
import { InvalidArgumentError } from "../SessionStore.js"

/** Every key names the library, so the Migrator's table says where a row came from. */
const PREFIX = "agent_sessions_"

const invalid = (message: string) => new InvalidArgumentError({ argument: "ids", message })

/**
 * One key per step, in step order. Throws `InvalidArgumentError` when `ids` misses a step (a
 * step added by a newer version of this library needs a number of the application's choosing) or
 * gives one that is not a positive integer or is given twice.
 */
export const migrationKeys = (
  steps: ReadonlyArray<string>,
  ids: { readonly [step: string]: number | undefined } | undefined
): ReadonlyArray<string> => {
  if (ids === undefined) return steps.map((step, index) => `${String(index + 1).padStart(4, "0")}_${PREFIX}${step}`)
  const seen = new Set<number>()
  return steps.map((step) => {
    const id = ids[step]
    if (id === undefined) {
      throw invalid(
        `ids has no number for the migration ${JSON.stringify(step)}: give it one above your latest migration's`
      )
    }
    if (!Number.isSafeInteger(id) || id < 1) {
      throw invalid(`ids.${step} must be a positive integer, got ${String(id)}`)
    }
    if (seen.has(id)) throw invalid(`ids gives the number ${id} to two migrations`)
    seen.add(id)
    return `${String(id).padStart(4, "0")}_${PREFIX}${step}`
  })
}
