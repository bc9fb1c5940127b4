/**
 * The CLI end to end on one database: one function, called by sqlite/postgres/mysql.test.ts.
 * The tests of a suite run in order on tables of the suite's own, which the first one creates.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DialectName } from "../support/databases.js"
import { uniqueId, uniqueTable } from "../support/databases.js"
import { pythonDdl, pythonJson } from "../support/pythonTables.js"
import { type CliResult, json, runCli as runCliIn, withSql } from "./support.js"

export interface CliTarget {
  readonly label: string
  readonly dialect: DialectName
  readonly url: string
  /** Why the database cannot be used here, or undefined. */
  readonly unavailable: string | undefined
}

type Item = Record<string, unknown>

/** A session as the export format writes it: its record, then one record per item. */
const exported = (sessionId: string, owner: string | null, title: string | null, items: ReadonlyArray<Item>) =>
  [
    {
      type: "session",
      version: 1,
      sessionId,
      owner,
      title,
      metadata: { channel: "test" },
      createdAt: "2026-01-02T03:04:05.000Z",
      updatedAt: new Date().toISOString(),
      expiresAt: null
    },
    ...items.map((item) => ({ type: "item", version: 1, sessionId, data: JSON.stringify(item) }))
  ].map((record) => `${JSON.stringify(record)}\n`).join("")

const expectOk = (result: CliResult): CliResult => {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" })
  return result
}

export const cliSuite = (target: CliTarget): void => {
  const run = target.unavailable === undefined ? describe : describe.skip
  // Each test spawns the CLI several times (about a second each, more on a busy machine).
  run(`agent-sessions on ${target.label}`, { timeout: 300_000 }, () => {
    const env = { DATABASE_URL: target.url }
    // Tables of this suite's own: the store's suites share the database, on the default names too.
    const SESSIONS = uniqueTable("cli_sessions")
    const MESSAGES = uniqueTable("cli_messages")
    const OPERATIONS = uniqueTable("cli_operations")
    const runCli = (args: ReadonlyArray<string>, environment: Record<string, string>) =>
      runCliIn([...args, "--sessions-table", SESSIONS, "--messages-table", MESSAGES, "--operations-table", OPERATIONS], environment)
    const dir = mkdtempSync(join(tmpdir(), "agent-sessions-cli-"))
    const ids = { python: uniqueId("py"), trip: uniqueId("alice"), hello: uniqueId("alice"), bob: uniqueId("bob") }
    const tripItems: ReadonlyArray<Item> = [
      { role: "user", content: "Weather in Lisbon?" },
      { type: "function_call", callId: "c1", name: "get_forecast", arguments: "{\"city\":\"Lisbon\"}" },
      { type: "function_call_result", callId: "c1", name: "get_forecast", output: { type: "text", text: "sunny, 24°C" } },
      { role: "assistant", content: [{ type: "output_text", text: "Lisbon looks great: sunny." }] }
    ]
    const pythonItems: ReadonlyArray<Item> = [{ role: "user", content: "Grüße aus Python" }, { role: "assistant", content: "ok" }]
    const seed = exported(ids.trip, "alice", "Trip to Lisbon", tripItems) +
      exported(ids.hello, "alice", null, [{ role: "user", content: "hello" }]) +
      exported(ids.bob, "bob", null, [{ role: "user", content: "hi" }, { role: "assistant", content: "hi bob" }])
    const seedFile = join(dir, "seed.jsonl")
    writeFileSync(seedFile, seed)

    const count = (table: string) =>
      withSql(target.url, (sql) =>
        sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)}`.pipe(Effect.map((rows) => Number(rows[0]!.n))))

    afterAll(() =>
      withSql(target.url, (sql) =>
        Effect.forEach([OPERATIONS, MESSAGES, SESSIONS], (table) => sql`DROP TABLE IF EXISTS ${sql(table)}`)))

    it("migrate upgrades tables made by the Python SDK, keeping their rows, and is idempotent", async () => {
      await withSql(target.url, (sql) =>
        Effect.gen(function*() {
          for (const statement of pythonDdl(target.dialect, SESSIONS, MESSAGES)) yield* sql.unsafe(statement)
          yield* sql`INSERT INTO ${sql(SESSIONS)} (session_id) VALUES (${ids.python})`
          for (const item of pythonItems) {
            yield* sql`INSERT INTO ${sql(MESSAGES)} (session_id, message_data) VALUES (${ids.python}, ${pythonJson(item)})`
          }
        }))
      const first = expectOk(await runCli(["migrate"], env))
      expect(first.stdout).toContain("up to date")
      expect(json(expectOk(await runCli(["migrate", "--json"], env)))).toEqual({ migrated: true })
      const shown = json(expectOk(await runCli(["show", ids.python, "--json"], env)))
      expect(shown.items).toEqual(pythonItems)
      expect(shown.session).toMatchObject({ sessionId: ids.python, owner: null, itemCount: 2 })
    })

    it("import, then list shows what is stored, as JSON and as an aligned table", async () => {
      expect(json(expectOk(await runCli(["import", seedFile, "--json"], env)))).toEqual({
        sessions: 3,
        skipped: 0,
        items: 7
      })

      const listed = json<Array<{ sessionId: string; owner: string | null; itemCount: number }>>(
        expectOk(await runCli(["list", "--json"], env))
      )
      expect(listed.map((s) => s.sessionId).sort()).toEqual(Object.values(ids).sort())
      expect(listed.find((s) => s.sessionId === ids.trip)).toMatchObject({ owner: "alice", itemCount: 4 })

      // Human output: an aligned table, the owner filter applied.
      const table = expectOk(await runCli(["list", "--owner", "alice"], env)).stdout.trimEnd().split("\n")
      expect(table).toHaveLength(3)
      expect(table[0]).toMatch(/^SESSION\s+OWNER\s+ITEMS\s+UPDATED\s+CREATED\s+TITLE$/)
      for (const column of ["OWNER", "UPDATED"]) {
        const at = table[0]!.indexOf(column)
        for (const row of table.slice(1)) expect(row.slice(at)).toMatch(/^(alice|\d{4}-)/)
      }
      expect(table.slice(1).map((row) => row.split(/\s+/)[0]).sort()).toEqual([ids.hello, ids.trip].sort())
    })

    it("show prints the fields, then the items as a transcript; a missing session exits with 3", async () => {

      const shown = expectOk(await runCli(["show", ids.trip], env)).stdout
      expect(shown).toMatch(/^Session\s+\S+\nOwner\s+alice\nTitle\s+Trip to Lisbon\n/)
      expect(shown).toContain("  1  user         Weather in Lisbon?\n")
      expect(shown).toContain("  2  tool call    get_forecast({\"city\":\"Lisbon\"})\n")
      expect(shown).toContain("  3  tool result  get_forecast -> sunny, 24°C\n")
      expect(shown).toContain("  4  assistant    Lisbon looks great: sunny.\n")
      const newest = expectOk(await runCli(["show", ids.trip, "--limit", "1"], env)).stdout
      expect(newest).toContain("Items (the newest 1):\n  4  assistant")
      expect(newest).not.toContain("user")

      const missing = await runCli(["show", "no-such-session"], env)
      expect(missing.code).toBe(3)
      expect(missing.stderr).toContain("no session \"no-such-session\"")
    })

    it("stats counts sessions, items and bytes, and ranks the owners", async () => {

      const stats = json(expectOk(await runCli(["stats", "--json"], env)))
      const bytes = [...tripItems, { role: "user", content: "hello" }, { role: "user", content: "hi" }, {
        role: "assistant",
        content: "hi bob"
      }].reduce((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0) +
        pythonItems.reduce((sum, item) => sum + Buffer.byteLength(pythonJson(item)), 0)
      expect(stats).toMatchObject({
        sessions: 4,
        items: 9,
        bytes,
        topOwners: [{ owner: "alice", sessions: 2 }, { owner: "bob", sessions: 1 }]
      })
      expect(Date.parse(stats.oldest)).toBeLessThanOrEqual(Date.parse(stats.newest))
      const human = expectOk(await runCli(["stats"], env)).stdout
      expect(human).toMatch(/^Sessions\s+4\nItems\s+9\n/)
      expect(human).toMatch(/Top owners:\nOWNER\s+SESSIONS\nalice\s+2\nbob\s+1\n/)
    })

    it("export then import restores every session, item for item; a second import conflicts", async () => {
      const file = join(dir, "export.jsonl")
      // Not a terminal: no progress bar, nothing on stderr.
      expectOk(await runCli(["export", "--out", file], env))
      const text = readFileSync(file, "utf8")
      expect(text.trimEnd().split("\n").map((line) => JSON.parse(line).type).filter((t) => t === "session")).toHaveLength(4)
      expect(expectOk(await runCli(["export"], env)).stdout).toBe(text)
      const alice = expectOk(await runCli(["export", "--owner", "alice"], env)).stdout
      expect(alice.split("\n").filter((line) => line.includes("\"type\":\"session\""))).toHaveLength(2)

      await withSql(target.url, (sql) =>
        Effect.forEach([OPERATIONS, MESSAGES, SESSIONS], (table) => sql`DELETE FROM ${sql(table)}`, { discard: true }))
      expect(await count(SESSIONS)).toBe(0)
      expect(json(expectOk(await runCli(["import", file, "--json"], env)))).toEqual({ sessions: 4, skipped: 0, items: 9 })
      expect(expectOk(await runCli(["export"], env)).stdout).toBe(text)

      const again = await runCli(["import", file], env)
      expect(again.code).toBe(1)
      expect(again.stderr).toContain("SessionImportError")
      expect(json(expectOk(await runCli(["import", file, "--on-conflict", "skip", "--json"], env)))).toEqual({
        sessions: 0,
        skipped: 4,
        items: 0
      })
    })

    it("prune deletes idle sessions only, and --dry-run deletes nothing", async () => {
      // Distinct ages, so the stepped deletion (for the progress bar) takes more than one step.
      const aged = [[ids.hello, "2020-01-01 00:00:00"], [ids.bob, "2020-02-01 00:00:00"], [ids.python, "2020-03-01 00:00:00"]]
      await withSql(target.url, (sql) =>
        Effect.forEach(aged, ([id, at]) => sql`UPDATE ${sql(SESSIONS)} SET updated_at = ${at} WHERE session_id = ${id}`))
      const dry = json(expectOk(await runCli(["prune", "--idle", "30d", "--dry-run", "--json"], env)))
      expect(dry).toMatchObject({ dryRun: true, matched: 3, deleted: 0 })
      expect(await count(SESSIONS)).toBe(4)

      expect(json(expectOk(await runCli(["prune", "--idle", "30d", "--owner", "bob", "--json"], env)))).toMatchObject({
        matched: 1,
        deleted: 1
      })
      expect(expectOk(await runCli(["prune", "--idle", "30d"], env)).stdout).toMatch(/^Deleted 2 sessions not updated/)
      const left = json<Array<{ sessionId: string }>>(expectOk(await runCli(["list", "--json"], env)))
      expect(left.map((s) => s.sessionId)).toEqual([ids.trip])
      expect(await count(MESSAGES)).toBe(tripItems.length)
    })
  })
}
