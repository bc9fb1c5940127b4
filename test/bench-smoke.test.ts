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
import { type AddressInfo, connect, createServer } from "node:net"
import { BATCHING_CELLS } from "../bench/src/batching.js"
import { startLinkProxy } from "../bench/src/link-proxy.js"
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

      const expected = [
        "sqlite/floor",
        "sqlite/batched-floor",
        "sqlite/python",
        "sqlite/ours-effect",
        "sqlite/ours-promise",
        "memory/memory-session"
      ]
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
      for (const id of ["sqlite/floor", "sqlite/batched-floor", "sqlite/ours-effect", "sqlite/ours-promise"]) {
        expect(results.scaling.filter((p) => p.target === id).map((p) => p.historyLength)).toEqual(sizes)
        expect(results.growth.filter((p) => p.target === id).map((p) => p.sessions)).toEqual(results.meta.settings.growth.sessions)
      }

      // The paired (interleaved) latency run covered the floor and both faces of our store.
      for (const id of ["sqlite/floor", "sqlite/ours-effect", "sqlite/ours-promise"]) {
        expect(results.paired.filter((p) => p.target === id).map((p) => p.op).sort()).toEqual(["append", "latest20"])
      }

      // The natural-batching set: every store passed the concurrent check (the batched floor's includes
      // having combined calls) and measured every cell.
      const set = [
        "sqlite/floor",
        "sqlite/batched-floor",
        "sqlite/ours-effect-batched",
        "sqlite/ours-effect-unbatched",
        "sqlite/ours-promise-batched",
        "sqlite/ours-promise-unbatched"
      ]
      expect(results.batchingTargets?.map((t) => [t.id, t.unavailable])).toEqual(set.map((id) => [id, undefined]))
      for (const id of set) {
        for (const [op, concurrency] of BATCHING_CELLS) {
          const point = results.batching?.find((p) => p.target === id && p.op === op && p.concurrency === concurrency)
          expect(point?.stats.ops, `${id} ${op} c${concurrency}`).toBeGreaterThan(0)
          expect(point?.stats.errors, `${id} ${op} c${concurrency}`).toBe(0)
        }
      }

      const json = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")) as { meta: { mode: string } }
      expect(json.meta.mode).toBe("smoke")
      const markdown = readFileSync(join(outDir, "results.md"), "utf8")
      expect(markdown).toContain("# Session store benchmark")
      expect(markdown).toContain("## Targets")
      expect(markdown).toContain("ours: Effect SessionStore (sqlite)")
      expect(markdown).toContain("### SQLite (file): natural batching")
      expect(markdown).toContain("## Natural batching targets (issue 11)")
      // The SQLite files of the run are removed.
      expect(existsSync(join(outDir, ".tmp"))).toBe(false)
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  }, 120_000)

  it("passes every byte through the link-delay proxy, in order, both ways", async () => {
    // An echo server stands in for the database: what goes out through the proxy must come back whole.
    const echo = createServer((socket) => socket.pipe(socket))
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve))
    const proxy = await startLinkProxy([{ host: "127.0.0.1", port: (echo.address() as AddressInfo).port }], 1)
    try {
      const sent = Array.from({ length: 50 }, (_, i) => `chunk ${i};`.repeat(1 + (i % 7))).join("")
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect(proxy.ports[0]!, "127.0.0.1")
        let text = ""
        socket.setEncoding("utf8")
        socket.on("data", (data: string) => {
          text += data
          if (text.length >= sent.length) {
            socket.end()
            resolve(text)
          }
        })
        socket.on("error", reject)
        // Small writes a timer tick apart arrive as separate chunks, several of them held at once.
        const writeFrom = (i: number) => {
          if (i >= sent.length) return
          socket.write(sent.slice(i, i + 97))
          setTimeout(() => writeFrom(i + 97), 0)
        }
        socket.setNoDelay(true)
        writeFrom(0)
      })
      expect(received).toBe(sent)
    } finally {
      await proxy.close()
      await new Promise<void>((resolve) => echo.close(() => resolve()))
    }
  })
})
