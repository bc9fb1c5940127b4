/**
 * The benchmark's catalogue phase in its smallest mode on PostgreSQL: it seeds, lists, prunes
 * under load and reports, and leaves no table behind. No timing is asserted: speed is the
 * benchmark's business, not the tests'.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import { MODES } from "../bench/src/modes.js"
import { runBenchmark } from "../bench/src/run.js"
import { isCI, postgres, postgresUrl } from "./support/databases.js"

const catalogueTables = async (): Promise<Array<string>> => {
  const client = new Pg.Client({ connectionString: postgresUrl })
  await client.connect()
  try {
    const result = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'bench\\_cat\\_%'"
    )
    return result.rows.map((row) => row.name)
  } finally {
    await client.end()
  }
}

describe("benchmark catalogue phase (smoke)", () => {
  it.skipIf(postgres.unavailable !== undefined && !isCI)("lists deep pages, prunes the idle sessions under load and reports both", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "bench-catalogue-"))
    const tablesBefore = await catalogueTables()
    try {
      const results = await runBenchmark({
        mode: "smoke",
        dialects: ["pg"],
        only: ["catalogue"],
        peers: false,
        charts: false,
        sameDatabase: true,
        pgUrl: postgresUrl,
        outDir,
        log: () => undefined
      })
      const settings = MODES.smoke.catalogue
      const c = results.catalogue
      expect(results.failures).toEqual([])
      expect(c?.sessions).toBe(settings.sessions)
      expect(c?.items).toBe(settings.items)
      expect(c?.listing.map((p) => [p.filter, p.page, p.stats.ops])).toEqual([
        ["none", 1, settings.samples],
        ["none", settings.deepPage, settings.samples],
        ["owner", 1, settings.samples],
        ["owner", settings.deepPage, settings.samples]
      ])
      expect(c?.prune.rounds.map((r) => r.deleted)).toEqual(Array.from({ length: settings.rounds }, () => settings.idle))
      for (const round of c?.prune.rounds ?? []) {
        expect(round.baseline.ops).toBeGreaterThan(0)
        expect(round.during.ops).toBeGreaterThan(0)
      }
      // Only the catalogue phase ran.
      expect(results.targets).toEqual([])
      const markdown = readFileSync(join(outDir, "results.md"), "utf8")
      expect(markdown).toContain("## Catalogue (issue 10)")
      expect(markdown).toContain("listSessions page of 50 by owner, p50 ≤ 2 ms at page 1")
      expect(markdown).toContain(`pruning ${settings.idle} idle sessions slows concurrent appends`)
      const json = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")) as { catalogue?: unknown }
      expect(json.catalogue).toBeDefined()
      // The phase drops the tables it made.
      expect((await catalogueTables()).filter((name) => !tablesBefore.includes(name))).toEqual([])
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  }, 120_000)
})
