/**
 * The default codec on every dialect: items come back from a new `SqlSession` exactly as the
 * SDK's `MemorySession` gives them back, bytes included, and the items the runner stores survive.
 */
import type { AgentInputItem } from "@openai/agents"
import { Agent, MemorySession, run, setTracingDisabled } from "@openai/agents"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { callTool, say, ScriptedModel } from "../../examples/ScriptedModel.js"
import type { SqlSession } from "../../src/index.js"
import * as Databases from "../support/databases.js"
import { weatherTool } from "./support/conversation.js"
import { sessionsOn } from "./support/databases.js"
import { assistantMessage, compaction, fileResult, imageResult, reasoning, userMessage } from "./support/items.js"

setTracingDisabled(true)

const allBytes = Uint8Array.from({ length: 256 }, (_, index) => index)
// A realistic screenshot: larger than MySQL's 64 KiB TEXT.
const largeImage = Uint8Array.from({ length: 300_000 }, (_, index) => (index * 7919) % 256)

const awkwardItems: Array<AgentInputItem> = [
  userMessage("plain"),
  imageResult("call_img", allBytes),
  imageResult("call_empty", new Uint8Array(0)),
  fileResult("call_pdf", Uint8Array.from([37, 80, 68, 70, 45]), "report.pdf"),
  imageResult("call_large", largeImage),
  {
    type: "message",
    role: "user",
    content: [
      { type: "input_text", text: "what is in this picture?" },
      { type: "input_image", image: "data:image/png;base64,iVBORw0KGgo=", detail: "low" }
    ],
    // Provider data may hold bytes anywhere, also inside arrays.
    providerData: { chunks: [Uint8Array.from([1, 2]), { inner: Uint8Array.from([3]) }], flag: false, none: null }
  },
  // Objects that look like the codec's own markers must come back as themselves.
  { type: "unknown", providerData: { $bytes: "AAEC" } },
  { type: "unknown", providerData: { $object: { $bytes: "AAEC" } } },
  { type: "unknown", providerData: { $number: "NaN", $undefined: true, list: [{ $number: "-0" }, { $undefined: true }] } },
  assistantMessage("Grüße, 你好, emoji 😀🎉, NUL \u0000, quote \" backslash \\ and\nnewline"),
  reasoning("x".repeat(70_000)),
  compaction("opaque-encrypted-blob"),
  {
    type: "function_call",
    callId: "call_numbers",
    name: "calc",
    arguments: "{}",
    providerData: { max: Number.MAX_SAFE_INTEGER, min: -Number.MAX_SAFE_INTEGER, tiny: 5e-324, big: 1.7976931348623157e308 }
  }
]

/**
 * Replaces large byte arrays by their class, length and hash: vitest's deep equality takes
 * seconds on 300 KB of bytes, and a hash compares them just as exactly.
 */
const digestLargeBytes = (value: unknown): unknown => {
  if (value instanceof Uint8Array && value.length > 1024) {
    return `${value.constructor.name}(${value.length}) sha256:${createHash("sha256").update(value).digest("hex")}`
  }
  if (value instanceof Uint8Array || value === null || typeof value !== "object") return value
  if (Array.isArray(value)) return value.map(digestLargeBytes)
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, digestLargeBytes(inner)]))
}

describe.each(Databases.all)("the default codec on $label", (db) => {
  describe.skipIf(db.unavailable !== undefined)("", () => {
    const { open } = sessionsOn(db)

    it("round-trips bytes, unicode, large payloads and marker look-alikes exactly as MemorySession does", async () => {
      const sessionId = Databases.uniqueId("codec")
      const memory = new MemorySession()
      await memory.addItems(structuredClone(awkwardItems))
      await open(sessionId).addItems(structuredClone(awkwardItems))

      const stored = await open(sessionId).getItems()

      // toStrictEqual also checks classes: bytes must come back as Uint8Array, objects as plain objects.
      expect(digestLargeBytes(stored)).toStrictEqual(digestLargeBytes(await memory.getItems()))
      expect(digestLargeBytes(stored)).toStrictEqual(digestLargeBytes(awkwardItems))
      const large = stored[4] as { output: { image: { data: unknown } } }
      expect(large.output.image.data).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(large.output.image.data as Uint8Array, largeImage)).toBe(0)
    })

    // MemorySession stores these, and its own transaction snapshots support them: primitives
    // JSON cannot spell. The issue asks for every value MemorySession accepts to come back.
    it("round-trips the numbers JSON cannot spell and undefined array entries, as MemorySession does", async () => {
      const item = {
        type: "unknown",
        providerData: { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY, negZero: -0, list: [1, undefined, 2] }
      } as AgentInputItem
      const sessionId = Databases.uniqueId("codec-numbers")
      const memory = new MemorySession()
      await memory.addItems([structuredClone(item)])
      await open(sessionId).addItems([structuredClone(item)])

      const [stored] = await open(sessionId).getItems()
      const [expected] = await memory.getItems()
      expect(stored).toStrictEqual(expected)
      expect(Object.is((stored as unknown as { providerData: { negZero: number } }).providerData.negZero, -0)).toBe(true)
    })

    it("round-trips bytes through transactions, pops and limited reads", async () => {
      const sessionId = Databases.uniqueId("codec-tx")
      const session = open(sessionId)
      await session.applyHistoryTransaction({
        operationId: "with-bytes",
        transaction: { type: "append_items", items: structuredClone(awkwardItems.slice(0, 3)) }
      })
      // The expected suffix is compared after decoding: bytes match bytes.
      await session.applyHistoryTransaction({
        operationId: "replace-bytes",
        transaction: {
          type: "replace_suffix",
          expectedSuffix: structuredClone(awkwardItems.slice(1, 3)),
          replacement: structuredClone(awkwardItems.slice(3, 4))
        }
      })
      // Retrying it with the same bytes is recognised as the same transaction.
      await open(sessionId).applyHistoryTransaction({
        operationId: "replace-bytes",
        transaction: {
          type: "replace_suffix",
          expectedSuffix: structuredClone(awkwardItems.slice(1, 3)),
          replacement: structuredClone(awkwardItems.slice(3, 4))
        }
      })
      expect(await open(sessionId).getItems(1)).toStrictEqual([awkwardItems[3]])
      expect(await open(sessionId).popItem()).toStrictEqual(awkwardItems[3])
      expect(await open(sessionId).getItems()).toStrictEqual([awkwardItems[0]])
    })

    it("stores the runner's items (messages, reasoning, function_call, function_call_result) as MemorySession does", async () => {
      const script = () => [
        callTool("get_weather", { city: "Lisbon" }, { reasoning: "I need the forecast." }),
        say("24°C and sunny in Lisbon.", { reasoning: "Summarise the tool result." }),
        say("You're welcome!")
      ]
      const conversation = async (session: MemorySession | SqlSession) => {
        // The same id prefix on both sides: the two runs produce identical items.
        const model = new ScriptedModel(script(), { idPrefix: "same" })
        const agent = new Agent({ name: "Weather", model, tools: [weatherTool([])] })
        await run(agent, "Weather in Lisbon?", { session })
        await run(agent, [{ role: "user", content: [{ type: "input_text", text: "Thanks!" }] }], { session })
        return model
      }
      const sessionId = Databases.uniqueId("codec-runner")
      const memory = new MemorySession()
      const memoryModel = await conversation(memory)
      const sqlModel = await conversation(open(sessionId))

      const stored = await open(sessionId).getItems()
      expect(stored).toStrictEqual(await memory.getItems())
      expect(stored.map((item) => ("role" in item ? item.role : item.type))).toEqual([
        "user",
        "reasoning",
        "function_call",
        "function_call_result",
        "reasoning",
        "assistant",
        "user",
        "assistant"
      ])
      // And the model was sent the same history on every call.
      expect(sqlModel.calls.map((call) => call.input)).toStrictEqual(memoryModel.calls.map((call) => call.input))
      expect(sqlModel.calls[2]!.input).toHaveLength(7)
    })
  })
})
