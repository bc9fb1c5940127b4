/**
 * The Promise face: URLs, errors as `Error`s with tags, closing, shared pools, and connection
 * failures that are typed, bounded by the connect timeout, and never print the password.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import {
  InvalidArgumentError,
  InvalidItemError,
  SessionClosedError,
  SessionStoreError,
  SqlSession,
  SqlSessionPool
} from "../src/index.js"
import { all, uniqueId } from "./support/databases.js"
import { startProxy } from "./support/tcpProxy.js"

const turn = (n: number) => ({ role: "user" as const, content: `turn ${n}` })

const scratch = mkdtempSync(join(tmpdir(), "sql-session-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe("SqlSession on SQLite", () => {
  it("stores, reads, pops and clears through the Session protocol", async () => {
    const session = SqlSession.fromUrl("conversation", { url: "sqlite::memory:", createTables: true })
    try {
      expect(await session.getSessionId()).toBe("conversation")
      expect(await session.popItem()).toBeUndefined()
      await session.addItems([
        { role: "user", content: "Hello" },
        { role: "assistant", status: "completed", content: [{ type: "output_text", text: "Hi!" }] }
      ])
      expect(await session.getItems(1)).toEqual([
        { role: "assistant", status: "completed", content: [{ type: "output_text", text: "Hi!" }] }
      ])
      expect(await session.popItem()).toEqual({
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: "Hi!" }]
      })
      expect(await session.getItems()).toEqual([{ role: "user", content: "Hello" }])
      await session.clearSession()
      expect(await session.getItems()).toEqual([])
    } finally {
      await session.close()
    }
  })

  it("persists to a file across sessions and processes' pools, with SQLAlchemy URLs", async () => {
    const file = join(scratch, "history.db")
    const first = SqlSession.fromUrl("s1", { url: `sqlite:${file}`, createTables: true })
    await first.addItems([{ role: "user", content: "remember me" }])
    await first.close()
    const second = SqlSession.fromUrl("s1", { url: `sqlite+aiosqlite:///${file}` })
    expect(await second.getItems()).toEqual([{ role: "user", content: "remember me" }])
    await second.close()
  })

  it("rejects with tagged Error instances that keep their cause", async () => {
    const session = SqlSession.fromUrl("errors", { url: "sqlite::memory:", createTables: true })
    try {
      const invalidItem = await session.addItems([{ role: "user", content: 10n } as never]).catch((e: unknown) => e)
      expect(invalidItem).toBeInstanceOf(Error)
      expect(invalidItem).toBeInstanceOf(InvalidItemError)
      expect((invalidItem as InvalidItemError)._tag).toBe("InvalidItemError")
      expect((invalidItem as Error).name).toBe("InvalidItemError")
      expect((invalidItem as Error).cause).toBeDefined()
      const badLimit = await session.getItems(1.5).catch((e: unknown) => e)
      expect(badLimit).toBeInstanceOf(InvalidArgumentError)
      expect((badLimit as Error).name).toBe("InvalidArgumentError")
      expect(await session.getItems()).toEqual([])
    } finally {
      await session.close()
    }
  })

  it("rejects every call after close() with SessionClosedError", async () => {
    const session = SqlSession.fromUrl("closed", { url: "sqlite::memory:", createTables: true })
    await session.addItems([{ role: "user", content: "x" }])
    await session.close()
    for (const call of [() => session.getItems(), () => session.addItems([]), () => session.popItem(), () => session.clearSession()]) {
      const error = await call().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SessionClosedError)
      expect((error as Error).name).toBe("SessionClosedError")
    }
    await session.close() // closing twice is harmless
  })

  it("shares one pool between sessions that never close it", async () => {
    const pool = SqlSessionPool.fromUrl({ url: "sqlite::memory:", createTables: true })
    const alice = pool.session("alice")
    const bob = pool.session("bob")
    await alice.addItems([{ role: "user", content: "from alice" }])
    await bob.addItems([{ role: "user", content: "from bob" }])
    await alice.close()
    await expect(alice.getItems()).rejects.toBeInstanceOf(SessionClosedError)
    // The pool (and its in-memory database) is still there for everyone else.
    expect(await pool.session("alice").getItems()).toEqual([{ role: "user", content: "from alice" }])
    expect(await bob.getItems()).toEqual([{ role: "user", content: "from bob" }])
    await pool.close()
    await expect(bob.getItems()).rejects.toBeInstanceOf(SessionClosedError)
  })
})

for (const db of all.filter((db) => db.dialect !== "sqlite")) {
  const describeServer = db.unavailable === undefined ? describe : describe.skip
  const target = new URL(db.url)
  const sqlalchemy = db.dialect === "pg"
    ? db.url.replace(/^postgres(ql)?:/, "postgresql+asyncpg:")
    : db.url.replace(/^mysql:/, "mysql+aiomysql:")
  const withPort = (port: number, password?: string) => {
    const url = new URL(db.url)
    url.port = String(port)
    url.hostname = "127.0.0.1"
    if (password !== undefined) url.password = password
    return url.toString()
  }

  describeServer(`SqlSession on ${db.label}`, () => {
    it("works from a SQLAlchemy URL", async () => {
      const session = SqlSession.fromUrl(uniqueId(), { url: sqlalchemy, createTables: true })
      try {
        await session.addItems([{ role: "user", content: "hello" }, { role: "user", content: "again" }])
        expect(await session.getItems()).toEqual([{ role: "user", content: "hello" }, { role: "user", content: "again" }])
        await session.clearSession()
      } finally {
        await session.close()
      }
    })

    it("fails with SessionStoreError within the connect timeout when the server never answers, without the password", async () => {
      const silent = await startProxy("silent")
      const session = SqlSession.fromUrl(uniqueId(), {
        url: withPort(silent.port, "s3cret-pw"),
        connectTimeout: 1500
      })
      try {
        const error = await session.getItems().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(SessionStoreError)
        expect((error as SessionStoreError).operation).toBe("connect")
        for (const text of [String(error), (error as Error).message, inspect(error, { depth: 8 })]) {
          expect(text).not.toContain("s3cret-pw")
        }
      } finally {
        await session.close()
        await silent.close()
      }
    }, 15_000)

    it("fails typed while the database is gone and recovers by itself when it is back", async () => {
      const proxy = await startProxy({ host: target.hostname, port: Number(target.port) })
      const session = SqlSession.fromUrl(uniqueId(), {
        url: withPort(proxy.port),
        createTables: true,
        connectTimeout: 1500
      })
      try {
        await session.addItems([turn(1)])
        await proxy.cut()
        const during = await session.addItems([turn(2)]).catch((e: unknown) => e)
        expect(during).toBeInstanceOf(SessionStoreError)
        const read = await session.getItems().catch((e: unknown) => e)
        expect(read).toBeInstanceOf(SessionStoreError)
        await proxy.restore()
        // The pool drops broken connections and opens new ones: no restart needed.
        let items: unknown
        for (let attempt = 0; attempt < 5; attempt++) {
          items = await session.getItems().catch((e: unknown) => e)
          if (Array.isArray(items)) break
        }
        expect(items).toEqual([turn(1)])
        await session.addItems([turn(3)])
        expect(await session.getItems()).toEqual([turn(1), turn(3)])
        await session.clearSession()
      } finally {
        await session.close()
        await proxy.close()
      }
    }, 30_000)

    it("fails typed when the pool cannot be built, and connects once the server is reachable", async () => {
      const proxy = await startProxy({ host: target.hostname, port: Number(target.port) })
      await proxy.cut()
      const session = SqlSession.fromUrl(uniqueId(), { url: withPort(proxy.port), createTables: true, connectTimeout: 1500 })
      try {
        const error = await session.getItems().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(SessionStoreError)
        await proxy.restore()
        expect(await session.getItems()).toEqual([])
      } finally {
        await session.close()
        await proxy.close()
      }
    }, 30_000)
  })
}

