/**
 * Code blocks of the project's Markdown files, for the tests that keep the documentation honest:
 * the README's TypeScript must compile and its install commands must resolve.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

export interface CodeBlock {
  readonly file: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly language: string
  readonly code: string
  /** The `##` heading the block is under. */
  readonly section: string
}

/** Every fenced block of a Markdown file (relative to the repository root), in order. */
export const codeBlocks = (file: string): ReadonlyArray<CodeBlock> =>
  blocksOf(file, readFileSync(join(repoRoot, file), "utf8").split("\n"))

/**
 * Every fenced block in the doc comments of a source file (`@example`s), which editors show to
 * users. A doc comment line is ` * text`; the marker is dropped and line numbers are kept.
 */
export const docCommentBlocks = (file: string): ReadonlyArray<CodeBlock> =>
  blocksOf(
    file,
    readFileSync(join(repoRoot, file), "utf8").split("\n").map((line) => /^\s*\* ?(.*)$/.exec(line)?.[1] ?? "")
  )

const blocksOf = (file: string, lines: ReadonlyArray<string>): ReadonlyArray<CodeBlock> => {
  const blocks: Array<CodeBlock> = []
  let section = ""
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index]!
    if (text.startsWith("## ")) section = text.slice(3).trim()
    const fence = /^```(\w*)\s*$/.exec(text)
    if (fence === null) continue
    const body: Array<string> = []
    let end = index + 1
    while (end < lines.length && !lines[end]!.startsWith("```")) body.push(lines[end++]!)
    blocks.push({ file, line: index + 1, language: fence[1]!, code: body.join("\n"), section })
    index = end
  }
  return blocks
}
