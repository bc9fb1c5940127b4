/**
 * The offline scripted model itself, under the real runner (no database): what it records, how
 * it streams, and that it fails loudly when a test calls it more often than scripted.
 */
import { Agent, MemorySession, run, Runner, type RunStreamEvent, setTracingDisabled } from "@openai/agents"
import { describe, expect, it } from "vitest"
import { callTool, ScriptedModel, ScriptedModelProvider, ScriptExhaustedError, say } from "../../examples/ScriptedModel.js"
import { weatherTool } from "./support/conversation.js"

setTracingDisabled(true)

describe("ScriptedModel", () => {
  it("records each call's input, instructions and tools, and drives a tool call", async () => {
    const executedFor: Array<string> = []
    const model = new ScriptedModel([callTool("get_weather", { city: "Oslo" }), say("Done.")])
    const agent = new Agent({ name: "t", instructions: "Be brief.", model, tools: [weatherTool(executedFor)] })

    const result = await run(agent, "Weather?")

    expect(result.finalOutput).toBe("Done.")
    expect(executedFor).toEqual(["Oslo"])
    expect(model.calls).toHaveLength(2)
    expect(model.calls[0]).toMatchObject({ systemInstructions: "Be brief.", toolNames: ["get_weather"], streamed: false })
    expect(model.calls[1]!.input.map((item) => item.type ?? "message")).toEqual([
      "message",
      "function_call",
      "function_call_result"
    ])
    expect(model.remainingSteps).toBe(0)
  })

  it("streams its text as deltas that add up to the final output", async () => {
    const model = new ScriptedModel([say("One two three.")])
    const stream = await run(new Agent({ name: "t", model }), "Count.", { stream: true })
    const deltas: Array<string> = []
    for await (const event of stream as AsyncIterable<RunStreamEvent>) {
      if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") deltas.push(event.data.delta)
    }
    await stream.completed
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.join("")).toBe("One two three.")
    expect(stream.finalOutput).toBe("One two three.")
    expect(model.calls[0]!.streamed).toBe(true)
  })

  it("fails with ScriptExhaustedError when called more often than scripted", async () => {
    const model = new ScriptedModel([say("Only once.")])
    const agent = new Agent({ name: "t", model })
    const session = new MemorySession()
    await run(agent, "First.", { session })
    await expect(run(agent, "Second.", { session })).rejects.toThrow(ScriptExhaustedError)
  })

  it("serves agents that name no model, through ScriptedModelProvider", async () => {
    const model = new ScriptedModel([say("From the provider.")])
    const runner = new Runner({ modelProvider: new ScriptedModelProvider(model) })
    const result = await runner.run(new Agent({ name: "t" }), "Hi.")
    expect(result.finalOutput).toBe("From the provider.")
  })

  it("uses fresh ids per model unless an id prefix is fixed", async () => {
    const ids = async (model: ScriptedModel) => {
      const session = new MemorySession()
      await run(new Agent({ name: "t", model }), "Hi.", { session })
      return (await session.getItems()).flatMap((item) => ("id" in item && item.id ? [item.id] : []))
    }
    const [a, b] = [await ids(new ScriptedModel([say("x")])), await ids(new ScriptedModel([say("x")]))]
    expect(a).toHaveLength(1)
    expect(a).not.toEqual(b)
    expect(await ids(new ScriptedModel([say("x")], { idPrefix: "p" })))
      .toEqual(await ids(new ScriptedModel([say("x")], { idPrefix: "p" })))
  })
})
