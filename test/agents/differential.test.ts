/**
 * Differential test: random sequences of every Session protocol method, run on `SqlSession` and
 * on the SDK's `MemorySession` side by side, must have identical observable results (items,
 * order, `undefined` on an empty pop, which calls throw).
 */
import type { AgentInputItem } from "@openai/agents-core"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SqlSessionPool } from "../../src/index.js"
import * as Databases from "../support/databases.js"
import { type Op, opsArbitrary, ReferenceSession, runSideBySide } from "./support/differential.js"
import { functionCall, userMessage } from "./support/items.js"

// Sequences that must always run, whatever fast-check draws: the edges of every method.
const edges: Array<[Array<Op>]> = [
  [[
    { op: "popItem" },
    { op: "getItems", limit: 0 },
    { op: "getItems", limit: -1 },
    { op: "getItems", limit: 5 },
    { op: "addItems", items: [] },
    { op: "addItems", items: [userMessage("a"), userMessage("b"), userMessage("c")] },
    { op: "getItems", limit: 0 },
    { op: "getItems", limit: 2 },
    { op: "getItems", limit: 3 },
    { op: "getItems", limit: 1000 },
    { op: "getItems", limit: undefined },
    { op: "popItem" },
    { op: "popItem" },
    { op: "popItem" },
    { op: "popItem" }
  ]],
  [[
    { op: "addItems", items: [functionCall("call_a", "f", 1), userMessage("x"), functionCall("call_a", "f", 2)] },
    { op: "mutate", mutations: [{ callId: "call_a", replacement: functionCall("call_b", "g", 3) }] },
    { op: "mutate", mutations: [{ callId: "call_missing", replacement: functionCall("call_c", "g", 4) }] },
    { op: "append", operationId: "op-1", items: [userMessage("y")] },
    { op: "retry", index: 0 },
    { op: "append", operationId: "op-1", items: [userMessage("z")] },
    { op: "replaceSuffix", operationId: "op-2", suffix: { kind: "tail", length: 2 }, replacement: [] },
    { op: "replaceSuffix", operationId: "op-3", suffix: { kind: "tail_changed", length: 1 }, replacement: [] },
    { op: "compact", items: [{ type: "compaction", encrypted_content: "c" } as AgentInputItem] },
    { op: "retry", index: 0 },
    { op: "clearSession" },
    { op: "retry", index: 2 },
    { op: "getItems", limit: undefined }
  ]]
]

describe("the differential harness", () => {
  it("finds no difference between two MemorySessions", async () => {
    await fc.assert(
      fc.asyncProperty(opsArbitrary(), async (ops) => {
        await runSideBySide(ops, new ReferenceSession(), new ReferenceSession())
      }),
      { numRuns: 100, examples: edges }
    )
  })

  it("finds a session that gets one limit wrong", async () => {
    class WrongLimit extends ReferenceSession {
      override async getItems(limit?: number) {
        return super.getItems(limit === 0 ? undefined : limit)
      }
    }
    await expect(fc.assert(
      fc.asyncProperty(opsArbitrary(), async (ops) => {
        await runSideBySide(ops, new WrongLimit(), new ReferenceSession())
      }),
      { numRuns: 200 }
    )).rejects.toThrow(/Property failed[\s\S]*"limit":0/)
  })
})

describe.each(Databases.all)("SqlSession and MemorySession side by side on $label", (db) => {
  describe.skipIf(db.unavailable !== undefined)("", () => {
    // One pool, one database; every sequence gets its own session id.
    let pool: SqlSessionPool
    beforeAll(() => {
      pool = SqlSessionPool.fromUrl({ url: db.url, createTables: true })
    })
    afterAll(() => pool.close())

    // The one deliberate difference: MemorySession slices with any number, SqlSession wants an integer.
    it("a limit that is not an integer is refused with InvalidArgumentError, and nothing changes", async () => {
      const session = pool.session(Databases.uniqueId("limit"))
      await session.addItems([userMessage("a"), userMessage("b"), userMessage("c")])
      for (const limit of [2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const outcome = await session.getItems(limit).then(() => "resolved", (error: { _tag?: string }) => error._tag)
        expect(outcome, String(limit)).toBe("InvalidArgumentError")
      }
      expect(await session.getItems()).toEqual([userMessage("a"), userMessage("b"), userMessage("c")])
    })

    it("random sequences of every protocol method have identical results", { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(opsArbitrary(), async (ops) => {
          const sessionId = Databases.uniqueId("diff")
          const errors = await runSideBySide(ops, pool.session(sessionId), new ReferenceSession({ sessionId }))
          // Where MemorySession throws a UserError, SqlSession throws one of its typed errors.
          for (const { error, op } of errors) {
            expect(error, op).toBeInstanceOf(Error)
            expect(["HistoryConflictError", "InvalidItemError", "InvalidArgumentError"], op).toContain(
              (error as { _tag?: string })._tag
            )
          }
        }),
        { numRuns: db.dialect === "sqlite" ? 40 : 8, examples: edges }
      )
    })
  })
})
