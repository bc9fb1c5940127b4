/**
 * The benchmark harness in its smallest mode, on SQLite and in memory, with root
 * dependencies only (no bench/node_modules, no peers, no charts). It checks that
 * every target runs every operation and that the report is written; it asserts no
 * timing: speed is the benchmark's business, not the tests'.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runBenchmark } from "../bench/src/run.js"
import { OP_NAMES } from "../bench/src/types.js"

describe("benchmark harness (smoke)", () => {
  it("measures every core target on SQLite and writes results.md and results.json", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "bench-smoke-"))
    try {
      const results = await runBenchmark({
        mode: "smoke",
        dialects: ["sqlite", "memory"],
        peers: false,
        charts: false,
        outDir,
        log: () => undefined
      })

      const expected = ["sqlite/floor", "sqlite/python", "sqlite/ours-effect", "sqlite/ours-promise", "memory/memory-session"]
      expect(results.targets.map((t) => t.id).sort()).toEqual([...expected].sort())
      expect(results.targets.filter((t) => t.unavailable !== undefined)).toEqual([])

      for (const id of expected) {
        for (const op of OP_NAMES) {
          for (const concurrency of results.meta.settings.concurrencies) {
            const cell = results.operations.find((o) => o.target === id && o.op === op && o.concurrency === concurrency)
            expect(cell?.skipped, `${id} ${op} c${concurrency}`).toBeUndefined()
            expect(cell?.stats?.ops, `${id} ${op} c${concurrency}`).toBeGreaterThan(0)
            expect(cell?.stats?.errors, `${id} ${op} c${concurrency}`).toBe(0)
          }
        }
      }

      // Scaling read the bulk-loaded sessions through our store and the floor.
      const sizes = results.meta.settings.scaling.sizes
      for (const id of ["sqlite/floor", "sqlite/ours-effect", "sqlite/ours-promise"]) {
        expect(results.scaling.filter((p) => p.target === id).map((p) => p.historyLength)).toEqual(sizes)
        expect(results.growth.filter((p) => p.target === id).map((p) => p.sessions)).toEqual(results.meta.settings.growth.sessions)
      }

      // The paired (interleaved) latency run covered the floor and both faces of our store.
      for (const id of ["sqlite/floor", "sqlite/ours-effect", "sqlite/ours-promise"]) {
        expect(results.paired.filter((p) => p.target === id).map((p) => p.op).sort()).toEqual(["append", "latest20"])
      }

      const json = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")) as { meta: { mode: string } }
      expect(json.meta.mode).toBe("smoke")
      const markdown = readFileSync(join(outDir, "results.md"), "utf8")
      expect(markdown).toContain("# Session store benchmark")
      expect(markdown).toContain("## Targets")
      expect(markdown).toContain("ours: Effect SessionStore (sqlite)")
      // The SQLite files of the run are removed.
      expect(existsSync(join(outDir, ".tmp"))).toBe(false)
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  }, 120_000)
})
