/**
 * The command line itself: help on every command, usage errors with exit code 2 and no
 * password in the output, and progress only on a terminal.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli, runShell } from "./support.js"

const COMMANDS = ["list", "show", "export", "import", "prune", "migrate", "stats"]
const SECRET = "s3cret-Pa55"

describe("agent-sessions usage", { timeout: 300_000 }, () => {
  it("--help works on the program and on every command", async () => {
    const root = await runCli(["--help"])
    expect(root.code).toBe(0)
    expect(root.stdout).not.toContain("\u001b[")
    for (const command of COMMANDS) expect(root.stdout).toContain(`- ${command} `)
    const helps = await Promise.all(COMMANDS.map((command) => runCli([command, "--help"])))
    helps.forEach((help, index) => {
      expect(help.code, COMMANDS[index]).toBe(0)
      expect(help.stdout).toContain(`$ ${COMMANDS[index]} `)
      expect(help.stdout).toContain("--url URL")
      // Piped output is plain text: no terminal styles.
      expect(help.stdout).not.toContain("\u001b[")
    })
  })

  it("a bad URL or flag exits with 2 and a clear message, never the password", async () => {
    const cases: ReadonlyArray<readonly [args: ReadonlyArray<string>, env: Record<string, string>, message: RegExp]> = [
      [["list", "--url", `oracle://admin:${SECRET}@db.example/x`], {}, /invalid database url: unsupported scheme/],
      [["list", "--url", `postgres:admin:${SECRET}@db.example/x`], {}, /invalid database url: expected \/\/ after the scheme, as in postgres:/],
      [["stats"], { DATABASE_URL: `mysql:/admin:${SECRET}@db.example/x` }, /invalid database url: expected \/\/ after the scheme, as in mysql:/],
      [["list"], {}, /--url/],
      [["prune", "--idle", "30 parsecs", "--url", `postgres://admin:${SECRET}@db.example/x`], {}, /--idle: "30 parsecs" is not a positive duration/],
      [["prune", "--url", "sqlite::memory:"], {}, /--idle/],
      [["list", "--limit", "many", "--url", `postgres://admin:${SECRET}@db.example/x`], {}, /'many' is not a integer/],
      [["import", "/no/such/file.jsonl", "--url", "sqlite::memory:"], {}, /file.jsonl/],
      [["import", "x", "--on-conflict", "merge", "--url", "sqlite::memory:"], {}, /fail, skip, replace, append/],
      [["list", "--url", "sqlite::memory:", "--sessions-table", "public.x"], {}, /sessionsTable must match/],
      [["frobnicate"], {}, /frobnicate|Invalid subcommand/]
    ]
    const results = await Promise.all(cases.map(([args, env]) => runCli(args, env)))
    results.forEach((result, index) => {
      const [args, , message] = cases[index]!
      expect({ args, code: result.code }).toEqual({ args, code: 2 })
      expect(result.stdout + result.stderr).toMatch(message)
      expect(result.stdout + result.stderr).not.toContain(SECRET)
    })
  })

  it("a database that cannot be reached exits with 1, named without its credentials", async () => {
    const result = await runCli(["list"], { DATABASE_URL: `postgres://admin:${SECRET}@127.0.0.1:1/x` })
    expect(result.code).toBe(1)
    // The database is named by scheme, host, port and name only: never the user or password.
    expect(result.stderr).toContain("could not connect to postgres://127.0.0.1:1/x")
    expect(result.stdout + result.stderr).not.toContain(SECRET)
    // A mistyped SQLite path is reported, not created (only migrate creates the file).
    const file = join(mkdtempSync(join(tmpdir(), "agent-sessions-cli-")), "typo.db")
    const missing = await runCli(["list", "--url", `sqlite:${file}`])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`no SQLite database at ${file}`)
    expect(existsSync(file)).toBe(false)
  })

  it("shows progress on a terminal's stderr, and only there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-sessions-cli-"))
    const url = `sqlite:${join(dir, "sessions.db")}`
    const seed = join(dir, "seed.jsonl")
    writeFileSync(
      seed,
      `${JSON.stringify({ type: "session", version: 1, sessionId: "p", owner: null, title: null, metadata: {}, createdAt: "2026-01-02T03:04:05.000Z", updatedAt: "2026-01-02T03:04:05.000Z", expiresAt: null })}\n`
    )
    expect((await runCli(["migrate"], { DATABASE_URL: url })).code).toBe(0)
    // `script` gives the command a terminal; its output is what the terminal showed.
    const onTerminal = await runShell(
      `script -qec "node --import tsx src/cli/main.ts import ${seed} --json" /dev/null`,
      { DATABASE_URL: url, TERM: "xterm" }
    )
    expect(onTerminal.code).toBe(0)
    expect(onTerminal.stdout).toMatch(/import \[[^\]]*\] 100% \| \d+\/\d+ bytes/)
    const piped = await runCli(["import", seed, "--on-conflict", "skip", "--json"], { DATABASE_URL: url })
    expect(piped.code).toBe(0)
    expect(piped.stderr).toBe("")
    expect(JSON.parse(piped.stdout)).toEqual({ sessions: 0, skipped: 1, items: 0 })
  })
})
