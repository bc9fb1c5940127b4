/**
 * Schemas from the stored text (`message_data`) to an item.
 *
 * The store only ever sees encoded strings; a schema given to `SqlSessionStore.layer({ schema })`
 * decides what an item is. Compose your own on top of `ItemFromJson` to validate, migrate or
 * encrypt items without touching storage code.
 *
 * @since 0.1.0
 */
import { ParseResult, Schema } from "effect"
import { decodeItem, encodeItem, messageOf } from "./internal/json.js"
import type { Item } from "./SessionStore.js"

/**
 * A JSON object in memory. Arrays, `null` and scalars are not items.
 *
 * @since 0.1.0
 */
export const JsonObject: Schema.Schema<Item> = Schema.declare(
  (input: unknown): input is Item =>
    input !== null && typeof input === "object" && !Array.isArray(input) && !(input instanceof Uint8Array),
  { identifier: "JsonObject", description: "a JSON object" }
)

/**
 * The default item schema: the stored text is JSON (as the Python Agents SDK writes it) and the
 * item is a JSON object. Encoding refuses what JSON would silently change or drop (BigInt, cycles,
 * functions, symbols, `NaN`, class instances); `Uint8Array` values are kept as
 * `{"$bytes": base64}`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ItemFromJson, JsonObject } from "effect-agent-sessions"
 *
 * // Only accept items with a string `role`, on the way in and out.
 * const WithRole = Schema.compose(
 *   ItemFromJson,
 *   JsonObject.pipe(Schema.filter((item) => typeof item.role === "string" || "items need a role"))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const ItemFromJson: Schema.Schema<Item, string> = Schema.transformOrFail(Schema.String, JsonObject, {
  strict: true,
  decode: (text, _, ast) =>
    ParseResult.try({
      try: () => decodeItem(text),
      catch: (error) => new ParseResult.Type(ast, text, messageOf(error))
    }),
  encode: (item, _, ast) =>
    ParseResult.try({
      try: () => encodeItem(item),
      catch: (error) => new ParseResult.Type(ast, item, messageOf(error))
    })
}).annotations({ identifier: "ItemFromJson" })
