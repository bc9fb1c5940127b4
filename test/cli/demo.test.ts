/**
 * `npm start` ends with the CLI command that shows the stored session, and that command works as
 * printed from the project folder.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runShell } from "./support.js"

describe("the demo", { timeout: 300_000 }, () => {
  it("prints a working agent-sessions command as its last line", async () => {
    // DATABASE_URL keeps the demo away from the project's own sessions.db.
    const env = { DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), "agent-sessions-demo-")), "demo.db")}` }
    const demo = await runShell("npm start --silent", env)
    expect(demo.code).toBe(0)
    const command = demo.stdout.trimEnd().split("\n").at(-1)!.trim()
    expect(command).toBe("npm run sessions -- show demo-trip-planner")

    const shown = await runShell(command, env)
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/Session\s+demo-trip-planner\n/)
    expect(shown.stdout).toContain("Items     6\n")
    expect(shown.stdout).toContain("  4  tool call    get_forecast({\"city\":\"Lisbon\"})\n")
    expect(shown.stdout).toContain("  5  tool result  get_forecast -> sunny, 24°C, light breeze\n")
  })
})
