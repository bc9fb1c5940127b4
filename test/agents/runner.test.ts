/**
 * `SqlSession` under the real `@openai/agents` runner, with an offline scripted model, on every
 * dialect: multi-turn memory, a new session on the same database, streaming, tool calls, and the
 * output-guardrail paths that persist through `applyHistoryTransaction` (a blocked output is
 * stored with `append_items`; the same run accepted later replaces it with `replace_suffix`;
 * see `flushPendingSessionHistoryTransaction` in agents-core's runner/sessionPersistence).
 */
import {
  Agent,
  type AgentInputItem,
  OutputGuardrailTripwireTriggered,
  run,
  type RunState,
  type RunStreamEvent,
  setTracingDisabled,
  type SessionHistoryTransactionArgs
} from "@openai/agents"
import { describe, expect, it } from "vitest"
import {
  callTool,
  lastToolOutput,
  type RecordedCall,
  say,
  ScriptedModel,
  userTexts
} from "../../examples/ScriptedModel.js"
import { SqlSession } from "../../src/index.js"
import * as Databases from "../support/databases.js"
import { summarize, weatherTool } from "./support/conversation.js"
import { sessionsOn, storedKinds } from "./support/databases.js"

setTracingDisabled(true)

/** A streamed run, consumed to the end; rejects with the run's error. */
const runStreamed = async (agent: Agent, input: string | RunState<unknown, Agent>, session: SqlSession): Promise<void> => {
  const stream = await run(agent, input, { session, stream: true })
  for await (const _event of stream as AsyncIterable<RunStreamEvent>) {
    // consume
  }
  await stream.completed
  if (stream.error !== null && stream.error !== undefined) throw stream.error
}

describe.each(Databases.all)("the runner with SqlSession on $label", (db) => {
  describe.skipIf(db.unavailable !== undefined)("", () => {
    const { database, open } = sessionsOn(db)

    const nameAgent = (model: ScriptedModel) => new Agent({ name: "Greeter", instructions: "Be brief.", model })

    // The second reply is computed from what the model was sent: without the first turn it fails.
    const rememberName = (call: RecordedCall) => {
      const name = /my name is (\w+)/i.exec(userTexts(call.input).join(" "))?.[1]
      return say(name === undefined ? "I don't know your name." : `Your name is ${name}.`)
    }

    it("a second turn sees the first turn's history", async () => {
      const sessionId = Databases.uniqueId("two-turns")
      const session = open(sessionId)
      const model = new ScriptedModel([
        say("Nice to meet you, Ada.", { reasoning: "The user introduced themselves." }),
        rememberName
      ])
      const agent = nameAgent(model)

      const first = await run(agent, "Hello, my name is Ada.", { session })
      expect(first.finalOutput).toBe("Nice to meet you, Ada.")
      const second = await run(agent, "What is my name?", { session })

      expect(second.finalOutput).toBe("Your name is Ada.")
      expect(summarize(model.calls[1]!.input)).toEqual([
        "user: Hello, my name is Ada.",
        "reasoning: The user introduced themselves.",
        "assistant: Nice to meet you, Ada.",
        "user: What is my name?"
      ])
      expect(summarize(await session.getItems())).toEqual([
        ...summarize(model.calls[1]!.input),
        "assistant: Your name is Ada."
      ])
      expect(await storedKinds(database, sessionId)).toEqual(["user", "reasoning", "assistant", "user", "assistant"])
    })

    it("a third turn from a new SqlSession on the same database, streamed, sees everything", async () => {
      const sessionId = Databases.uniqueId("new-session")
      const model = new ScriptedModel([
        say("Nice to meet you, Ada."),
        say("Lisbon is lovely in May."),
        (call) => say(`You are Ada and you asked about ${/about (\w+)/.exec(userTexts(call.input)[1] ?? "")?.[1]}.`)
      ])
      const agent = nameAgent(model)
      const first = open(sessionId)
      await run(agent, "Hello, my name is Ada.", { session: first })
      await run(agent, "Tell me about Lisbon.", { session: first })
      await first.close()

      const second = open(sessionId)
      const stream = await run(agent, "Who am I and what did I ask?", { session: second, stream: true })
      let streamedText = ""
      for await (const event of stream as AsyncIterable<RunStreamEvent>) {
        if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") {
          streamedText += event.data.delta
        }
      }
      await stream.completed

      expect(stream.error).toBeNull()
      expect(stream.finalOutput).toBe("You are Ada and you asked about Lisbon.")
      expect(streamedText).toBe(stream.finalOutput)
      expect(model.calls[2]!.streamed).toBe(true)
      expect(summarize(model.calls[2]!.input)).toEqual([
        "user: Hello, my name is Ada.",
        "assistant: Nice to meet you, Ada.",
        "user: Tell me about Lisbon.",
        "assistant: Lisbon is lovely in May.",
        "user: Who am I and what did I ask?"
      ])
      // The streamed turn is stored too, after the stream completed.
      expect(summarize(await open(sessionId).getItems())).toEqual([
        ...summarize(model.calls[2]!.input),
        "assistant: You are Ada and you asked about Lisbon."
      ])
    })

    it("a tool call's function_call and function_call_result are stored and replayed on the next turn", async () => {
      const sessionId = Databases.uniqueId("tool")
      const executedFor: Array<string> = []
      const model = new ScriptedModel([
        callTool("get_weather", { city: "Lisbon" }),
        (call) => say(`Here it is: ${lastToolOutput(call.input)}.`),
        // The next turn answers from the stored tool result alone.
        (call) => say(lastToolOutput(call.input)?.includes("sunny") ? "No umbrella needed." : "No idea.")
      ])
      const agent = new Agent({ name: "Weather", model, tools: [weatherTool(executedFor)] })

      const first = await run(agent, "What's the weather in Lisbon?", { session: open(sessionId) })
      expect(first.finalOutput).toBe("Here it is: Lisbon: 24°C and sunny.")

      const stored = await open(sessionId).getItems<AgentInputItem>()
      const call = stored.find((item) => item.type === "function_call")
      const result = stored.find((item) => item.type === "function_call_result")
      expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: "{\"city\":\"Lisbon\"}" })
      expect(result).toMatchObject({ type: "function_call_result", name: "get_weather", status: "completed" })
      expect(call?.type === "function_call" && result?.type === "function_call_result" && call.callId === result.callId)
        .toBe(true)
      expect(await storedKinds(database, sessionId)).toEqual([
        "user",
        "function_call",
        "function_call_result",
        "assistant"
      ])

      // A new SqlSession replays the call and its result to the model; the tool does not run again.
      const second = await run(agent, "Do I need an umbrella?", { session: open(sessionId) })
      expect(second.finalOutput).toBe("No umbrella needed.")
      expect(executedFor).toEqual(["Lisbon"])
      expect(summarize(model.calls[2]!.input)).toEqual([
        "user: What's the weather in Lisbon?",
        ...summarize([call!, result!]),
        "assistant: Here it is: Lisbon: 24°C and sunny.",
        "user: Do I need an umbrella?"
      ])
    })

    it.each([{ mode: "run" }, { mode: "streamed run" }])("a blocked output is persisted through applyHistoryTransaction, once, without the blocked text ($mode)", async ({ mode }) => {
      const sessionId = Databases.uniqueId("guardrail")
      const session = open(sessionId)
      const transactions: Array<SessionHistoryTransactionArgs> = []
      const apply = session.applyHistoryTransaction.bind(session)
      session.applyHistoryTransaction = async (args: SessionHistoryTransactionArgs) => {
        transactions.push(structuredClone(args))
        return apply(args)
      }
      const executedFor: Array<string> = []
      const model = new ScriptedModel([
        say("Hi! Ask me about the weather."),
        callTool("get_weather", { city: "Oslo" }),
        say("The vault code is SECRET-1234."),
        (call) => say(`Earlier I found: ${lastToolOutput(call.input)}`)
      ])
      const agent = new Agent({
        name: "Guarded",
        model,
        tools: [weatherTool(executedFor)],
        outputGuardrails: [{
          name: "no_secrets",
          execute: async ({ agentOutput }) => ({
            tripwireTriggered: String(agentOutput).includes("SECRET"),
            outputInfo: { reason: "leaks a secret" }
          })
        }]
      })

      await run(agent, "Hello!", { session })
      const before = await session.getItems<AgentInputItem>()
      const input = "Weather in Oslo, and the vault code?"
      const blocked = await (mode === "run" ? run(agent, input, { session }) : runStreamed(agent, input, session)).then(
        () => undefined,
        (error: unknown) => error
      )

      expect(blocked).toBeInstanceOf(OutputGuardrailTripwireTriggered)
      // The runner swallows a persistence failure into `cause`: there must be none.
      expect((blocked as Error).cause).toBeUndefined()
      // The runner took the transactional path, exactly once, appending the executed tool call.
      expect(transactions).toHaveLength(1)
      const [transaction] = transactions
      expect(transaction!.transaction.type).toBe("append_items")
      const appended = transaction!.transaction.type === "append_items" ? transaction!.transaction.items : []
      const history = await session.getItems<AgentInputItem>()
      expect(summarize(history)).toEqual([
        ...summarize(before),
        "user: Weather in Oslo, and the vault code?",
        ...summarize(appended).slice(1)
      ])
      expect(summarize(appended)).toEqual([
        "user: Weather in Oslo, and the vault code?",
        expect.stringMatching(/^function_call get_weather \{"city":"Oslo"\} #/),
        expect.stringMatching(/^function_call_result get_weather #.*: Oslo: 24°C and sunny$/)
      ])
      expect(JSON.stringify(history)).not.toContain("SECRET")
      expect(await storedKinds(database, sessionId)).toEqual([
        "user",
        "assistant",
        "user",
        "function_call",
        "function_call_result"
      ])

      // A retry of the same operation, after a crash, from another SqlSession: nothing changes.
      const other = open(sessionId)
      await other.applyHistoryTransaction(structuredClone(transaction!))
      expect(await other.getItems()).toEqual(history)

      // The next turn sees the executed tool's result, and the tool does not run again.
      const next = await run(agent, "What did you find?", { session: open(sessionId) })
      expect(next.finalOutput).toBe("Earlier I found: Oslo: 24°C and sunny")
      expect(executedFor).toEqual(["Oslo"])
    })

    it.each([{ mode: "run" }, { mode: "streamed run" }])("an output accepted after being blocked replaces the stored suffix through applyHistoryTransaction ($mode)", async ({ mode }) => {
      const sessionId = Databases.uniqueId("accepted")
      const transactions: Array<SessionHistoryTransactionArgs> = []
      const spied = (session: SqlSession): SqlSession => {
        const apply = session.applyHistoryTransaction.bind(session)
        session.applyHistoryTransaction = async (args: SessionHistoryTransactionArgs) => {
          transactions.push(structuredClone(args))
          return apply(args)
        }
        return session
      }
      let reviewed = false
      const model = new ScriptedModel([callTool("get_weather", { city: "Oslo" }), say("Oslo: rain. Internal code X-1.")])
      const agent = new Agent({
        name: "Reviewed",
        model,
        tools: [weatherTool([])],
        outputGuardrails: [{
          name: "needs_review",
          // Blocks until a human has reviewed the answer.
          execute: async () => ({ tripwireTriggered: !reviewed, outputInfo: null })
        }]
      })
      const input = "Weather in Oslo?"
      const first = spied(open(sessionId))
      const blocked = await (mode === "run" ? run(agent, input, { session: first }) : runStreamed(agent, input, first))
        .then(() => undefined, (error: unknown) => error)
      expect(blocked).toBeInstanceOf(OutputGuardrailTripwireTriggered)
      expect(summarize(await first.getItems()).map((line) => line.split(" ")[0])).toEqual([
        "user:",
        "function_call",
        "function_call_result"
      ])

      // After review, the same run state is resumed, from a new SqlSession on the same database.
      reviewed = true
      const state = (blocked as { state: unknown }).state as RunState<unknown, Agent>
      const second = spied(open(sessionId))
      if (mode === "run") {
        const resumed = await run(agent, state, { session: second })
        expect(resumed.finalOutput).toBe("Oslo: rain. Internal code X-1.")
      } else {
        await runStreamed(agent, state, second)
      }

      // The runner compared its expected suffix with what SqlSession stored, and replaced it.
      expect(transactions.map((t) => t.transaction.type)).toEqual(["append_items", "replace_suffix"])
      const replace = transactions[1]!.transaction
      expect(replace.type === "replace_suffix" && replace.expectedSuffix.length).toBeGreaterThan(0)
      const history = await open(sessionId).getItems<AgentInputItem>()
      expect(summarize(history)).toEqual([
        "user: Weather in Oslo?",
        expect.stringMatching(/^function_call get_weather /),
        expect.stringMatching(/^function_call_result get_weather #.*: Oslo: 24°C and sunny$/),
        "assistant: Oslo: rain. Internal code X-1."
      ])
      // A retry of the replacement from yet another session is recognised and changes nothing.
      await open(sessionId).applyHistoryTransaction(structuredClone(transactions[1]!))
      expect(await open(sessionId).getItems()).toEqual(history)
      expect(model.remainingSteps).toBe(0)
    })
  })
})
