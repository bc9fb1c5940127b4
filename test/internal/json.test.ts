/**
 * The default codec's fast path (`JSON.stringify` of the item itself) must write exactly what the
 * exact walk writes, and refuse exactly what it refuses: the stored text is the contract.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeItem, encodeItem, toJsonTree } from "../../src/internal/json.js"

const exactEncoding = (item: unknown): { text: string } | { error: string } => {
  try {
    return { text: JSON.stringify(toJsonTree(item)) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const encoding = (item: unknown): { text: string } | { error: string } => {
  try {
    return { text: encodeItem(item) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const awkwardKey = fc.oneof(
  fc.string(),
  fc.constantFrom("$bytes", "$object", "$number", "$undefined", "__proto__", "toJSON", "0", "10", "-1")
)

const awkwardLeaf = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, undefined),
  fc.uint8Array({ maxLength: 4 }),
  fc.constantFrom<unknown>(() => 1, Symbol("s"), 1n, new Date(0), new Map(), new Float32Array(1))
)

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    awkwardLeaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(awkwardKey, tie("value"), { maxKeys: 4 })
  )
}))

const item = fc.dictionary(awkwardKey, value, { maxKeys: 5 })

// Items as read from JSON text: fc.jsonValue() may hold -0, which JSON cannot spell and the codec keeps.
const plainJsonItem = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 }).map((value) =>
  JSON.parse(JSON.stringify(value)) as Record<string, unknown>
)

describe("default codec", () => {
  it("the fast path writes and refuses exactly what the exact walk does", () => {
    fc.assert(
      fc.property(item, (candidate) => {
        expect(encoding(candidate)).toEqual(exactEncoding(candidate))
      }),
      { numRuns: 2000 }
    )
  })

  it("plain JSON items are written as JSON.stringify writes them, and read back equal", () => {
    fc.assert(
      fc.property(plainJsonItem, (candidate) => {
        const text = encodeItem(candidate)
        expect(text).toBe(JSON.stringify(candidate))
        expect(decodeItem(text)).toEqual(JSON.parse(JSON.stringify(candidate)))
      }),
      { numRuns: 500 }
    )
  })

  it("refuses what the fast path must not let through", () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { again: cyclic }
    expect(() => encodeItem(cyclic)).toThrow(/cyclic/)
    const withAccessor = Object.defineProperty({}, "computed", { get: () => 1, enumerable: true })
    expect(() => encodeItem({ nested: withAccessor })).toThrow(/accessor/)
    expect(() => encodeItem({ [Symbol("s")]: 1 })).toThrow(/symbol keys/)
    expect(() => encodeItem({ list: [1, , 3] })).toThrow(/sparse/)
    expect(() => encodeItem({ toJSON: () => "x" })).toThrow(/functions/)
    let deep: Record<string, unknown> = { leaf: true }
    for (let level = 0; level < 200; level++) deep = { next: deep }
    expect(JSON.parse(encodeItem(deep))).toEqual(deep)
  })

  it("keeps values JSON cannot spell, and escapes look-alikes", () => {
    const awkward = () => ({ n: [Number.NaN, -0, undefined], b: Uint8Array.from([1, 2]), $bytes: "x" })
    const text = encodeItem(awkward())
    expect(text).toBe(JSON.stringify(toJsonTree(awkward())))
    expect(text).toContain(`"$number":"NaN"`)
    expect(decodeItem(text)).toEqual(awkward())
  })
})
