/**
 * An offline `Model` for `@openai/agents`: it answers from a script instead of calling an API.
 *
 * No network, no API key. Each model call takes the next step of the script; a step is a fixed
 * reply or a function of the request (so a reply can depend on the history the model was sent).
 * Every call's input is recorded, which lets tests assert exactly what history the model saw.
 *
 * @example
 * ```ts
 * import { Agent, run } from "@openai/agents"
 * import { ScriptedModel, say, callTool } from "./ScriptedModel.js"
 *
 * const model = new ScriptedModel([callTool("get_weather", { city: "Lisbon" }), say("24°C and sunny.")])
 * const agent = new Agent({ name: "Guide", model, tools: [getWeather] })
 * await run(agent, "Weather in Lisbon?", { session })
 * model.calls[1].input // the history the second model call saw, tool result included
 * ```
 */
import { randomUUID } from "node:crypto"
import type {
  AgentInputItem,
  AgentOutputItem,
  Model,
  ModelProvider,
  ModelRequest,
  ModelResponse,
  StreamEvent
} from "@openai/agents-core"
import { Usage } from "@openai/agents-core"

/** A reply of the model: text, or a call of one tool, optionally preceded by a reasoning item. */
export type ScriptedReply =
  | { readonly type: "say"; readonly text: string; readonly reasoning?: string | undefined }
  | {
    readonly type: "call_tool"
    readonly name: string
    readonly arguments: Readonly<Record<string, unknown>>
    readonly reasoning?: string | undefined
  }

/** One step of a script: a fixed reply, or one computed from the request the model received. */
export type ScriptStep = ScriptedReply | ((request: RecordedCall) => ScriptedReply)

/** A model call as the scripted model saw it. `input` is a snapshot, always as a list of items. */
export interface RecordedCall {
  readonly input: ReadonlyArray<AgentInputItem>
  readonly systemInstructions: string | undefined
  readonly toolNames: ReadonlyArray<string>
  readonly streamed: boolean
}

/** Reply with text. */
export const say = (text: string, options?: { readonly reasoning?: string }): ScriptedReply => ({
  type: "say",
  text,
  reasoning: options?.reasoning
})

/** Reply with a call of the tool `name`; `args` are sent JSON-encoded, as a real model does. */
export const callTool = (
  name: string,
  args: Readonly<Record<string, unknown>>,
  options?: { readonly reasoning?: string }
): ScriptedReply => ({ type: "call_tool", name, arguments: args, reasoning: options?.reasoning })

/** Thrown when the model is called more often than its script has steps. */
export class ScriptExhaustedError extends Error {
  override readonly name = "ScriptExhaustedError"
  constructor(readonly calls: number) {
    super(`The scripted model was called ${calls} times but its script has only ${calls - 1} steps.`)
  }
}

/** The text of the most recent tool result in `input`, or undefined. */
export const lastToolOutput = (input: ReadonlyArray<AgentInputItem>): string | undefined => {
  for (let index = input.length - 1; index >= 0; index--) {
    const item = input[index]!
    if (item.type === "function_call_result") {
      const output = item.output
      if (typeof output === "string") return output
      if (output && typeof output === "object" && "type" in output && output.type === "text") return output.text
      return JSON.stringify(output)
    }
  }
  return undefined
}

/** The text of every user message in `input`, oldest first. */
export const userTexts = (input: ReadonlyArray<AgentInputItem>): Array<string> =>
  input.flatMap((item) => {
    if (!("role" in item) || item.role !== "user") return []
    if (typeof item.content === "string") return [item.content]
    return item.content.flatMap((part) => (part.type === "input_text" ? [part.text] : []))
  })

/** The function calls in `input`, oldest first, with their arguments decoded. */
export const functionCalls = (
  input: ReadonlyArray<AgentInputItem>
): Array<{ readonly name: string; readonly arguments: Record<string, unknown>; readonly callId: string }> =>
  input.flatMap((item) =>
    item.type === "function_call"
      ? [{ name: item.name, arguments: JSON.parse(item.arguments) as Record<string, unknown>, callId: item.callId }]
      : []
  )

/**
 * A `Model` that replies from a script. Use one instance per conversation you script; `calls`
 * holds what each call received.
 */
export class ScriptedModel implements Model {
  /** Every call so far, in order. */
  readonly calls: Array<RecordedCall> = []
  private readonly steps: ReadonlyArray<ScriptStep>
  private readonly idPrefix: string
  private nextId = 0

  /**
   * @param steps one step per model call, in order.
   * @param options.idPrefix goes into every item id the model makes. Random by default, because ids
   *   must not repeat across processes that continue one stored conversation; fix it to make two
   *   runs produce identical items.
   */
  constructor(steps: Iterable<ScriptStep>, options?: { readonly idPrefix?: string }) {
    this.steps = Array.from(steps)
    this.idPrefix = options?.idPrefix ?? randomUUID().slice(0, 8)
  }

  /** How many script steps have not been used yet. */
  get remainingSteps(): number {
    return Math.max(0, this.steps.length - this.calls.length)
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const output = this.reply(request, false)
    return {
      output,
      usage: new Usage({ requests: 1, ...this.usageOf(request, output) }),
      responseId: this.id("resp")
    }
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    const output = this.reply(request, true)
    yield { type: "response_started" }
    for (const item of output) {
      if (item.type === "message" && item.role === "assistant") {
        for (const part of item.content) {
          if (part.type !== "output_text") continue
          // Word by word, as a real model streams.
          for (const delta of part.text.split(/(?<= )/)) {
            yield { type: "output_text_delta", delta, ...(item.id ? { itemId: item.id } : {}) }
          }
        }
      }
    }
    yield {
      type: "response_done",
      response: { id: this.id("resp"), usage: this.usageOf(request, output), output: output as StreamedOutput }
    }
  }

  private reply(request: ModelRequest, streamed: boolean): Array<AgentOutputItem> {
    const recorded: RecordedCall = {
      input: snapshotInput(request.input),
      systemInstructions: request.systemInstructions,
      toolNames: request.tools.map((tool) => tool.name),
      streamed
    }
    this.calls.push(recorded)
    const step = this.steps[this.calls.length - 1]
    if (step === undefined) throw new ScriptExhaustedError(this.calls.length)
    const reply = typeof step === "function" ? step(recorded) : step
    const output: Array<AgentOutputItem> = []
    if (reply.reasoning !== undefined) {
      output.push({
        type: "reasoning",
        id: this.id("rs"),
        content: [{ type: "input_text", text: reply.reasoning }]
      })
    }
    if (reply.type === "say") {
      output.push({
        type: "message",
        role: "assistant",
        id: this.id("msg"),
        status: "completed",
        content: [{ type: "output_text", text: reply.text }]
      })
    } else {
      output.push({
        type: "function_call",
        id: this.id("fc"),
        callId: this.id("call"),
        name: reply.name,
        arguments: JSON.stringify(reply.arguments),
        status: "completed"
      })
    }
    return output
  }

  private id(kind: string): string {
    this.nextId += 1
    return `${kind}_${this.idPrefix}_${this.nextId}`
  }

  // Rough token counts (characters / 4): enough for usage reports to look plausible.
  private usageOf(request: ModelRequest, output: ReadonlyArray<AgentOutputItem>) {
    const inputTokens = Math.ceil(JSON.stringify(request.input).length / 4)
    const outputTokens = Math.ceil(JSON.stringify(output).length / 4)
    return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }
  }
}

type StreamedOutput = Extract<StreamEvent, { type: "response_done" }>["response"]["output"]

/** A `ModelProvider` that hands out one scripted model whatever model name is asked for. */
export class ScriptedModelProvider implements ModelProvider {
  constructor(readonly model: ScriptedModel) {}
  getModel(): Model {
    return this.model
  }
}

const snapshotInput = (input: string | ReadonlyArray<AgentInputItem>): ReadonlyArray<AgentInputItem> =>
  typeof input === "string" ? [{ role: "user", content: input }] : structuredClone(input as Array<AgentInputItem>)
