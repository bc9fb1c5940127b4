/**
 * Helpers for driving the real `@openai/agents` runner in tests.
 */
import type { AgentInputItem } from "@openai/agents-core"
import { tool } from "@openai/agents"
import { z } from "zod"

/** One line per item, readable in a failure message: `user: hi`, `function_call get_weather {...}`. */
export const summarize = (items: ReadonlyArray<AgentInputItem>): Array<string> =>
  items.map((item) => {
    if ("role" in item) {
      const content = typeof item.content === "string"
        ? item.content
        : item.content.map((part) => ("text" in part ? part.text : `<${part.type}>`)).join("")
      return `${item.role}: ${content}`
    }
    switch (item.type) {
      case "function_call":
        return `function_call ${item.name} ${item.arguments} #${item.callId}`
      case "function_call_result": {
        const output = item.output
        const text = typeof output === "string"
          ? output
          : !Array.isArray(output) && output.type === "text"
          ? output.text
          : JSON.stringify(output)
        return `function_call_result ${item.name} #${item.callId}: ${text}`
      }
      case "reasoning":
        return `reasoning: ${item.content.map((part) => part.text).join("")}`
      default:
        return item.type ?? "?"
    }
  })

/** A weather tool that records every city it was really executed for. */
export const weatherTool = (executedFor: Array<string>) =>
  tool({
    name: "get_weather",
    description: "Today's weather for a city.",
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executedFor.push(city)
      return `${city}: 24°C and sunny`
    }
  })
