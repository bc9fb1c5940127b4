/**
 * What a user gets from the registry: `npm pack` (through `prepack`, from whatever is checked
 * out), installed into a scratch project next to nothing but the README's SQLite install command.
 * The scratch program is type-checked with `skipLibCheck: false`, so a published declaration
 * that names a package the user did not install (say `@openai/agents-core`) fails here, and it
 * runs under plain `node` through `import` and through `require()` from a `.cjs` file. The
 * README's other install commands must resolve with npm, without ERESOLVE.
 *
 * It needs the npm registry: outside CI an unreachable registry is a loud skip, with `CI=true` a
 * failure. It is slow (a build, an install, a type check), so it is this one test.
 */
import { execFile } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { isCI } from "../support/databases.js"
import { codeBlocks, repoRoot } from "../support/markdown.js"

const run = promisify(execFile)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const scratch = mkdtempSync(join(tmpdir(), "agent-sessions-pack-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// Under `npm test`, npm exports its own prefix; the scratch projects must be their own roots.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_config_(local_)?prefix$/i.test(key))
)

const npmIn = async (cwd: string, args: ReadonlyArray<string>) => {
  const { stdout, stderr } = await run(npm, ["--no-audit", "--no-fund", "--no-update-notifier", ...args], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...env, npm_config_loglevel: "warn" }
  })
  return `${stdout}\n${stderr}`
}

const registryProblem = await npmIn(repoRoot, ["ping"]).then(() => undefined, (error: Error) => error.message)
if (registryProblem !== undefined) {
  const message = `the npm registry is unreachable (${registryProblem.split("\n")[0]})`
  if (isCI) throw new Error(`${message}. CI=true requires it for the packaging test.`)
  console.warn(`\n*** SKIPPING the packaging test: ${message}. Set CI=true to make this a failure. ***\n`)
}

/** The `npm install` lines of the README's Install section, comments dropped. */
const installCommands = codeBlocks("README.md")
  .filter((block) => block.section === "Install" && block.language === "sh")
  .flatMap((block) => block.code.split("\n"))
  .map((line) => line.replace(/#.*$/, "").trim())
  .filter((line) => line.startsWith("npm install "))
  .map((line) => line.split(/\s+/).slice(2))

const project = (name: string): string => {
  const dir = join(scratch, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }))
  return dir
}

// `tarball` stands in for `effect-agent-sessions`, which the registry does not have in this version.
const withTarball = (args: ReadonlyArray<string>, tarball: string) =>
  args.map((arg) => (arg === "effect-agent-sessions" ? tarball : arg))

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: false,
    types: [],
    rootDir: "src",
    outDir: "out"
  },
  include: ["src"]
}

const program = `import { Effect, Option } from "effect"
import { SessionStore, SqlSession, SqlSessionPool, SqlSessionStore } from "effect-agent-sessions"

const effectUser = Effect.gen(function* () {
  const store = yield* SessionStore
  yield* store.addItems("effect-user", [{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi" }])
  const popped = yield* store.popItem("effect-user")
  return { items: yield* store.getItems("effect-user"), popped: Option.getOrUndefined(popped) }
})
const effect = await Effect.runPromise(effectUser.pipe(Effect.provide(SqlSessionStore.layerTest())))

const pool = SqlSessionPool.fromUrl({ url: "sqlite::memory:", createTables: true })
const session: SqlSession = pool.session("promise-user")
await session.addItems([{ role: "user", content: "Hi" }])
const promise = await session.getItems()
await pool.close()

console.log(JSON.stringify({ effect, promise, migrations: Object.keys(SqlSessionStore.migrations()).length > 0 }))
`

const required = `const { SqlSession } = require("effect-agent-sessions")

const session = SqlSession.fromUrl("cjs-user", { url: "sqlite::memory:", createTables: true })
session.addItems([{ role: "user", content: "from require" }])
  .then(() => session.getItems())
  .then(async (items) => {
    await session.close()
    console.log(JSON.stringify(items))
  })
`

/** Reuses the repository's build of the same better-sqlite3 version instead of compiling it again. */
const provideBetterSqlite = async (dir: string) => {
  const version = (root: string) =>
    JSON.parse(readFileSync(join(root, "node_modules/better-sqlite3/package.json"), "utf8")).version as string
  const binary = "node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  if (version(dir) === version(repoRoot) && existsSync(join(repoRoot, binary))) {
    mkdirSync(join(dir, "node_modules/better-sqlite3/build/Release"), { recursive: true })
    copyFileSync(join(repoRoot, binary), join(dir, binary))
  } else {
    await npmIn(dir, ["rebuild", "better-sqlite3"])
  }
}

describe.skipIf(registryProblem !== undefined)("the packed package", () => {
  it("installs from its tarball with only the README's SQLite command, type-checks with skipLibCheck: false, and runs through import and require()", async () => {
    const packed = JSON.parse(
      (await run(npm, ["pack", "--json", "--pack-destination", scratch], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }))
        .stdout
    ) as ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }>
    const tarball = join(scratch, packed[0]!.filename)
    const files = packed[0]!.files.map((file) => file.path)
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "README.md", "dist/index.js", "dist/index.d.ts", "dist/index.d.ts.map"]))
    expect(files.filter((file) => file.startsWith("test/") || file.startsWith("examples/"))).toEqual([])

    // One command per dialect, and the Agents SDK's.
    const dialects = ["@effect/sql-pg@^0.53", "@effect/sql-mysql2@^0.53", "@effect/sql-sqlite-node@^0.53"]
    for (const dialect of dialects) {
      expect(installCommands.filter((args) => args.includes(dialect))).toHaveLength(1)
    }
    const sqliteCommand = installCommands.find((args) => args.includes("@effect/sql-sqlite-node@^0.53"))!
    expect(sqliteCommand).toEqual(["effect-agent-sessions", "effect@^3.22", "@effect/sql@^0.52", "@effect/sql-sqlite-node@^0.53"])
    const agentsCommand = installCommands.find((args) => args.includes("@openai/agents@^0.20"))
    const cliCommand = installCommands.find((args) => args.includes("@effect/cli@^0.77"))
    expect(agentsCommand).toBeDefined()

    const app = project("app")
    // --ignore-scripts: better-sqlite3's native build is copied from this repository below.
    await npmIn(app, ["install", "--prefer-offline", "--ignore-scripts", ...withTarball(sqliteCommand, tarball)])
    await provideBetterSqlite(app)
    const installed = Object.keys(JSON.parse(readFileSync(join(app, "package.json"), "utf8")).dependencies).sort()
    expect(installed).toEqual(["@effect/sql", "@effect/sql-sqlite-node", "effect", "effect-agent-sessions"])
    expect(existsSync(join(app, "node_modules/@openai/agents-core"))).toBe(false)
    // Members marked @internal are not part of the published declarations.
    const declarations = readFileSync(join(app, "node_modules/effect-agent-sessions/dist/SqlSession.d.ts"), "utf8")
    expect(declarations).not.toMatch(/@internal|ofPool|^import .*"@openai|import\("@openai/m)

    mkdirSync(join(app, "src"))
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig))
    writeFileSync(join(app, "src/main.ts"), program)
    writeFileSync(join(app, "required.cjs"), required)
    const tsc = join(repoRoot, "node_modules/typescript/bin/tsc")
    const typecheck = await run(process.execPath, [tsc, "-p", app], { cwd: app }).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? String(error)
    )
    expect(typecheck).toBe("")

    const esm = JSON.parse((await run(process.execPath, ["out/main.js"], { cwd: app })).stdout)
    expect(esm).toEqual({
      effect: { items: [{ role: "user", content: "Hello" }], popped: { role: "assistant", content: "Hi" } },
      promise: [{ role: "user", content: "Hi" }],
      migrations: true
    })
    const cjs = JSON.parse((await run(process.execPath, ["required.cjs"], { cwd: app })).stdout)
    expect(cjs).toEqual([{ role: "user", content: "from require" }])

    // The other commands resolve (a dry run: the tree, no download), the SDK's on top of SQLite's.
    const dialectOutputs = await Promise.all(
      installCommands.filter((args) => args !== agentsCommand && args !== sqliteCommand && args !== cliCommand).map((args, index) =>
        npmIn(project(`dry-${index}`), ["install", "--dry-run", ...withTarball(args, tarball)])
      )
    )
    expect(dialectOutputs).toHaveLength(2)
    for (const output of dialectOutputs) expect(output).toMatch(/^add effect 3\./m)
    const agentsOutput = await npmIn(app, ["install", "--dry-run", ...withTarball(agentsCommand!, tarball)])
    expect(agentsOutput).toMatch(/^add @openai\/agents 0\.20\./m)
    // The CLI's optional peers, on top of SQLite's: Effect 3's @effect/cli, never the 4.x line.
    const cliOutput = await npmIn(app, ["install", "--dry-run", ...withTarball(cliCommand!, tarball)])
    expect(cliOutput).toMatch(/^add @effect\/cli 0\.77\./m)
    for (const output of [...dialectOutputs, agentsOutput, cliOutput]) {
      expect(output).not.toMatch(/ERESOLVE|Conflicting peer/)
      expect(output).not.toMatch(/^add (effect|@effect\/[a-z-]+) 4\./m)
    }
  }, 300_000)
})
