/**
 * Every ```ts block of the README, of docs/ and of the `@example`s in src/ (editors show them)
 * compiles against the source, so the snippets a user copies cannot drift from the API. Each block becomes a module of its own in a scratch
 * directory inside the repository (so the repository's node_modules resolve), with
 * `effect-agent-sessions` mapped to src/index.ts, and all are checked in one `tsc` run.
 * A fragment is rewritten to compile, never skipped.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { codeBlocks, docCommentBlocks, repoRoot } from "./support/markdown.js"

const markdownFiles = [
  "README.md",
  ...readdirSync(join(repoRoot, "docs")).filter((file) => file.endsWith(".md")).map((file) => `docs/${file}`)
]
const sourceFiles = readdirSync(join(repoRoot, "src")).filter((file) => file.endsWith(".ts")).map((file) => `src/${file}`)
const blocks = [...markdownFiles.flatMap(codeBlocks), ...sourceFiles.flatMap(docCommentBlocks)]
  .filter((block) => block.language === "ts")

const scratch = mkdtempSync(join(repoRoot, ".readme-snippets-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** `README.md` line 120 becomes `README.md-L120.ts`, so a compile error names the block. */
const moduleName = (file: string, line: number) => `${file.replace(/\//g, "-")}-L${line}.ts`

describe("the documentation's TypeScript", () => {
  it("has the blocks this test is meant to check", () => {
    expect(blocks.filter((block) => block.file === "README.md").length).toBeGreaterThanOrEqual(10)
    expect(blocks.some((block) => block.code.includes("SqlSessionStore.migrations({ ids"))).toBe(true)
    expect(blocks.filter((block) => block.file.startsWith("src/")).length).toBeGreaterThanOrEqual(8)
  })

  it("compiles, every block, against src/", async () => {
    for (const block of blocks) {
      // `export {}`: each block is a module, so two blocks may declare the same names.
      writeFileSync(join(scratch, moduleName(block.file, block.line)), `${block.code}\nexport {}\n`)
    }
    // The README's offline-model example imports the user's copy of examples/ScriptedModel.ts.
    writeFileSync(join(scratch, "ScriptedModel.ts"), `export * from "../examples/ScriptedModel.js"\n`)
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        extends: "../tsconfig.json",
        compilerOptions: { noEmit: true, paths: { "effect-agent-sessions": ["../src/index.ts"] } },
        include: ["*.ts"]
      })
    )
    const tsc = join(repoRoot, "node_modules/typescript/bin/tsc")
    const errors = await promisify(execFile)(process.execPath, [tsc, "-p", scratch, "--pretty", "false"], {
      cwd: repoRoot,
      maxBuffer: 16 * 1024 * 1024
    }).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? String(error)
    )
    expect(errors).toBe("")
  }, 120_000)
})
