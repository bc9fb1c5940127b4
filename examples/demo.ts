/**
 * `npm start`: an agent with one tool, durable memory through `SqlSession`, and no API key.
 *
 * The agent runs on the real `@openai/agents` runner; only the model is scripted (see
 * ScriptedModel.ts), so the demo works offline. Every run continues the same stored
 * conversation (a fixed session id) and then prints what is stored.
 *
 * Storage: `./sessions.db` (SQLite), or `DATABASE_URL` when set (postgres://... or mysql://...).
 * To talk to a real model instead, give the agent `model: "gpt-4.1-mini"` and set OPENAI_API_KEY.
 */
import type { AgentInputItem } from "@openai/agents"
import { Agent, run, setTracingDisabled, tool } from "@openai/agents"
import { z } from "zod"
import { SqlSession } from "../src/index.js"
import { callTool, functionCalls, lastToolOutput, say, type ScriptStep, ScriptedModel } from "./ScriptedModel.js"

const SESSION_ID = "demo-trip-planner"
const url = process.env.DATABASE_URL ?? "sqlite:sessions.db"

// The scripted model needs no tracing exporter (which would want an OpenAI key).
setTracingDisabled(true)

// ---------------------------------------------------------------------------------------------
// The agent's one tool: a (made-up, offline) weather forecast.
// ---------------------------------------------------------------------------------------------
const forecasts: Record<string, string> = {
  lisbon: "sunny, 24°C, light breeze",
  oslo: "light rain, 9°C",
  kyoto: "clear skies, 19°C"
}

const getForecast = tool({
  name: "get_forecast",
  description: "The weekend weather forecast for a city.",
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => forecasts[city.toLowerCase()] ?? "mild and cloudy, 16°C"
})

// ---------------------------------------------------------------------------------------------
// The script: what the user says, and how the offline model answers. Replies that are functions
// read the history the model was sent, so they only come out right if the memory works.
// ---------------------------------------------------------------------------------------------
interface Turn {
  readonly user: string
  readonly model: ReadonlyArray<ScriptStep>
}

const citiesSoFar = (input: ReadonlyArray<AgentInputItem>): Array<string> => [
  ...new Set(functionCalls(input).map((call) => String(call.arguments.city)))
]

/** The forecast the tool returned for `city` earlier in the history, if any. */
const forecastInHistory = (input: ReadonlyArray<AgentInputItem>, city: string): string | undefined => {
  const call = functionCalls(input).find((c) => String(c.arguments.city).toLowerCase() === city.toLowerCase())
  const result = input.find((item) => item.type === "function_call_result" && item.callId === call?.callId)
  return result === undefined ? undefined : lastToolOutput([result])
}

const conversation: ReadonlyArray<Turn> = [
  {
    user: "Hi! I'm planning a weekend trip and can't decide where to go.",
    model: [say("Happy to help! Name a city and I'll check its weekend forecast.")]
  },
  {
    user: "How about Lisbon?",
    model: [
      callTool("get_forecast", { city: "Lisbon" }),
      (call) => say(`Lisbon looks great this weekend: ${lastToolOutput(call.input)}.`)
    ]
  },
  {
    user: "Compare that with Oslo, please.",
    model: [
      callTool("get_forecast", { city: "Oslo" }),
      (call) => {
        const lisbon = forecastInHistory(call.input, "Lisbon")
        return say(
          `Oslo: ${lastToolOutput(call.input)}. ` +
            (lisbon === undefined ? "I have nothing to compare it with yet." : `Lisbon, from earlier: ${lisbon}. Lisbon wins.`)
        )
      }
    ]
  },
  {
    user: "Which cities have we looked at so far?",
    model: [
      (call) => {
        const cities = citiesSoFar(call.input)
        return say(
          cities.length === 0
            ? "None yet."
            : `So far we've looked at ${cities.join(" and ")}; I remembered that from the ${
              call.input.length - 1
            } earlier items stored in this session.`
        )
      }
    ]
  },
  {
    user: "One more: Kyoto?",
    model: [
      callTool("get_forecast", { city: "Kyoto" }),
      (call) => {
        const [first] = citiesSoFar(call.input)
        return say(`Kyoto: ${lastToolOutput(call.input)}. Pleasant${first === "Kyoto" ? "" : `, but a long way from ${first}`}!`)
      }
    ]
  },
  {
    user: "Thanks! Can you sum up what we found?",
    model: [
      (call) => {
        const found = citiesSoFar(call.input).map((city) => `${city}: ${forecastInHistory(call.input, city)}`)
        return say(found.length === 0 ? "We haven't checked any forecasts yet." : `Here's what we found. ${found.join("; ")}.`)
      }
    ]
  }
]

const TURNS_PER_RUN = 2

// ---------------------------------------------------------------------------------------------
// Printing.
// ---------------------------------------------------------------------------------------------
const redact = (text: string): string => text.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return JSON.stringify(content)
  return content
    .map((part: { type?: string; text?: string }) => (typeof part.text === "string" ? part.text : `[${part.type}]`))
    .join("")
}

const describeItem = (item: AgentInputItem): [label: string, text: string] => {
  if ("role" in item) return [item.role, textOf(item.content)]
  switch (item.type) {
    case "function_call":
      return ["tool call", `${item.name}(${item.arguments})`]
    case "function_call_result": {
      const output = item.output
      const text = typeof output === "string"
        ? output
        : !Array.isArray(output) && output.type === "text"
        ? output.text
        : textOf(output)
      return ["tool result", `${item.name} -> ${text}`]
    }
    case "reasoning":
      return ["reasoning", item.content.map((part) => part.text).join("")]
    default:
      return [item.type ?? "item", JSON.stringify(item)]
  }
}

const printHistory = (items: ReadonlyArray<AgentInputItem>, newFrom: number): void => {
  const width = String(items.length).length
  items.forEach((item, index) => {
    const [label, text] = describeItem(item)
    const marker = index >= newFrom ? "+" : " "
    console.log(`  ${marker} ${String(index + 1).padStart(width)}  ${label.padEnd(11)}  ${text}`)
  })
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------
const main = async (): Promise<void> => {
  const where = process.env.DATABASE_URL ? `DATABASE_URL (${redact(url)})` : "./sessions.db (SQLite)"
  console.log("effect-agent-sessions demo")
  console.log("An agent with one tool (get_forecast), an offline scripted model (no API key, no network),")
  console.log(`and its memory in ${where}, session "${SESSION_ID}".\n`)

  const session = SqlSession.fromUrl(SESSION_ID, { url, createTables: true })
  try {
    const before = await session.getItems()
    const userTurnsSoFar = before.filter((item) => "role" in item && item.role === "user").length
    if (before.length === 0) {
      console.log("No stored conversation yet: starting a new one.\n")
    } else {
      console.log(`Continuing the stored conversation (${before.length} items, ${userTurnsSoFar} user messages).\n`)
    }

    if (userTurnsSoFar > 0 && userTurnsSoFar % conversation.length === 0) {
      console.log("(The scripted conversation was played through; it starts over while the stored history keeps growing.)\n")
    }
    const turns = Array.from({ length: TURNS_PER_RUN }, (_, offset) => conversation[(userTurnsSoFar + offset) % conversation.length]!)
    const model = new ScriptedModel(turns.flatMap((turn) => turn.model))
    const agent = new Agent({
      name: "Trip planner",
      instructions: "You help plan weekend trips. Use get_forecast for weather questions.",
      model,
      tools: [getForecast]
    })

    for (const turn of turns) {
      console.log(`  you   > ${turn.user}`)
      // The whole integration: pass the session, and the runner loads and saves history through it.
      const result = await run(agent, turn.user, { session })
      for (const call of result.newItems.filter((item) => item.type === "tool_call_item")) {
        const raw = call.rawItem as { name?: string; arguments?: string }
        console.log(`          (called ${raw.name}(${raw.arguments}))`)
      }
      console.log(`  agent > ${result.finalOutput}\n`)
    }

    const after = await session.getItems<AgentInputItem>()
    console.log(`Stored conversation: ${after.length} items ("+" = added by this run).`)
    printHistory(after, before.length)
    console.log("\nRun `npm start` again to continue the conversation; delete sessions.db to start over.")
    console.log("Set DATABASE_URL=postgres://... or mysql://... to keep it in PostgreSQL or MySQL/MariaDB instead.")
    // The CLI reads DATABASE_URL itself, so the command never needs to repeat (or print) it.
    const cliUrl = process.env.DATABASE_URL ? "" : ` --url ${url}`
    console.log(`\nThe stored session, with the agent-sessions CLI (run it from this folder):`)
    console.log(`  npm run sessions -- show ${SESSION_ID}${cliUrl}`)
  } finally {
    await session.close()
  }
}

main().catch((error: unknown) => {
  const tag = (error as { _tag?: string })._tag
  console.error(`\nThe demo failed${tag ? ` (${tag})` : ""}: ${redact(error instanceof Error ? error.message : String(error))}`)
  process.exitCode = 1
})
