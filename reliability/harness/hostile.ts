/**
 * Hostile input: generators of arbitrary JSON objects, values that cannot be stored, session ids
 * and table names an attacker or a careless caller might send, and corrupt stored rows.
 */
import fc from "fast-check"

/** Characters that break naive encoders: NUL, lone surrogates, quotes, escapes, combining marks. */
const nasty = fc.constantFrom(
  "\u0000", "\uD800", "\uDBFF", "\uDC00", "\uDFFF", "\"", "'", "\\", "\n", "\r", "\t", "\u2028", "\u2029",
  "é", "e\u0301", "😀", "\uFEFF", "%", "_", "`", ";", "--", "a", "Z", "0", " ", "$", "{", "}", "\u007F"
)

export const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: nasty, maxLength: 40 }),
  fc.string({ maxLength: 20 })
)

// Every double, NaN, ±Infinity and -0 included: the codec keeps them (as `$number` markers).
const anyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e308, 5e-324, -0, NaN, Infinity, -Infinity)
)

const { value: jsonTree } = fc.letrec<{ value: unknown; leaf: unknown; array: unknown; object: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("leaf"), tie("array"), tie("object")),
  leaf: fc.oneof(fc.constant(null), fc.boolean(), anyNumber, hostileString),
  array: fc.array(tie("value"), { maxLength: 5 }),
  object: fc.dictionary(hostileString, tie("value"), { maxKeys: 6 })
}))

/** An arbitrary JSON object: what the store must give back deep-equal. */
export const jsonObject = fc.dictionary(hostileString, jsonTree, { maxKeys: 8 }) as fc.Arbitrary<
  Record<string, unknown>
>

const nested = (depth: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: "bottom" }
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : { b: [value] }
  return value
}

/** Large and odd items that fast-check would rarely produce on its own. */
export const extremeItems = (): Array<{ readonly label: string; readonly item: Record<string, unknown> }> => [
  { label: "nesting 1,000 deep", item: nested(1000) },
  { label: "5 MB string", item: { text: "x".repeat(5 * 1024 * 1024 - 64) } },
  { label: "2 MB of 4-byte characters", item: { text: "😀".repeat(512 * 1024) } },
  { label: "20,000 keys", item: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) },
  { label: "NUL, lone surrogates, line separators", item: { "\u0000": "\u0000", s: "\uD800x\uDFFF", l: "\u2028\u2029" } },
  { label: "__proto__ and constructor keys", item: JSON.parse("{\"__proto__\":{\"polluted\":true},\"constructor\":{\"prototype\":1}}") },
  { label: "empty key and empty object", item: { "": {}, e: [] } },
  {
    label: "marker-looking objects",
    item: {
      m: { $bytes: "AAAA" },
      o: { $object: { $bytes: "x" } },
      b: { $bytes: 1 },
      n: { $number: "NaN" },
      u: { $undefined: true }
    }
  },
  { label: "NaN, ±Infinity, -0, undefined array entries", item: { n: NaN, p: Infinity, m: -Infinity, z: -0, a: [1, undefined, -0] } },
  { label: "SQL text", item: { sql: "'); DROP TABLE agent_messages; --", like: "%_%", q: "\\'\"`" } },
  { label: "Uint8Array payload", item: { data: new Uint8Array([0, 1, 2, 254, 255]) } }
]

const cyclic = (): Record<string, unknown> => {
  const a: Record<string, unknown> = { name: "a" }
  a.self = a
  return a
}

const cyclicThroughArray = (): Record<string, unknown> => {
  const a: Record<string, unknown> = { list: [] as Array<unknown> }
  ;(a.list as Array<unknown>).push({ back: a })
  return a
}

/** Values the store must refuse with InvalidItemError, storing nothing. */
export const unstorable = (): Array<{ readonly label: string; readonly item: unknown }> => [
  { label: "BigInt property", item: { n: 10n } },
  { label: "BigInt deep in an array", item: { a: [1, { b: [2n] }] } },
  { label: "cycle", item: cyclic() },
  { label: "cycle through an array", item: cyclicThroughArray() },
  { label: "function property", item: { f: () => 1 } },
  { label: "function deep inside", item: { a: { b: [{ c: function named() {} }] } } },
  { label: "symbol value", item: { s: Symbol("x") } },
  { label: "symbol key", item: { [Symbol("k")]: 1 } },
  { label: "Map instance", item: { m: new Map([["a", 1]]) } },
  { label: "null", item: null },
  { label: "number", item: 42 },
  { label: "string", item: "not an object" },
  { label: "boolean", item: true },
  { label: "array", item: [{ a: 1 }] },
  { label: "undefined", item: undefined },
  { label: "function", item: () => ({}) },
  { label: "symbol", item: Symbol("item") }
]

/**
 * Session ids, each with whether the documented rules accept it on `dialect`. MySQL/MariaDB refuse
 * a trailing space: their PAD SPACE collations would make "a" and "a " one session.
 */
export const sessionIds = (
  dialect: string
): Array<{ readonly label: string; readonly id: string; readonly accepted: boolean }> => [
  { label: "empty", id: "", accepted: false },
  { label: "256 characters", id: "a".repeat(256), accepted: false },
  { label: "10,000 characters", id: "b".repeat(10_000), accepted: false },
  { label: "256 emoji", id: "😀".repeat(256), accepted: false },
  { label: "NUL inside", id: "a\u0000b", accepted: false },
  { label: "lone high surrogate", id: "x\uD800", accepted: false },
  { label: "lone low surrogate", id: "x\uDFFF", accepted: false },
  { label: "255 characters", id: "c".repeat(255), accepted: true },
  { label: "255 emoji", id: "😀".repeat(255), accepted: true },
  { label: "SQL injection", id: "'; DROP TABLE agent_messages; --", accepted: true },
  { label: "SQL tautology", id: "x' OR '1'='1", accepted: true },
  { label: "LIKE wildcard %", id: "%", accepted: true },
  { label: "LIKE wildcard _", id: "_", accepted: true },
  { label: "backslash and quotes", id: "\\\"'`", accepted: true },
  { label: "unicode", id: "Ünïcødé-会话-🧵", accepted: true },
  { label: "NFC é", id: "caf\u00e9", accepted: true },
  { label: "NFD é", id: "cafe\u0301", accepted: true },
  { label: "case: Upper", id: "CaseSession", accepted: true },
  { label: "case: lower", id: "casesession", accepted: true },
  { label: "no trailing space", id: "pad", accepted: true },
  { label: "trailing space", id: "pad ", accepted: dialect !== "mysql" },
  { label: "trailing tab", id: "pad\t", accepted: true },
  { label: "leading space", id: " pad", accepted: true },
  { label: "single space", id: " ", accepted: dialect !== "mysql" },
  { label: "newline", id: "line\nbreak", accepted: true }
]

/** Table names: only plain identifiers of at most 48 characters are accepted. */
export const tableNames = (): Array<{ readonly label: string; readonly name: unknown }> => [
  { label: "empty", name: "" },
  { label: "leading digit", name: "1zzhostile" },
  { label: "schema-qualified", name: "public.zzhostile" },
  { label: "dash", name: "zz-hostile" },
  { label: "space", name: "zz hostile" },
  { label: "double quote", name: "zz\"hostile" },
  { label: "backtick", name: "zz`hostile" },
  { label: "statement", name: "zzhostile; DROP TABLE agent_messages" },
  { label: "comment", name: "zzhostile--" },
  { label: "unicode", name: "zzhöstile" },
  { label: "49 characters", name: `zzhostile${"x".repeat(40)}` },
  { label: "not a string", name: 42 }
]

/** Stored text that no schema should accept as an item. */
export const corruptRows = (): Array<{ readonly label: string; readonly text: string }> => [
  { label: "not JSON", text: "not json at all" },
  { label: "number", text: "42" },
  { label: "string", text: "\"just a string\"" },
  { label: "null", text: "null" },
  { label: "array", text: "[1,2,3]" },
  { label: "truncated object", text: "{\"role\":\"user\",\"content\":\"hel" },
  { label: "empty text", text: "" },
  { label: "boolean", text: "true" },
  { label: "trailing garbage", text: "{\"a\":1}xyz" }
]
