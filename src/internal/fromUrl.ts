/**
 * Everything `layerFromUrl` and `fromUrl` can check before building anything: the URL, the pool
 * options and the store options. Synchronous, so `SqlSessionPool.fromUrl` throws at once rather
 * than on the first call.
 */
import { Effect, Either, Redacted } from "effect"
import { InvalidArgumentError } from "../SessionStore.js"
import type { SqlSessionStoreOptions } from "../SqlSessionStore.js"
import { batchingOptionsError } from "./batching.js"
import { type ConnectionOptions, resolveConnectionOptions } from "./clientLayer.js"
import { type DatabaseUrl, parseDatabaseUrl } from "./url.js"
import { validateTableName } from "./validation.js"

export interface PreparedUrl {
  readonly database: DatabaseUrl
  readonly connection: Either.Either.Right<ReturnType<typeof resolveConnectionOptions>>
  readonly storeOptions: SqlSessionStoreOptions
}

export const prepareFromUrl = (
  url: Redacted.Redacted<string> | string,
  options: SqlSessionStoreOptions & ConnectionOptions
): Either.Either<PreparedUrl, InvalidArgumentError> => {
  const { connectTimeout, maxConnections, ...storeOptions } = options
  const checks = Effect.gen(function*() {
    const database = yield* parseDatabaseUrl(Redacted.isRedacted(url) ? Redacted.value(url) : url)
    const connection = yield* resolveConnectionOptions({ connectTimeout, maxConnections })
    for (const argument of ["sessionsTable", "messagesTable", "operationsTable"] as const) {
      // The defaults are valid; only the caller's names need a look.
      if (storeOptions[argument] !== undefined) yield* validateTableName(argument, storeOptions[argument])
    }
    const maxItemBytes = storeOptions.maxItemBytes
    if (maxItemBytes !== undefined && (!Number.isSafeInteger(maxItemBytes) || maxItemBytes <= 0)) {
      return yield* new InvalidArgumentError({
        argument: "maxItemBytes",
        message: `maxItemBytes must be a positive integer, got ${String(maxItemBytes)}`
      })
    }
    const batching = batchingOptionsError(storeOptions)
    if (batching !== undefined) return yield* batching
    return { database, connection, storeOptions }
  })
  return Effect.runSync(Effect.either(checks))
}
