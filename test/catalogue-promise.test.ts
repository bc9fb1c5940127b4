/**
 * The catalogue's Promise face, end to end on every dialect: session fields on `SqlSession`, and
 * listing, pruning, export (JSON Lines) and import (text chunks, a file stream) on
 * `SqlSessionPool`, with failures rejected as the tagged errors.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import {
  InvalidArgumentError,
  SessionClosedError,
  SessionImportError,
  SqlSessionPool
} from "../src/index.js"
import { all, uniqueId } from "./support/databases.js"

const scratch = mkdtempSync(join(tmpdir(), "catalogue-promise-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const collect = async (lines: AsyncIterable<string>): Promise<Array<string>> => {
  const out: Array<string> = []
  for await (const line of lines) out.push(line)
  return out
}

for (const db of all) {
  const run = db.unavailable === undefined ? describe : describe.skip
  run(`catalogue through SqlSessionPool on ${db.label}`, () => {
    const url = db.dialect === "sqlite" ? `sqlite:${join(scratch, "promise.db")}` : db.url

    it("sets and reads fields, lists, exports, deletes and imports back", async () => {
      const pool = SqlSessionPool.fromUrl({ url, createTables: true })
      try {
        const owner = uniqueId("owner")
        const [a, b] = [`${owner}-a`, `${owner}-b`]
        const session = pool.session(a)
        await session.addItems([{ role: "user", content: "hello" }, { role: "user", content: "hi" }])
        await session.updateSession({ owner, title: "Greeting", metadata: { lang: "en" } })
        await pool.updateSession(b, { owner, expiresAt: new Date("2030-01-01T00:00:00Z") })

        expect(await session.getSession()).toMatchObject({ sessionId: a, owner, title: "Greeting", itemCount: 2 })
        expect(await pool.getSession(uniqueId("none"))).toBeUndefined()
        const first = await pool.listSessions({ owner, limit: 1 })
        expect(first.sessions).toHaveLength(1)
        const second = await pool.listSessions({ owner, limit: 1, cursor: first.nextCursor })
        expect([...first.sessions, ...second.sessions].map((s) => s.sessionId).sort()).toEqual([a, b])
        expect(second.nextCursor).toBeUndefined()

        const lines = await collect(pool.exportSessions({ owner }))
        expect(lines.every((line) => line.endsWith("\n"))).toBe(true)
        expect(lines.map((line) => JSON.parse(line).type)).toEqual(["session", "item", "item", "session"])

        expect(await pool.deleteSessions({ owner })).toBe(2)
        expect(await session.getItems()).toEqual([])

        // Back from the text, in chunks that split lines.
        const text = lines.join("")
        const summary = await pool.importSessions([text.slice(0, 10), text.slice(10, 200), text.slice(200)], {
          onConflict: "fail"
        })
        expect(summary).toEqual({ sessions: 2, skipped: 0, items: 2 })
        expect(await session.getItems()).toEqual([{ role: "user", content: "hello" }, { role: "user", content: "hi" }])
        expect(await session.getSession()).toMatchObject({ owner, title: "Greeting", metadata: { lang: "en" } })

        // And from a file stream (bytes), skipping what exists.
        const file = join(scratch, `${owner}.jsonl`)
        writeFileSync(file, text)
        expect(await pool.importSessions(createReadStream(file), { onConflict: "skip" })).toEqual({
          sessions: 0,
          skipped: 2,
          items: 0
        })
        await pool.deleteSessions({ owner })
      } finally {
        await pool.close()
      }
    })

    it("rejects with the tagged errors", async () => {
      const pool = SqlSessionPool.fromUrl({ url, createTables: true })
      try {
        await expect(pool.listSessions({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError)
        await expect(pool.listSessions({ cursor: "forged" })).rejects.toMatchObject({
          _tag: "InvalidArgumentError",
          argument: "cursor"
        })
        await expect(pool.deleteSessions({})).rejects.toBeInstanceOf(InvalidArgumentError)
        await expect(pool.importSessions(["{\"type\":\"session\"}\n"], { onConflict: "fail" })).rejects.toMatchObject({
          _tag: "SessionImportError",
          line: 1
        })
        await expect(pool.importSessions(["\n\nnot json\n"], { onConflict: "fail" })).rejects.toBeInstanceOf(
          SessionImportError
        )
        await expect(collect(pool.exportSessions({ owner: 5 as never }))).rejects.toBeInstanceOf(InvalidArgumentError)
      } finally {
        await pool.close()
      }
      await expect(pool.getSession("x")).rejects.toBeInstanceOf(SessionClosedError)
      await expect(collect(pool.exportSessions())).rejects.toBeInstanceOf(SessionClosedError)
    })
  })
}
