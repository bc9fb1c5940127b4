/**
 * Random sequences of Session protocol calls, run on a session under test and on the SDK's
 * `MemorySession` side by side. Every call must have the same observable outcome on both.
 */
import type { AgentInputItem } from "@openai/agents-core"
import { MemorySession } from "@openai/agents-core"
import fc from "fast-check"
import { expect } from "vitest"
import {
  compactionArbitrary,
  type FunctionCall,
  functionCallArbitrary,
  itemsArbitrary,
  type ProtocolSession
} from "./items.js"

/**
 * The reference: `MemorySession`, plus `replaceHistoryWithCompaction`, which it lacks. The history
 * becomes exactly the given items; recorded operation ids are kept (only `clearSession` forgets
 * them), so a retried operation is still recognised after a compaction.
 */
export class ReferenceSession extends MemorySession implements ProtocolSession {
  async replaceHistoryWithCompaction(items: Array<AgentInputItem>): Promise<void> {
    // popItem leaves the recorded operation ids alone, unlike clearSession.
    while ((await this.popItem()) !== undefined) {
      // keep popping
    }
    await this.addItems(items)
  }
}

type SuffixSpec =
  | { readonly kind: "tail"; readonly length: number } // the stored tail: matches
  | { readonly kind: "tail_changed"; readonly length: number } // the stored tail, one item changed
  | { readonly kind: "items"; readonly items: Array<AgentInputItem> } // arbitrary items

export type Op =
  | { readonly op: "getSessionId" }
  | { readonly op: "getItems"; readonly limit: number | undefined }
  | { readonly op: "addItems"; readonly items: Array<AgentInputItem> }
  | { readonly op: "popItem" }
  | { readonly op: "clearSession" }
  | { readonly op: "append"; readonly operationId: string; readonly items: Array<AgentInputItem> }
  | {
    readonly op: "replaceSuffix"
    readonly operationId: string
    readonly suffix: SuffixSpec
    readonly replacement: Array<AgentInputItem>
  }
  | { readonly op: "retry"; readonly index: number } // repeat an earlier transaction, verbatim
  | { readonly op: "mutate"; readonly mutations: Array<{ callId: string; replacement: FunctionCall }> }
  | { readonly op: "compact"; readonly items: Array<AgentInputItem> }

const operationId = fc.constantFrom("op-1", "op-2", "op-3")

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ op: "getSessionId" as const }), weight: 1 },
  {
    arbitrary: fc.constantFrom(undefined, 0, -1, -7, 1, 2, 3, 5, 1000).map((limit) => ({ op: "getItems" as const, limit })),
    weight: 4
  },
  { arbitrary: itemsArbitrary(4).map((items) => ({ op: "addItems" as const, items })), weight: 5 },
  { arbitrary: fc.constant({ op: "popItem" as const }), weight: 3 },
  { arbitrary: fc.constant({ op: "clearSession" as const }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant("append" as const), operationId, items: itemsArbitrary(3) }),
    weight: 4
  },
  {
    arbitrary: fc.record({
      op: fc.constant("replaceSuffix" as const),
      operationId,
      suffix: fc.oneof(
        fc.nat(3).map((length): SuffixSpec => ({ kind: "tail", length })),
        fc.integer({ min: 1, max: 3 }).map((length): SuffixSpec => ({ kind: "tail_changed", length })),
        itemsArbitrary(2).map((items): SuffixSpec => ({ kind: "items", items }))
      ),
      replacement: itemsArbitrary(3)
    }),
    weight: 4
  },
  { arbitrary: fc.nat(20).map((index) => ({ op: "retry" as const, index })), weight: 2 },
  {
    arbitrary: fc
      .array(functionCallArbitrary, { maxLength: 2 })
      .map((calls) => ({ op: "mutate" as const, mutations: calls.map((c) => ({ callId: c.callId, replacement: c })) })),
    weight: 2
  },
  { arbitrary: compactionArbitrary.map((items) => ({ op: "compact" as const, items })), weight: 1 }
)

export const opsArbitrary = (maxLength = 25): fc.Arbitrary<Array<Op>> =>
  fc.array(opArbitrary, { minLength: 1, maxLength })

/** What a call did: its value, or that it threw. Which error is not compared, only that one was thrown. */
type Outcome = { readonly ok: unknown } | { readonly threw: true }

export interface ErrorRecord {
  readonly op: string
  readonly error: unknown
}

const outcomeOf = async (call: () => unknown, errors?: Array<ErrorRecord>, op?: string): Promise<Outcome> => {
  try {
    return { ok: await call() }
  } catch (error) {
    errors?.push({ op: op ?? "?", error })
    return { threw: true }
  }
}

type TransactionArgs = Parameters<ProtocolSession["applyHistoryTransaction"]>[0]

/**
 * Runs `ops` on both sessions, comparing every outcome and the whole history after each step.
 * Returns the errors the subject threw, for checks on their type.
 */
export const runSideBySide = async (
  ops: ReadonlyArray<Op>,
  subject: ProtocolSession,
  reference: ProtocolSession
): Promise<Array<ErrorRecord>> => {
  const sent: Array<TransactionArgs> = []
  const subjectErrors: Array<ErrorRecord> = []
  const both = async (label: string, call: (session: ProtocolSession) => unknown) => {
    const expected = await outcomeOf(() => call(reference))
    const before = subjectErrors.length
    const actual = await outcomeOf(() => call(subject), subjectErrors, label)
    const thrown = subjectErrors.length > before ? ` (subject threw ${describeError(subjectErrors.at(-1)!.error)})` : ""
    expect(actual, `${label}: subject vs MemorySession${thrown}`).toEqual(expected)
  }
  for (const [step, op] of ops.entries()) {
    const label = `step ${step} ${JSON.stringify(op, bytesReplacer)}`
    switch (op.op) {
      case "getSessionId":
        // The ids differ by construction; what matters is that the call answers.
        await outcomeOf(() => subject.getSessionId()).then((o) => expect("ok" in o, label).toBe(true))
        break
      case "getItems":
        await both(label, (s) => s.getItems(op.limit))
        break
      case "addItems":
        await both(label, (s) => s.addItems(structuredClone(op.items)))
        break
      case "popItem":
        await both(label, (s) => s.popItem())
        break
      case "clearSession":
        await both(label, (s) => s.clearSession())
        break
      case "append": {
        const args: TransactionArgs = {
          operationId: op.operationId,
          transaction: { type: "append_items", items: op.items }
        }
        sent.push(args)
        await both(label, (s) => s.applyHistoryTransaction(structuredClone(args)))
        break
      }
      case "replaceSuffix": {
        const current = await reference.getItems()
        const expectedSuffix = suffixFor(op.suffix, current)
        const args: TransactionArgs = {
          operationId: op.operationId,
          transaction: { type: "replace_suffix", expectedSuffix, replacement: op.replacement }
        }
        sent.push(args)
        await both(`${label} expectedSuffix=${JSON.stringify(expectedSuffix, bytesReplacer)}`, (s) =>
          s.applyHistoryTransaction(structuredClone(args)))
        break
      }
      case "retry": {
        if (sent.length === 0) break
        const args = sent[op.index % sent.length]!
        await both(`${label} args=${JSON.stringify(args, bytesReplacer)}`, (s) =>
          s.applyHistoryTransaction(structuredClone(args)))
        break
      }
      case "mutate":
        await both(label, (s) =>
          s.applyHistoryMutations({
            mutations: op.mutations.map((m) => ({
              type: "replace_function_call",
              callId: m.callId,
              replacement: structuredClone(m.replacement)
            }))
          }))
        break
      case "compact":
        await both(label, (s) => s.replaceHistoryWithCompaction(structuredClone(op.items)))
        break
    }
    const [actual, expected] = [await subject.getItems(), await reference.getItems()]
    expect(actual, `history after ${label}`).toEqual(expected)
  }
  return subjectErrors
}

const suffixFor = (spec: SuffixSpec, current: ReadonlyArray<AgentInputItem>): Array<AgentInputItem> => {
  switch (spec.kind) {
    case "items":
      return spec.items
    case "tail":
      return spec.length === 0 ? [] : current.slice(-spec.length)
    case "tail_changed": {
      const tail = current.slice(-spec.length)
      if (tail.length === 0) return [itemArbitraryExample]
      return [{ ...tail[0]!, providerData: { changed: true } } as AgentInputItem, ...tail.slice(1)]
    }
  }
}

const itemArbitraryExample: AgentInputItem = { type: "message", role: "user", content: "never stored" }

const describeError = (error: unknown): string =>
  error instanceof Error
    ? `${(error as { _tag?: string })._tag ?? error.name}: ${error.message}${
      error.cause instanceof Error ? ` [cause: ${error.cause.message}]` : ""
    }`
    : String(error)

/** JSON.stringify replacer that shows bytes readably in failure messages. */
export const bytesReplacer = (_key: string, value: unknown): unknown =>
  value instanceof Uint8Array ? `<bytes ${Array.from(value).join(",")}>` : value
