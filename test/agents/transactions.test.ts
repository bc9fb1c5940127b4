/**
 * Crash safety of `applyHistoryTransaction` on every dialect: the operation id is recorded with
 * the change, so the same operation sent from two independent `SqlSession`s (two pools, as two
 * processes would have) is applied once; a conflicting or stale transaction changes nothing.
 */
import type { AgentInputItem, SessionHistoryTransactionArgs } from "@openai/agents"
import { describe, expect, it } from "vitest"
import * as Databases from "../support/databases.js"
import { sessionsOn, storedMessageData } from "./support/databases.js"
import { assistantMessage, functionCall, functionCallResult, userMessage } from "./support/items.js"

const settle = async (promise: Promise<unknown> | unknown): Promise<{ ok: true } | { ok: false; error: unknown }> => {
  try {
    await promise
    return { ok: true }
  } catch (error) {
    return { ok: false, error }
  }
}

const tagOf = (error: unknown): unknown => (error as { _tag?: unknown })._tag

describe.each(Databases.all)("applyHistoryTransaction across sessions on $label", (db) => {
  describe.skipIf(db.unavailable !== undefined)("", () => {
    const { database, open } = sessionsOn(db)

    const seed: Array<AgentInputItem> = [userMessage("Weather in Oslo?"), functionCall("call_1", "get_weather", { city: "Oslo" })]

    /**
     * Two independent sessions on one stored conversation that already holds `seed`. Both have
     * connected already, so that their next calls really race (a cold pool would lag behind).
     */
    const twoSessions = async () => {
      const sessionId = Databases.uniqueId("tx")
      const [a, b] = [open(sessionId), open(sessionId)]
      await Promise.all([a.addItems(structuredClone(seed)), b.getItems()])
      return { sessionId, a, b }
    }

    it("the same append sent from two sessions at once is applied once, and both calls succeed", async () => {
      const { a, b, sessionId } = await twoSessions()
      const expected = [...seed]
      for (let round = 0; round < 4; round++) {
        const args: SessionHistoryTransactionArgs = {
          operationId: `append-${round}`,
          transaction: { type: "append_items", items: [functionCallResult("call_1", "get_weather", `round ${round}`)] }
        }
        const outcomes = await Promise.all([
          settle(a.applyHistoryTransaction(structuredClone(args))),
          settle(b.applyHistoryTransaction(structuredClone(args)))
        ])
        expect(outcomes).toEqual([{ ok: true }, { ok: true }])
        expected.push(...(args.transaction.type === "append_items" ? args.transaction.items : []))
      }
      expect(await a.getItems()).toEqual(expected)
      expect(await b.getItems()).toEqual(expected)
      expect(await storedMessageData(database, sessionId)).toHaveLength(expected.length)
    })

    it("the same replace_suffix sent from two sessions at once is applied once", async () => {
      const { a, b, sessionId } = await twoSessions()
      const expected = [...seed]
      for (let round = 0; round < 4; round++) {
        const replacement = [functionCall("call_1", "get_weather", { city: `City ${round}` }), assistantMessage(`Rain ${round}.`)]
        const args: SessionHistoryTransactionArgs = {
          operationId: `replace-${round}`,
          transaction: { type: "replace_suffix", expectedSuffix: [expected.at(-1)!], replacement }
        }
        const outcomes = await Promise.all([
          settle(a.applyHistoryTransaction(structuredClone(args))),
          settle(b.applyHistoryTransaction(structuredClone(args)))
        ])
        expect(outcomes, `round ${round}`).toEqual([{ ok: true }, { ok: true }])
        expected.splice(-1, 1, ...replacement)
      }
      expect(await b.getItems()).toEqual(expected)
      expect(await storedMessageData(database, sessionId)).toHaveLength(expected.length)
    })

    it("two different replace_suffix on the same stored tail, at once: exactly one wins", async () => {
      const { a, b } = await twoSessions()
      const expected = [...seed]
      for (let round = 0; round < 4; round++) {
        const tail = expected.at(-1)!
        const replaceWith = (operationId: string, text: string): SessionHistoryTransactionArgs => ({
          operationId,
          transaction: { type: "replace_suffix", expectedSuffix: [tail], replacement: [tail, assistantMessage(text)] }
        })
        const outcomes = await Promise.all([
          settle(a.applyHistoryTransaction(replaceWith(`a-${round}`, `A${round}`))),
          settle(b.applyHistoryTransaction(replaceWith(`b-${round}`, `B${round}`)))
        ])
        const winners = outcomes.flatMap((outcome, index) => (outcome.ok ? [index] : []))
        expect(winners, `round ${round}`).toHaveLength(1)
        const loser = outcomes.find((outcome) => !outcome.ok) as { error: unknown }
        expect(tagOf(loser.error)).toBe("HistoryConflictError")
        expected.push(assistantMessage(winners[0] === 0 ? `A${round}` : `B${round}`))
        expect(await a.getItems(), `round ${round}`).toEqual(expected)
      }
    })

    it("the same operation id with two different transactions at once: one applies, the other conflicts", async () => {
      const { a, b } = await twoSessions()
      const expected = [...seed]
      for (let round = 0; round < 4; round++) {
        const append = (text: string): SessionHistoryTransactionArgs => ({
          operationId: `contested-${round}`,
          transaction: { type: "append_items", items: [assistantMessage(text)] }
        })
        const outcomes = await Promise.all([
          settle(a.applyHistoryTransaction(append(`A${round}`))),
          settle(b.applyHistoryTransaction(append(`B${round}`)))
        ])
        const winners = outcomes.flatMap((outcome, index) => (outcome.ok ? [index] : []))
        expect(winners, `round ${round}`).toHaveLength(1)
        expect(tagOf((outcomes.find((outcome) => !outcome.ok) as { error: unknown }).error)).toBe("HistoryConflictError")
        expected.push(assistantMessage(winners[0] === 0 ? `A${round}` : `B${round}`))
        expect(await a.getItems(), `round ${round}`).toEqual(expected)
      }
    })

    it("addItems racing a replace_suffix: the history is always one of the two serial outcomes", async () => {
      const { a, b } = await twoSessions()
      let history = await a.getItems()
      // Many short rounds: a missing session lock shows up within a few dozen on PostgreSQL.
      for (let round = 0; round < 30; round++) {
        const tail = history.at(-1)!
        const added = userMessage(`added ${round}`)
        const replacement = assistantMessage(`replacement ${round}`)
        const [, replaced] = await Promise.all([
          a.addItems([added]),
          settle(b.applyHistoryTransaction({
            operationId: `race-${round}`,
            transaction: { type: "replace_suffix", expectedSuffix: [tail], replacement: [replacement] }
          }))
        ])
        const prefix = history.slice(0, -1)
        history = await a.getItems()
        if (replaced.ok) {
          // The replacement ran first, then the append.
          expect(history, `round ${round}`).toEqual([...prefix, replacement, added])
        } else {
          // The append ran first, so the tail no longer matched.
          expect(tagOf(replaced.error), `round ${round}`).toBe("HistoryConflictError")
          expect(history, `round ${round}`).toEqual([...prefix, tail, added])
        }
      }
    })

    it("reusing an operation id with a different transaction fails with a typed error and changes nothing", async () => {
      const { a, b, sessionId } = await twoSessions()
      await a.applyHistoryTransaction({
        operationId: "op",
        transaction: { type: "append_items", items: [assistantMessage("first")] }
      })
      const before = await storedMessageData(database, sessionId)

      const reused = await settle(b.applyHistoryTransaction({
        operationId: "op",
        transaction: { type: "append_items", items: [assistantMessage("second")] }
      }))

      expect(reused.ok).toBe(false)
      const error = (reused as { error: unknown }).error
      expect(error).toBeInstanceOf(Error)
      expect(tagOf(error)).toBe("HistoryConflictError")
      expect(await storedMessageData(database, sessionId)).toEqual(before)
      // The recorded transaction is still the first one: repeating it is a no-op that succeeds.
      await b.applyHistoryTransaction({
        operationId: "op",
        transaction: { type: "append_items", items: [assistantMessage("first")] }
      })
      expect(await storedMessageData(database, sessionId)).toEqual(before)
    })

    it("a replace_suffix whose expected suffix does not match fails, changes nothing and does not use up its id", async () => {
      const { a, sessionId } = await twoSessions()
      const before = await storedMessageData(database, sessionId)
      const stale = (expectedSuffix: Array<AgentInputItem>): SessionHistoryTransactionArgs => ({
        operationId: "stale",
        transaction: { type: "replace_suffix", expectedSuffix, replacement: [assistantMessage("replaced")] }
      })

      for (
        const expectedSuffix of [
          [functionCall("call_1", "get_weather", { city: "Bergen" })], // different content
          [seed[0]!], // an item that is stored, but not at the tail
          [userMessage("older"), ...seed] // longer than the history
        ]
      ) {
        const outcome = await settle(a.applyHistoryTransaction(stale(expectedSuffix)))
        expect(outcome.ok).toBe(false)
        expect(tagOf((outcome as { error: unknown }).error)).toBe("HistoryConflictError")
        expect(await storedMessageData(database, sessionId)).toEqual(before)
      }
      // The failed attempts recorded nothing: the id is still free for a transaction that matches.
      await a.applyHistoryTransaction(stale([seed[1]!]))
      expect(await a.getItems()).toEqual([seed[0], assistantMessage("replaced")])
    })

    it("an invalid item fails with a typed error before anything is changed or recorded", async () => {
      const { a, sessionId } = await twoSessions()
      const before = await storedMessageData(database, sessionId)
      const invalid = { type: "message", role: "user" } as unknown as AgentInputItem // no content
      const outcome = await settle(a.applyHistoryTransaction({
        operationId: "bad",
        transaction: { type: "append_items", items: [assistantMessage("ok"), invalid] }
      }))
      expect(outcome.ok).toBe(false)
      expect(tagOf((outcome as { error: unknown }).error)).toBe("InvalidItemError")
      expect(await storedMessageData(database, sessionId)).toEqual(before)
      await a.applyHistoryTransaction({
        operationId: "bad",
        transaction: { type: "append_items", items: [assistantMessage("ok")] }
      })
      expect(await a.getItems()).toEqual([...seed, assistantMessage("ok")])
    })

    it("clearSession forgets the recorded operation ids, for every session on the database", async () => {
      const { a, b } = await twoSessions()
      await a.applyHistoryTransaction({ operationId: "op", transaction: { type: "append_items", items: [userMessage("x")] } })
      await b.clearSession()
      await a.applyHistoryTransaction({ operationId: "op", transaction: { type: "append_items", items: [userMessage("y")] } })
      expect(await b.getItems()).toEqual([userMessage("y")])
    })

    it("operation ids belong to one session: the same id in another session is independent", async () => {
      const { a } = await twoSessions()
      const other = open(Databases.uniqueId("tx-other"))
      const args: SessionHistoryTransactionArgs = {
        operationId: "shared-id",
        transaction: { type: "append_items", items: [userMessage("hello")] }
      }
      await a.applyHistoryTransaction(structuredClone(args))
      await other.applyHistoryTransaction({
        operationId: "shared-id",
        transaction: { type: "append_items", items: [userMessage("different")] }
      })
      expect(await other.getItems()).toEqual([userMessage("different")])
      expect(await a.getItems()).toEqual([...seed, userMessage("hello")])
    })
  })
})
