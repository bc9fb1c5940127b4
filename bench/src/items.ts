import type { Item } from "./types.js"

const WORDS = ["session", "memory", "agent", "history", "turn", "tool", "result", "answer", "question", "store"]

const sentence = (seed: number, words: number): string => {
  const out: Array<string> = []
  for (let i = 0; i < words; i++) out.push(WORDS[(seed * 7 + i * 3) % WORDS.length]!)
  return out.join(" ")
}

/**
 * Items shaped like the OpenAI Agents SDK's: a user message, an assistant message
 * and a function call, about 150 to 300 bytes of JSON each.
 */
export const makeItem = (n: number): Item => {
  switch (n % 3) {
    case 0:
      return { type: "message", role: "user", content: sentence(n, 24) }
    case 1:
      return {
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: sentence(n, 30) }]
      }
    default:
      return {
        type: "function_call",
        callId: `call_${n}`,
        name: "lookup",
        status: "completed",
        arguments: JSON.stringify({ query: sentence(n, 6) })
      }
  }
}

export const makeItems = (start: number, count: number): Array<Item> =>
  Array.from({ length: count }, (_, i) => makeItem(start + i))

/** A short text and role for peers whose messages are role + text. */
export const toRoleText = (item: Item): { role: "user" | "assistant"; text: string } => {
  const role = item["role"] === "user" ? "user" : "assistant"
  return { role, text: JSON.stringify(item) }
}
