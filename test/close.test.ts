/**
 * Every call settles: `close()` settles calls in flight (with their result or
 * `SessionClosedError`), even while the pool is still being built; a script that forgets
 * `close()` exits once idle; a missing dialect package is a typed failure that says what to
 * install. Bounds here are hang detectors, never speed assertions.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { SessionClosedError, SqlSessionPool } from "../src/index.js"
import { all, uniqueId } from "./support/databases.js"
import { startProxy } from "./support/tcpProxy.js"

const scratch = mkdtempSync(join(tmpdir(), "close-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A liveness check: the promise settles within `seconds`, or the test fails as a hang. */
const settled = <A>(promise: Promise<A>, seconds = 10) =>
  Promise.race([
    promise.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), seconds * 1000).unref())
  ])

const expectResultOrClosed = (outcome: Awaited<ReturnType<typeof settled>>) => {
  expect(outcome).not.toBe("hung")
  if (outcome !== "hung" && "error" in outcome) expect(outcome.error).toBeInstanceOf(SessionClosedError)
}

const item = (n: number) => ({ role: "user" as const, content: `turn ${n}` })

/** Attaches to every call at once, so none is an unhandled rejection while another is awaited. */
const settleAll = (calls: ReadonlyArray<Promise<unknown>>) => Promise.all(calls.map((call) => settled(call)))

const urlFor = (db: (typeof all)[number]) => db.dialect === "sqlite" ? `sqlite:${join(scratch, `${uniqueId()}.db`)}` : db.url

/**
 * Runs a fixture in a child process, killed after `seconds` (then `killed` is true): a hang
 * detector with room for a loaded machine, since PostgreSQL's idle connections close after 5 s.
 */
const runChild = (args: ReadonlyArray<string>, env: Record<string, string> = {}, seconds = 30) =>
  new Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", ...args],
      { env: { ...process.env, ...env }, timeout: seconds * 1000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => resolve({ code: error?.code as number ?? 0, killed: error?.killed ?? false, stdout, stderr })
    )
  })

for (const db of all) {
  const describeDb = db.unavailable === undefined ? describe : describe.skip

  describeDb(`close() on ${db.label}`, () => {
    it("settles calls made while the pool is first being built", async () => {
      const pool = SqlSessionPool.fromUrl({ url: urlFor(db), createTables: true })
      const calls = Array.from({ length: 5 }, (_, i) => pool.session(uniqueId()).addItems([item(i)]))
      const closing = pool.close()
      for (const outcome of await settleAll(calls)) expectResultOrClosed(outcome)
      expect(await settled(closing)).not.toBe("hung")
      await expect(pool.session("after").getItems()).rejects.toBeInstanceOf(SessionClosedError)
    })

    it("settles calls in flight on a built pool, and later calls reject with SessionClosedError", async () => {
      const pool = SqlSessionPool.fromUrl({ url: urlFor(db), createTables: true })
      const id = uniqueId()
      await pool.session(id).addItems([item(0)])
      const calls: Array<Promise<unknown>> = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? pool.session(id).getItems() : pool.session(id).addItems([item(i)]))
      await new Promise((resolve) => setImmediate(resolve))
      const closing = pool.close()
      for (const outcome of await settleAll(calls)) expectResultOrClosed(outcome)
      expect(await settled(closing)).not.toBe("hung")
      await expect(pool.session(id).getItems()).rejects.toBeInstanceOf(SessionClosedError)
    })

    it("lets a script that never calls close() exit once it is idle", async () => {
      const child = await runChild(["test/fixtures/idle.ts", urlFor(db)])
      expect(child.killed, `the script was still running after 30 s: ${child.stderr}`).toBe(false)
      expect(child.code, child.stderr).toBe(0)
      expect(JSON.parse(child.stdout)).toEqual({ items: 1 })
    }, 45_000)
  })
}

for (const dialect of ["pg", "mysql"] as const) {
  describe(`close() on a ${dialect} server that never answers`, () => {
    it("settles calls waiting for the first connection at once, not after the connect timeout", async () => {
      const silent = await startProxy("silent")
      // A connect timeout far beyond the hang detector: only close() can settle these calls.
      const pool = SqlSessionPool.fromUrl({ url: `${dialect === "pg" ? "postgres" : "mysql"}://u:pw@127.0.0.1:${silent.port}/db`, connectTimeout: 60_000 })
      try {
        const calls: Array<Promise<unknown>> = [pool.session("a").getItems(), pool.session("b").addItems([item(1)])]
        await new Promise((resolve) => setTimeout(resolve, 200))
        void pool.close()
        for (const outcome of await settleAll(calls)) {
          expect(outcome).not.toBe("hung")
          expect(outcome !== "hung" && "error" in outcome && outcome.error).toBeInstanceOf(SessionClosedError)
        }
      } finally {
        await silent.close()
      }
    }, 30_000)
  })
}

describe("a missing dialect package", () => {
  const peers = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).peerDependencies
  const cases = [
    ["@effect/sql-sqlite-node", "sqlite::memory:"],
    ["@effect/sql-pg", "postgres://u:pw@127.0.0.1:1/db"],
    ["@effect/sql-mysql2", "mysql://u:pw@127.0.0.1:1/db"]
  ] as const
  it.each(cases)("%s: every entry point fails with SessionStoreError naming the range to install", async (pkg, url) => {
    const child = await runChild(
      ["--import", "./test/fixtures/hidePackage.mjs", "test/fixtures/missingPackage.ts", url],
      { HIDE_PACKAGE: pkg }
    )
    expect(child.code, child.stderr).toBe(0)
    const results = JSON.parse(child.stdout) as Record<string, unknown>
    const expected = { tag: "SessionStoreError", message: `${pkg} is not installed: npm install ${pkg}@${peers[pkg]}` }
    expect(results.fromUrl).toEqual(expected)
    expect(results.layerFromUrl).toEqual(expected)
    if (pkg === "@effect/sql-sqlite-node") expect(results.layerTest).toEqual(expected)
  }, 45_000)
})
