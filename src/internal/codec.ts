/**
 * The store's schema edge: items to stored text and back, with the size checks an item must
 * pass before it is sent.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { ItemFromJson } from "../ItemSchema.js"
import { InvalidItemError, type Item } from "../SessionStore.js"
import type { ChunkLimits } from "./chunking.js"
import { decodeItem, encodeItem, messageOf } from "./json.js"

/** Encoding and decoding through the schema, with a synchronous path for the default one. */
export const makeCodec = (schema: Schema.Schema<Item, string>, maxItemBytes: number, limits: ChunkLimits) => {
  const formatError = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)
  const isDefault = schema === ItemFromJson
  const decodeWithSchema = Schema.decodeUnknown(schema)
  const encodeWithSchema = Schema.encode(schema)

  /** The default codec's decoding, synchronously: per text, the item or why it does not decode. */
  const decodeDefault = (texts: ReadonlyArray<string>): Array<Either.Either<Item, string>> =>
    texts.map((text) => {
      try {
        return Either.right(decodeItem(text))
      } catch (error) {
        return Either.left(messageOf(error))
      }
    })

  /** Decoding through the schema, an effect: for a custom schema (the default one uses `decodeNow`). */
  const decodeAll = (texts: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Either.Either<Item, string>>> =>
    Effect.forEach(texts, (text) => Effect.either(Effect.mapError(decodeWithSchema(text), formatError)))

  /** With the default codec, the texts decoded now, synchronously; `undefined` with a custom schema. */
  const decodeNow = (texts: ReadonlyArray<string>): Array<Either.Either<Item, string>> | undefined =>
    isDefault ? decodeDefault(texts) : undefined

  const unstorable = (index: number, reason: string, cause: unknown) =>
    new InvalidItemError({ index, message: `item ${index} cannot be stored: ${reason}`, cause })

  const encodeOne = (item: Item, index: number): Effect.Effect<string, InvalidItemError> =>
    Effect.mapError(encodeWithSchema(item), (error) => unstorable(index, formatError(error), error))

  // One item must fit in one statement (on MySQL/MariaDB in one packet): refused here, before
  // the server would drop the connection.
  const statementBytes = limits.maxItemBytes
  const itemLimit = Math.min(maxItemBytes, statementBytes)
  const sizeError = (text: string, index: number): InvalidItemError | undefined => {
    // A UTF-8 byte is at most 3 per UTF-16 unit: most items need no byte count at all.
    if (text.length * 3 <= itemLimit) return undefined
    const bytes = Buffer.byteLength(text, "utf8")
    if (bytes > maxItemBytes) {
      return new InvalidItemError({
        index,
        message: `item ${index} is ${bytes} bytes encoded, over maxItemBytes (${maxItemBytes})`
      })
    }
    return bytes <= statementBytes ? undefined : new InvalidItemError({
      index,
      message: `item ${index} is ${bytes} bytes encoded, over the ${statementBytes} bytes one statement can carry ` +
        `for an item on this database: ${limits.itemLimitReason}`
    })
  }

  const checkSize = (text: string, index: number): Effect.Effect<string, InvalidItemError> => {
    const tooLarge = sizeError(text, index)
    return tooLarge === undefined ? Effect.succeed(text) : Effect.fail(tooLarge)
  }

  /** The default codec's encoding, synchronously: the texts, or why an item cannot be stored. */
  const encodeDefault = (items: ReadonlyArray<Item>): Either.Either<ReadonlyArray<string>, InvalidItemError> => {
    const texts: Array<string> = []
    for (let index = 0; index < items.length; index++) {
      let text: string
      try {
        text = encodeItem(items[index])
      } catch (error) {
        return Either.left(unstorable(index, messageOf(error), error))
      }
      const tooLarge = sizeError(text, index)
      if (tooLarge !== undefined) return Either.left(tooLarge)
      texts.push(text)
    }
    return Either.right(texts)
  }

  const encodeAll = (items: ReadonlyArray<Item>): Effect.Effect<ReadonlyArray<string>, InvalidItemError> => {
    if (!Array.isArray(items)) return Effect.fail(new InvalidItemError({ message: "items must be an array" }))
    if (!isDefault) {
      return Effect.forEach(items, (item, index) => Effect.flatMap(encodeOne(item, index), (text) => checkSize(text, index)))
    }
    // The default codec is synchronous: one effect for the whole batch, whatever its size.
    return Effect.suspend(() => encodeDefault(items))
  }

  /**
   * With the default codec, the items encoded now, synchronously (`undefined` with a custom
   * schema, which is an effect): a call on the hot path then costs no effect for encoding.
   */
  const encodeNow = (items: ReadonlyArray<Item>): Either.Either<ReadonlyArray<string>, InvalidItemError> | undefined =>
    !isDefault ? undefined : Array.isArray(items) ? encodeDefault(items) : undefined

  return { decodeAll, decodeNow, encodeAll, encodeNow, isDefault }
}

export type Codec = ReturnType<typeof makeCodec>
