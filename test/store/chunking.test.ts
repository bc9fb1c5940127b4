/**
 * Chunk planning: the chunks are the batch, in order, and each fits the limits (a single item
 * larger than the byte budget alone in its chunk); a batch that fits is one chunk.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { chunkIds, type ChunkLimits, planChunks } from "../../src/internal/chunking.js"

const limitsOf = (maxRows: number, maxBytes: number): ChunkLimits => ({
  maxRows,
  maxBytes,
  rowOverhead: (sessionIdBytes) => sessionIdBytes + 22,
  maxItemBytes: maxBytes,
  itemLimitReason: "test"
})

const bytesOf = (texts: ReadonlyArray<string>, sessionId: string) =>
  texts.reduce((sum, text) => sum + Buffer.byteLength(text, "utf8") + Buffer.byteLength(sessionId, "utf8") + 22, 0)

describe("planChunks", () => {
  it("cuts a batch into in-order chunks that fit the row and byte limits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 300 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 64, max: 4000 }),
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
        (texts, maxRows, maxBytes, sessionId) => {
          const chunks = planChunks(texts, limitsOf(maxRows, maxBytes), sessionId)
          expect(chunks.flat()).toEqual(texts)
          for (const chunk of chunks) {
            expect(chunk.length).toBeGreaterThan(0)
            expect(chunk.length).toBeLessThanOrEqual(maxRows)
            if (chunk.length > 1) expect(bytesOf(chunk, sessionId)).toBeLessThanOrEqual(maxBytes)
          }
        }
      )
    )
  })

  it("keeps a batch that fits as one chunk, and counts bytes, not UTF-16 units", () => {
    const ascii = Array.from({ length: 100 }, () => "x".repeat(100))
    expect(planChunks(ascii, limitsOf(100, 100 * (100 + 1 + 22)), "s")).toHaveLength(1)
    // Three-byte characters: 100 of them are 300 bytes.
    const wide = Array.from({ length: 10 }, () => "€".repeat(100))
    expect(planChunks(wide, limitsOf(100, 2 * (300 + 1 + 22)), "s")).toHaveLength(5)
  })
})

describe("chunkIds", () => {
  it("cuts id lists below the parameter limit, in order", () => {
    const ids = Array.from({ length: 70_001 }, (_, n) => n)
    const chunks = chunkIds(ids, limitsOf(16_000, 1))
    expect(chunks.flat()).toEqual(ids)
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBe(32_000)
    expect(chunkIds(ids, limitsOf(Number.POSITIVE_INFINITY, 1)).every((chunk) => chunk.length <= 30_000)).toBe(true)
  })
})
