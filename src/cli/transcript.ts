/**
 * Stored items as a readable transcript: who said what, tool calls and their results, one line
 * each, in the style of the demo's output.
 */
import type { Item } from "../SessionStore.js"

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** Message content: a string, or parts whose text is joined (other parts shown by type). */
const contentText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return content === undefined ? "" : JSON.stringify(content)
  return content.map((part) => {
    const record = (part ?? {}) as Record<string, unknown>
    return str(record.text) ?? str(record.refusal) ?? `[${str(record.type) ?? "part"}]`
  }).join("")
}

const toolOutput = (output: unknown): string => {
  if (typeof output === "string") return output
  const record = (output ?? {}) as Record<string, unknown>
  return !Array.isArray(output) && typeof record.text === "string" ? record.text : contentText(output)
}

/** The label and one-line text of an item (OpenAI Agents item shapes; anything else as JSON). */
export const describeItem = (item: Item): readonly [label: string, text: string] => {
  const role = str(item.role)
  if (role !== undefined) return [role, contentText(item.content)]
  switch (item.type) {
    case "function_call":
      return ["tool call", `${str(item.name) ?? "?"}(${str(item.arguments) ?? ""})`]
    case "function_call_result":
      return ["tool result", `${str(item.name) ?? "?"} -> ${toolOutput(item.output)}`]
    case "reasoning":
      return ["reasoning", contentText(item.content)]
    default:
      return [str(item.type) ?? "item", JSON.stringify(item)]
  }
}

/** Newlines inside a text would break the one-line layout. */
const oneLine = (text: string): string => text.replace(/\r?\n/g, " ⏎ ")

/** Numbered transcript lines; `firstNumber` is the position of the first item in the session. */
export const formatTranscript = (items: ReadonlyArray<Item>, firstNumber: number): string => {
  const width = String(firstNumber + items.length - 1).length
  return items.map((item, index) => {
    const [label, text] = describeItem(item)
    return `  ${String(firstNumber + index).padStart(width)}  ${label.padEnd(11)}  ${oneLine(text)}`
  }).join("\n")
}
