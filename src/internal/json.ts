/**
 * The strict JSON codec behind the default item schema.
 *
 * `JSON.stringify` silently drops functions and symbols, turns `NaN` into `null` and throws on
 * BigInt only at the end; a conversation store must instead refuse anything it cannot give back
 * exactly, and give back everything the Agents SDK's `MemorySession` would. Values JSON cannot
 * spell are kept as one-key markers: `{"$bytes": base64}` for `Uint8Array` (file and image data),
 * `{"$number": "NaN" | "Infinity" | "-Infinity" | "-0"}`, and `{"$undefined": true}` for an
 * `undefined` array entry. A caller's own object that happens to look like a marker is wrapped in
 * `{"$object": …}`, so the encoding is a bijection.
 */

const BYTES = "$bytes"
const OBJECT = "$object"
const NUMBER = "$number"
const UNDEFINED = "$undefined"
const MARKERS = new Set([BYTES, OBJECT, NUMBER, UNDEFINED])
const SPECIAL_NUMBERS: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  "-Infinity": Number.NEGATIVE_INFINITY,
  "-0": -0
}

/** The message of whatever was thrown: code that throws `null` or a string must still give a reason. */
export const messageOf = (thrown: unknown): string => thrown instanceof Error ? thrown.message : String(thrown)

/** Why a value cannot be stored, with the path to it. */
export class UnsupportedValue extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${reason} at ${path}`)
  }
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const looksLikeMarker = (keys: ReadonlyArray<string>): boolean => keys.length === 1 && MARKERS.has(keys[0]!)

const defineEntry = (target: Record<string, unknown>, key: string, value: unknown): void => {
  // A plain assignment to "__proto__" would change the prototype instead of adding a key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

const encodeEntries = (
  value: object,
  path: string,
  ancestors: Set<object>
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === "symbol") throw new UnsupportedValue(path, "symbol keys cannot be stored")
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!
    if (!descriptor.enumerable) continue
    if (!("value" in descriptor)) throw new UnsupportedValue(`${path}.${key}`, "accessor properties cannot be stored")
    // Like JSON, an undefined property is simply absent.
    if (descriptor.value === undefined) continue
    defineEntry(out, key, toJsonTree(descriptor.value, `${path}.${key}`, ancestors))
  }
  return out
}

/** Converts a value to the JSON tree that will be stored, or throws `UnsupportedValue`. */
export const toJsonTree = (value: unknown, path = "$", ancestors: Set<object> = new Set()): unknown => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      if (Number.isFinite(value) && !Object.is(value, -0)) return value
      return { [NUMBER]: Object.is(value, -0) ? "-0" : String(value) }
    case "bigint":
      throw new UnsupportedValue(path, "BigInt cannot be stored as JSON")
    case "function":
      throw new UnsupportedValue(path, "functions cannot be stored")
    case "symbol":
      throw new UnsupportedValue(path, "symbols cannot be stored")
    case "undefined":
      throw new UnsupportedValue(path, "undefined cannot be stored here")
  }
  if (value === null) return null
  const object = value as object
  if (ancestors.has(object)) throw new UnsupportedValue(path, "cyclic structures cannot be stored")
  if (object instanceof Uint8Array) {
    return { [BYTES]: Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64") }
  }
  ancestors.add(object)
  try {
    if (Array.isArray(object)) {
      const out = new Array<unknown>(object.length)
      for (let index = 0; index < object.length; index++) {
        if (!(index in object)) throw new UnsupportedValue(`${path}[${index}]`, "sparse arrays cannot be stored")
        const entry: unknown = object[index]
        out[index] = entry === undefined ? { [UNDEFINED]: true } : toJsonTree(entry, `${path}[${index}]`, ancestors)
      }
      return out
    }
    if (!isPlainObject(object)) {
      const name = object.constructor?.name ?? "object"
      throw new UnsupportedValue(path, `${name} instances cannot be stored; use plain objects`)
    }
    const entries = encodeEntries(object, path, ancestors)
    return looksLikeMarker(Object.keys(entries)) ? { [OBJECT]: entries } : entries
  } finally {
    ancestors.delete(object)
  }
}

// Deeper than any real item; past it, the exact walk (which also finds cycles) decides.
const MAX_PLAIN_DEPTH = 64

/**
 * Whether `JSON.stringify(value)` is already exactly the stored text: plain objects and arrays of
 * strings, booleans, finite numbers and null, without markers to add or escape. It never throws;
 * anything else (or anything it is unsure of) goes through the exact walk.
 */
const isPlainJson = (value: unknown, depth: number): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0)
    case "object":
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth > MAX_PLAIN_DEPTH) return false
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      if (!(index in value) || value[index] === undefined || !isPlainJson(value[index], depth + 1)) return false
    }
    return true
  }
  if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) return false
  for (const key in value) {
    if (MARKERS.has(key)) return false
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (descriptor === undefined || !("value" in descriptor)) return false
    if (descriptor.value !== undefined && !isPlainJson(descriptor.value, depth + 1)) return false
  }
  return true
}

/** Encodes an item; throws `UnsupportedValue` for anything that would not come back exactly. */
export const encodeItem = (item: unknown): string => {
  if (item === null || typeof item !== "object" || Array.isArray(item) || item instanceof Uint8Array) {
    throw new UnsupportedValue("$", "an item must be a JSON object")
  }
  // Most items are plain JSON: skip building a copy of the tree for them.
  return JSON.stringify(isPlainJson(item, 0) ? item : toJsonTree(item))
}

const fromJsonTree = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) return value.map(fromJsonTree)
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  if (looksLikeMarker(keys)) {
    const inner = record[keys[0]!]
    if (keys[0] === BYTES && typeof inner === "string") return new Uint8Array(Buffer.from(inner, "base64"))
    if (keys[0] === NUMBER && typeof inner === "string" && inner in SPECIAL_NUMBERS) return SPECIAL_NUMBERS[inner]
    if (keys[0] === UNDEFINED && inner === true) return undefined
    if (keys[0] === OBJECT && inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      return reviveEntries(inner as Record<string, unknown>)
    }
  }
  return reviveEntries(record)
}

const reviveEntries = (record: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record)) defineEntry(out, key, fromJsonTree(record[key]))
  return out
}

const PYTHON_CONSTANTS: ReadonlyArray<readonly [string, string]> = [
  ["-Infinity", `{"${NUMBER}":"-Infinity"}`],
  ["Infinity", `{"${NUMBER}":"Infinity"}`],
  ["NaN", `{"${NUMBER}":"NaN"}`]
]

/**
 * Rewrites Python's bare `NaN`, `Infinity` and `-Infinity` (outside strings) as our number
 * markers, or returns `undefined` when the text has none. Whatever else the text holds is left
 * for `JSON.parse` to judge, so a constant in a place Python refuses (`-NaN`, `[1 NaN]`, a key)
 * still fails.
 */
const rewritePythonConstants = (text: string): string | undefined => {
  let out = ""
  let copied = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index)
    if (inString) {
      if (char === 0x5c) index++ // backslash: skip the escaped character
      else if (char === 0x22) inString = false
      continue
    }
    if (char === 0x22) {
      inString = true
      continue
    }
    for (const [token, marker] of PYTHON_CONSTANTS) {
      if (text.startsWith(token, index)) {
        out += text.slice(copied, index) + marker
        index += token.length - 1
        copied = index + 1
        break
      }
    }
  }
  return copied === 0 ? undefined : out + text.slice(copied)
}

/**
 * Parses stored text the way Python's `json.loads` reads it: JSON, plus the bare `NaN`,
 * `Infinity` and `-Infinity` that Python's `json.dumps` writes by default (returned as our number
 * markers, for `fromJsonTree`). Throws on anything Python would refuse too.
 */
const parseStoredJson = (text: string): { readonly value: unknown; readonly mayHoldMarkers: boolean } => {
  try {
    // Markers are rare: the walk is skipped when the text cannot contain one.
    return { value: JSON.parse(text), mayHoldMarkers: text.includes("\"$") }
  } catch (error) {
    const rewritten = text.includes("NaN") || text.includes("Infinity") ? rewritePythonConstants(text) : undefined
    if (rewritten === undefined) throw error
    return { value: JSON.parse(rewritten), mayHoldMarkers: true }
  }
}

/**
 * Whether the Python SDK can read this stored text (`json.loads` accepts it), whatever its top
 * level. Such a row is never deleted unless a caller asks for exactly that row to go.
 */
export const isPythonReadable = (text: string): boolean => {
  try {
    parseStoredJson(text)
    return true
  } catch {
    return false
  }
}

/** Decodes stored text; throws when Python could not read it either, or it is not an object. */
export const decodeItem = (text: string): Record<string, unknown> => {
  const { mayHoldMarkers, value: parsed } = parseStoredJson(text)
  let value = mayHoldMarkers ? fromJsonTree(parsed) : parsed
  // We never write a marker at the top level (an item is an object), so a top-level object that
  // reads as one was written by someone else, and Python reads it as the object it is. A bare
  // `NaN` at the top level is a number, though.
  if (!isItemObject(value) && value !== parsed && text.trimStart().startsWith("{")) {
    value = reviveEntries(parsed as Record<string, unknown>)
  }
  if (!isItemObject(value)) {
    throw new UnsupportedValue("$", `stored value is ${describe(value)}, not an object`)
  }
  return value as Record<string, unknown>
}

const isItemObject = (value: unknown): boolean =>
  value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array)

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : value instanceof Uint8Array
    ? "bytes"
    : typeof value

const canonical = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`).join(",")}}`
}

/** A key-order-independent text of a value, for comparing items and fingerprinting transactions. */
export const canonicalJson = (value: unknown): string => canonical(toJsonTree(value))
