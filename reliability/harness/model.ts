/**
 * In-memory models the stored histories are compared with.
 *
 * `ExactModel` is exact: the load gives each session one logical writer at a time (a per-session
 * lock in the test, not in the store), so the model is the sequence of acknowledged operations.
 * When an operation fails or is interrupted its outcome is unknown; `resolve` reads the database
 * and accepts only "happened entirely" or "did not happen at all".
 *
 * `checkContended` checks properties that hold under any interleaving of concurrent writers on the
 * same session: items are unique, each batch's surviving items are a contiguous prefix of the
 * batch in caller order, and added = stored + popped when nothing was cleared.
 */
import type { Item } from "../../src/index.js"

export interface TestItem extends Item {
  /** Unique key: `${batch}:${index}`. */
  readonly k: string
  readonly b: number
  readonly i: number
  readonly n: number
  readonly s: string
  readonly pad?: string
}

let batchCounter = 0

/** Child processes start their batch numbers apart so keys stay unique across processes. */
export const setBatchBase = (base: number): void => {
  batchCounter = base
}

/** A batch of `size` items nobody else has. */
export const makeBatch = (sessionId: string, size: number, pad = 0): Array<TestItem> => {
  const b = ++batchCounter
  return Array.from({ length: size }, (_, i) => ({
    k: `${b}:${i}`,
    b,
    i,
    n: size,
    s: sessionId,
    ...(pad > 0 ? { pad: "x".repeat(pad) } : {})
  }))
}

export const keyOf = (item: Item): string => String(item.k)

const sameKeys = (a: ReadonlyArray<Item>, b: ReadonlyArray<Item>): boolean =>
  a.length === b.length && a.every((item, i) => keyOf(item) === keyOf(b[i]!))

export type Mutation =
  | { readonly _tag: "add"; readonly items: ReadonlyArray<TestItem> }
  | { readonly _tag: "pop" }
  | { readonly _tag: "clear" }

export const applyMutation = (history: ReadonlyArray<Item>, mutation: Mutation): Array<Item> =>
  mutation._tag === "add"
    ? [...history, ...mutation.items]
    : mutation._tag === "pop"
    ? history.slice(0, -1)
    : []

export class ExactModel {
  readonly histories = new Map<string, Array<Item>>()
  readonly popped = new Set<string>()
  readonly violations: Array<string> = []
  acknowledged = 0
  resolvedApplied = 0
  resolvedNotApplied = 0

  history(sessionId: string): Array<Item> {
    return this.histories.get(sessionId) ?? []
  }

  /** Record an operation the store acknowledged. */
  acknowledge(sessionId: string, mutation: Mutation, popped?: Item | undefined): void {
    this.acknowledged++
    const before = this.history(sessionId)
    if (mutation._tag === "pop") {
      const expected = before[before.length - 1]
      if (expected === undefined && popped !== undefined) {
        this.violations.push(`${sessionId}: pop returned ${keyOf(popped)} from an empty history`)
      } else if (expected !== undefined && popped === undefined) {
        this.violations.push(`${sessionId}: pop returned nothing, expected ${keyOf(expected)}`)
      } else if (expected !== undefined && popped !== undefined && keyOf(expected) !== keyOf(popped)) {
        this.violations.push(`${sessionId}: pop returned ${keyOf(popped)}, expected ${keyOf(expected)}`)
      }
      if (popped !== undefined) this.notePopped(sessionId, popped)
    }
    this.histories.set(sessionId, applyMutation(before, mutation))
  }

  notePopped(sessionId: string, item: Item): void {
    const key = keyOf(item)
    if (this.popped.has(key)) this.violations.push(`${sessionId}: item ${key} popped twice`)
    this.popped.add(key)
  }

  /**
   * An operation whose outcome is unknown (failed or interrupted). `stored` is the history read back
   * afterwards: it must equal the model before or after the mutation.
   */
  resolve(sessionId: string, mutation: Mutation, stored: ReadonlyArray<Item>): "applied" | "not-applied" | "violation" {
    const before = this.history(sessionId)
    const after = applyMutation(before, mutation)
    if (sameKeys(stored, after)) {
      this.resolvedApplied++
      if (mutation._tag === "pop" && before.length > 0) this.notePopped(sessionId, before[before.length - 1]!)
      this.histories.set(sessionId, after)
      return "applied"
    }
    if (sameKeys(stored, before)) {
      this.resolvedNotApplied++
      return "not-applied"
    }
    this.violations.push(
      `${sessionId}: after an unacknowledged ${mutation._tag} the history is [${stored.map(keyOf).join(",")}],` +
        ` neither before [${before.map(keyOf).join(",")}] nor after [${after.map(keyOf).join(",")}]`
    )
    // Take what is stored as the new truth so one violation is not reported for every later op.
    this.histories.set(sessionId, [...stored])
    return "violation"
  }

  /** Compare a read with the model; returns the number of items lost and duplicated. */
  compare(sessionId: string, stored: ReadonlyArray<Item>, what = "history"): { lost: number; duplicated: number } {
    const expected = this.history(sessionId)
    const storedKeys = stored.map(keyOf)
    const storedSet = new Set(storedKeys)
    const lost = expected.filter((item) => !storedSet.has(keyOf(item))).length
    const duplicated = storedKeys.length - storedSet.size
    if (!sameKeys(stored, expected)) {
      this.violations.push(
        `${sessionId}: ${what} is [${storedKeys.join(",")}], model [${expected.map(keyOf).join(",")}]`
      )
    }
    return { lost, duplicated }
  }

  sessions(): Array<string> {
    return [...this.histories.keys()]
  }
}

/** Checks for one session written by many concurrent writers at once. */
export const checkContended = (args: {
  readonly stored: ReadonlyArray<Item>
  /** Every batch an add was attempted with (acknowledged or still in flight). */
  readonly added: ReadonlyArray<ReadonlyArray<TestItem>>
  /** Batches whose add was acknowledged. */
  readonly acknowledged: ReadonlySet<number>
  readonly popped: ReadonlyArray<Item>
  /** False once a clear may have removed items: conservation no longer applies. */
  readonly conservation: boolean
}): { violations: Array<string>; lost: number; duplicated: number } => {
  const violations: Array<string> = []
  const keys = args.stored.map(keyOf)
  const storedSet = new Set(keys)
  const duplicated = keys.length - storedSet.size
  if (duplicated > 0) violations.push(`${duplicated} stored item(s) appear twice`)
  const poppedKeys = args.popped.map(keyOf)
  const poppedSet = new Set(poppedKeys)
  if (poppedSet.size !== poppedKeys.length) violations.push(`${poppedKeys.length - poppedSet.size} item(s) popped twice`)
  for (const key of poppedSet) {
    if (storedSet.has(key)) violations.push(`item ${key} was popped and is still stored`)
  }
  const batchOf = new Map<number, ReadonlyArray<TestItem>>()
  for (const batch of args.added) if (batch[0]) batchOf.set(batch[0].b, batch)
  const knownKeys = new Set(args.added.flat().map(keyOf))
  for (const key of [...keys, ...poppedKeys]) {
    if (!knownKeys.has(key)) violations.push(`item ${key} was never added`)
  }
  // Each batch's surviving items: a prefix of the batch, contiguous and in caller order.
  const positions = new Map<number, Array<number>>()
  args.stored.forEach((item, position) => {
    const b = Number(item.b)
    positions.set(b, [...(positions.get(b) ?? []), position])
  })
  for (const [b, at] of positions) {
    const batch = batchOf.get(b)
    if (!batch) continue
    const slice = at.map((p) => args.stored[p]!)
    const contiguous = at.every((p, j) => j === 0 || p === at[j - 1]! + 1)
    const prefix = slice.every((item, j) => Number(item.i) === j)
    if (!contiguous || !prefix) {
      violations.push(`batch ${b} is stored as indices [${slice.map((x) => x.i).join(",")}] at [${at.join(",")}]`)
    }
  }
  let lost = 0
  if (args.conservation) {
    for (const batch of args.added) {
      if (!batch[0] || !args.acknowledged.has(batch[0].b)) continue
      for (const item of batch) if (!storedSet.has(item.k) && !poppedSet.has(item.k)) lost++
    }
    if (lost > 0) violations.push(`${lost} acknowledged item(s) neither stored nor popped`)
  }
  return { violations, lost, duplicated }
}

/** Nearest-rank percentile of durations in milliseconds. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}
