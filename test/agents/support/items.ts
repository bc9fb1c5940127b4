/**
 * Items as the runner stores them, and fast-check arbitraries over them, for the agents tests.
 */
import type { AgentInputItem } from "@openai/agents-core"
import fc from "fast-check"

/** The whole protocol a drop-in session offers (what `SqlSession` implements). */
export interface ProtocolSession {
  getSessionId(): Promise<string>
  getItems(limit?: number): Promise<Array<AgentInputItem>>
  addItems(items: Array<AgentInputItem>): Promise<void>
  popItem(): Promise<AgentInputItem | undefined>
  clearSession(): Promise<void>
  applyHistoryTransaction(args: {
    operationId: string
    transaction:
      | { type: "append_items"; items: Array<AgentInputItem> }
      | { type: "replace_suffix"; expectedSuffix: Array<AgentInputItem>; replacement: Array<AgentInputItem> }
  }): Promise<void> | void
  applyHistoryMutations(args: {
    mutations: Array<{ type: "replace_function_call"; callId: string; replacement: FunctionCall }>
  }): Promise<void> | void
  replaceHistoryWithCompaction(items: Array<AgentInputItem>): Promise<void>
}

export type FunctionCall = Extract<AgentInputItem, { type: "function_call" }>

export const userMessage = (text: string): AgentInputItem => ({ type: "message", role: "user", content: text })

export const assistantMessage = (text: string, id?: string): AgentInputItem => ({
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text }],
  ...(id === undefined ? {} : { id })
})

export const functionCall = (callId: string, name: string, args: unknown): FunctionCall => ({
  type: "function_call",
  callId,
  name,
  arguments: JSON.stringify(args),
  status: "completed"
})

export const functionCallResult = (callId: string, name: string, text: string): AgentInputItem => ({
  type: "function_call_result",
  callId,
  name,
  status: "completed",
  output: { type: "text", text }
})

export const reasoning = (text: string): AgentInputItem => ({
  type: "reasoning",
  content: [{ type: "input_text", text }]
})

/** A tool result carrying raw image bytes, as a tool that returns a screenshot produces. */
export const imageResult = (callId: string, bytes: Uint8Array): AgentInputItem => ({
  type: "function_call_result",
  callId,
  name: "screenshot",
  status: "completed",
  output: { type: "image", image: { data: Uint8Array.from(bytes), mediaType: "image/png" } }
})

/** A tool result carrying a file as raw bytes. */
export const fileResult = (callId: string, bytes: Uint8Array, filename: string): AgentInputItem => ({
  type: "function_call_result",
  callId,
  name: "export",
  status: "completed",
  output: { type: "file", file: { data: Uint8Array.from(bytes), mediaType: "application/pdf", filename } }
})

export const compaction = (content: string): AgentInputItem => ({ type: "compaction", encrypted_content: content })

// Few distinct values, so that generated sequences collide: equal items, reused call ids.
const text = fc.constantFrom("hi", "hello again", "Lisbon", "Grüße 😀", "", "a \"quoted\" \\ text", "line\nbreak\u0000nul")
const callId = fc.constantFrom("call_a", "call_b", "call_c")
const bytes = fc.uint8Array({ maxLength: 6 })

/** Valid items of every kind the runner stores, plus a few awkward but valid shapes. */
export const itemArbitrary: fc.Arbitrary<AgentInputItem> = fc.oneof(
  text.map(userMessage),
  text.map((t) => assistantMessage(t)),
  fc.tuple(callId, fc.constantFrom("get_weather", "lookup")).map(([id, name]) => functionCall(id, name, { q: 1 })),
  fc.tuple(callId, text).map(([id, t]) => functionCallResult(id, "get_weather", t)),
  text.map(reasoning),
  fc.tuple(callId, bytes).map(([id, b]) => imageResult(id, b)),
  // Extra keys the protocol does not know (providers add them) and provider data with bytes.
  fc.tuple(text, bytes).map(([t, b]): AgentInputItem => ({
    type: "message",
    role: "user",
    content: [{ type: "input_text", text: t }],
    providerData: { raw: b, nested: { list: [1, "two", null, true] } },
    customField: { kept: true }
  } as AgentInputItem)),
  // An object that looks like a codec marker must come back as itself.
  fc.constantFrom<AgentInputItem>(
    { type: "unknown", providerData: { $bytes: "AAEC" } },
    { type: "unknown", providerData: { $number: "NaN", list: [{ $undefined: true }] } }
  ),
  // Values JSON cannot spell, which MemorySession keeps (and compares with Object.is).
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 0).map((n): AgentInputItem => ({
    type: "unknown",
    providerData: { n, list: [n, undefined] }
  }))
)

export const itemsArbitrary = (maxLength = 3): fc.Arbitrary<Array<AgentInputItem>> =>
  fc.array(itemArbitrary, { maxLength })

export const functionCallArbitrary: fc.Arbitrary<FunctionCall> = fc
  .tuple(callId, fc.constantFrom("get_weather", "lookup"), fc.nat(3))
  .map(([id, name, n]) => functionCall(id, name, { replaced: n }))

/** Compaction replacement: a compaction item first, then retained items. */
export const compactionArbitrary: fc.Arbitrary<Array<AgentInputItem>> = fc
  .tuple(text, itemsArbitrary(2))
  .map(([t, rest]) => [compaction(`enc:${t}`), ...rest])
