/**
 * The Promise face of the store: a drop-in `Session` for the OpenAI Agents SDK
 * (`run(agent, input, { session })`), on PostgreSQL, MySQL/MariaDB or SQLite.
 *
 * This is the only module that turns Effect failures into rejected promises. The rejection is
 * the tagged error itself (`SessionStoreError`, `InvalidItemError`, …), which is an `Error` whose
 * `name` and `_tag` carry the tag and whose `cause` is kept.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Either, Exit, Fiber, Layer, ManagedRuntime, Option, Runtime, Stream } from "effect"
import { prepareFromUrl } from "./internal/fromUrl.js"
import * as SessionArchive from "./SessionArchive.js"
import {
  type DeleteSessionsFilter,
  type ExportSessionsOptions,
  type ImportOptions,
  type ImportSummary,
  type ListSessionsOptions,
  type SessionInfo,
  type SessionPage,
  type SessionPatch,
  type HistoryMutation,
  type HistoryTransaction,
  InvalidArgumentError,
  InvalidItemError,
  type Item,
  SessionClosedError,
  SessionStore,
  SessionStoreError
} from "./SessionStore.js"
import * as SqlSessionStore from "./SqlSessionStore.js"

/**
 * Options of `SqlSession.fromUrl` and `SqlSessionPool.fromUrl`.
 *
 * @since 0.1.0
 */
export interface SqlSessionOptions extends SqlSessionStore.UrlOptions {
  /**
   * `postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:file.db`, `sqlite:/abs/file.db`,
   * `sqlite::memory:`, or a SQLAlchemy URL such as `postgresql+asyncpg://…`.
   */
  readonly url: string
}

type StoreRuntime = ManagedRuntime.ManagedRuntime<SessionStore, SessionStoreError | InvalidArgumentError>

const toRejection = (cause: Cause.Cause<unknown>): unknown => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return failure.value
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return defect.value instanceof Error ? defect.value : new Error(String(defect.value))
  return new Error(Cause.isInterruptedOnly(cause) ? "the operation was interrupted" : Cause.pretty(cause))
}

const closedError = () => new SessionClosedError({ message: "this session store was closed with close()" })

/**
 * One pool (one `ManagedRuntime`) shared by many sessions. Sessions opened with `session(id)`
 * never close the pool; `close()` on the pool releases it and closes them all.
 *
 * @example
 * ```ts
 * import { SqlSessionPool } from "effect-agent-sessions"
 *
 * const pool = SqlSessionPool.fromUrl({ url: process.env.DATABASE_URL!, createTables: true })
 * const alice = pool.session("alice")
 * const bob = pool.session("bob")
 * await alice.addItems([{ role: "user", content: "Hi" }])
 * await pool.close()
 * ```
 *
 * @since 0.1.0
 */
export class SqlSessionPool {
  #layer: Layer.Layer<SessionStore, SessionStoreError | InvalidArgumentError>
  #runtime: StoreRuntime | undefined
  /** `#runtime` once built: calls then run on it directly, without providing it each time. */
  #built: Runtime.Runtime<SessionStore> | undefined
  /** Calls in flight: `close()` interrupts them, so every one settles. */
  readonly #calls = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  #closing: Promise<void> | undefined

  private constructor(layer: Layer.Layer<SessionStore, SessionStoreError | InvalidArgumentError>) {
    this.#layer = layer
  }

  /**
   * A pool for a database URL. Nothing connects until the first call; an invalid URL, table
   * name, `maxConnections`, `connectTimeout`, `maxItemBytes` or batching option throws `InvalidArgumentError` here.
   */
  static fromUrl(options: SqlSessionOptions): SqlSessionPool {
    const { url, ...rest } = options
    const prepared = prepareFromUrl(url, rest)
    if (Either.isLeft(prepared)) throw prepared.left
    return new SqlSessionPool(SqlSessionStore.layerFromUrl(url, rest))
  }

  /**
   * A pool over any `SessionStore` layer, for example one you composed with your own `SqlClient`.
   */
  static fromLayer(layer: Layer.Layer<SessionStore, SessionStoreError | InvalidArgumentError>): SqlSessionPool {
    return new SqlSessionPool(layer)
  }

  /** A session over this pool. Its `close()` does not close the pool. */
  session(sessionId: string): SqlSession {
    return SqlSession.ofPool(sessionId, this)
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  /**
   * Runs an effect that needs the store, rejecting with the tagged error on failure, or with
   * `SessionClosedError` when `close()` comes first.
   */
  async run<A, E>(effect: Effect.Effect<A, E, SessionStore>): Promise<A> {
    if (this.closed) throw closedError()
    const runtime = this.#runtime ??= ManagedRuntime.make(this.#layer)
    const fiber = this.#built !== undefined
      ? Runtime.runFork(this.#built)(effect)
      : Effect.runFork(
        Effect.flatMap(Effect.exit(runtime.runtimeEffect), (built): Effect.Effect<A, E | SessionStoreError | InvalidArgumentError> => {
          if (Exit.isSuccess(built)) {
            if (this.#runtime === runtime) this.#built = built.value
            return Effect.provide(effect, built.value)
          }
          if (!Exit.isInterrupted(built)) this.#forget(runtime)
          return Effect.failCause(built.cause)
        })
      )
    const tracked = fiber as Fiber.RuntimeFiber<unknown, unknown>
    this.#calls.add(tracked)
    const exit = await new Promise<Exit.Exit<A, unknown>>((resolve) => fiber.addObserver(resolve))
    this.#calls.delete(tracked)
    if (Exit.isSuccess(exit)) return exit.value
    if (this.closed && Exit.isInterrupted(exit)) throw closedError()
    throw toRejection(exit.cause)
  }

  /** Sets a session's owner, title, metadata or expiry (see `SessionStore.updateSession`). */
  updateSession(sessionId: string, patch: SessionPatch): Promise<void> {
    return this.run(Effect.flatMap(SessionStore, (store) => store.updateSession(sessionId, patch)))
  }

  /** A session's catalogue entry, or `undefined` when there is no such session. */
  async getSession(sessionId: string): Promise<SessionInfo | undefined> {
    const info = await this.run(Effect.flatMap(SessionStore, (store) => store.getSession(sessionId)))
    return Option.getOrUndefined(info)
  }

  /** One page of sessions, newest first (see `SessionStore.listSessions`). */
  listSessions(options?: ListSessionsOptions): Promise<SessionPage> {
    return this.run(Effect.flatMap(SessionStore, (store) => store.listSessions(options)))
  }

  /** Deletes the matching sessions and returns how many (see `SessionStore.deleteSessions`). */
  deleteSessions(filter: DeleteSessionsFilter): Promise<number> {
    return this.run(Effect.flatMap(SessionStore, (store) => store.deleteSessions(filter)))
  }

  /**
   * The sessions as JSON Lines: each string is one record followed by `"\n"` (see
   * `SessionArchive`). Read lazily, page by page, as you iterate.
   *
   * @example
   * ```ts
   * import { createWriteStream } from "node:fs"
   * import { Readable } from "node:stream"
   * import { pipeline } from "node:stream/promises"
   * import { SqlSessionPool } from "effect-agent-sessions"
   *
   * const pool = SqlSessionPool.fromUrl({ url: "sqlite:sessions.db" })
   * await pipeline(Readable.from(pool.exportSessions({ owner: "user-7" })), createWriteStream("backup.jsonl"))
   * ```
   */
  async *exportSessions(options?: ExportSessionsOptions): AsyncIterable<string> {
    const runtime = await this.run(Effect.runtime<SessionStore>())
    const lines = SessionArchive.toJsonLines(
      Stream.unwrap(Effect.map(SessionStore, (store) => store.exportSessions(options)))
    )
    try {
      yield* Stream.toAsyncIterableRuntime(lines, runtime)
    } catch (error) {
      // The pool was closed under the export: say so, as every other call does.
      if (this.closed) throw closedError()
      throw Runtime.isFiberFailure(error) ? toRejection(error[Runtime.FiberFailureCauseId]) : error
    }
  }

  /**
   * Imports JSON Lines text in chunks of any size, as strings or bytes (a file stream, or the
   * strings of `exportSessions`). Each session is imported in one transaction.
   *
   * @example
   * ```ts
   * import { createReadStream } from "node:fs"
   * import { SqlSessionPool } from "effect-agent-sessions"
   *
   * const pool = SqlSessionPool.fromUrl({ url: "sqlite:sessions.db" })
   * await pool.importSessions(createReadStream("backup.jsonl"), { onConflict: "skip" })
   * ```
   */
  importSessions(
    input: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
    options: ImportOptions
  ): Promise<ImportSummary> {
    const chunks: Stream.Stream<string | Uint8Array, SessionStoreError> = Symbol.asyncIterator in input
      ? Stream.fromAsyncIterable(input, (cause) =>
        new SessionStoreError({
          operation: "importSessions",
          message: `reading the import input failed: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        }))
      : Stream.fromIterable(input)
    return this.run(
      Effect.flatMap(SessionStore, (store) => store.importSessions(SessionArchive.fromJsonLines(chunks), options))
    )
  }

  /**
   * A pool that failed to build is not kept: the next call tries again, so an application
   * recovers by itself once the database is back.
   */
  #forget(runtime: StoreRuntime): void {
    if (this.#runtime !== runtime) return
    this.#runtime = undefined
    this.#built = undefined
    void runtime.dispose().catch(() => undefined)
  }

  /**
   * Releases the pool. Calls in flight settle at once with their result or `SessionClosedError`
   * (a write that already reached the database finishes first); calls made afterwards reject
   * with `SessionClosedError`.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const runtime = this.#runtime
    this.#runtime = undefined
    this.#built = undefined
    const calls = [...this.#calls]
    this.#closing = Effect.runPromise(Fiber.interruptAll(calls)).then(async () => {
      if (runtime !== undefined) await runtime.dispose().catch(() => undefined)
    })
    return this.#closing
  }
}

type Runner = Pick<SqlSessionPool, "run" | "close" | "closed">

let agentsProtocol: Promise<{ safeParse: (value: unknown) => { success: boolean } } | undefined> | undefined

/** The SDK's item schema, when `@openai/agents-core` is installed; never required. */
const loadItemValidator = () =>
  agentsProtocol ??= import("@openai/agents-core").then(
    (module) => module.protocol?.ModelItem as { safeParse: (value: unknown) => { success: boolean } } | undefined,
    () => undefined
  )

const validateModelItems = async (groups: ReadonlyArray<ReadonlyArray<unknown>>): Promise<void> => {
  const validator = await loadItemValidator()
  if (validator === undefined) return
  for (const items of groups) {
    if (!Array.isArray(items)) continue
    items.forEach((item, index) => {
      if (!validator.safeParse(item).success) {
        throw new InvalidItemError({ index, message: `item ${index} is not a valid Agents SDK history item` })
      }
    })
  }
}

/**
 * A conversation session for the OpenAI Agents SDK, stored in SQL.
 *
 * @example
 * ```ts
 * import { Agent, run } from "@openai/agents"
 * import { SqlSession } from "effect-agent-sessions"
 *
 * const session = SqlSession.fromUrl("user-42", { url: "sqlite:sessions.db", createTables: true })
 * const agent = new Agent({ name: "Assistant", instructions: "Be brief." })
 * await run(agent, "Hello!", { session })
 * await session.close()
 * ```
 *
 * @since 0.1.0
 */
export class SqlSession {
  /** The runner passes its run context; this session does not need it. */
  readonly acceptsRunContext = true as const
  readonly #sessionId: string
  readonly #pool: Runner
  readonly #ownsPool: boolean
  #closed = false

  private constructor(sessionId: string, pool: Runner, ownsPool: boolean) {
    this.#sessionId = sessionId
    this.#pool = pool
    this.#ownsPool = ownsPool
  }

  /**
   * A session with a pool of its own; `close()` releases the pool. Nothing connects until the
   * first call. Throws `InvalidArgumentError` for an invalid URL or option (see `SqlSessionPool.fromUrl`).
   */
  static fromUrl(sessionId: string, options: SqlSessionOptions): SqlSession {
    return new SqlSession(sessionId, SqlSessionPool.fromUrl(options), true)
  }

  /** @internal `SqlSessionPool.session`'s way in: the session does not own the pool. */
  static ofPool(sessionId: string, pool: Runner): SqlSession {
    return new SqlSession(sessionId, pool, false)
  }

  #run<A, E>(effect: (store: SessionStore["Type"]) => Effect.Effect<A, E>): Promise<A> {
    if (this.#closed || this.#pool.closed) return Promise.reject(closedError())
    return this.#pool.run(Effect.flatMap(SessionStore, effect))
  }

  async getSessionId(): Promise<string> {
    return this.#sessionId
  }

  /** Sets this session's owner, title, metadata or expiry (see `SessionStore.updateSession`). */
  async updateSession(patch: SessionPatch): Promise<void> {
    await this.#run((store) => store.updateSession(this.#sessionId, patch))
  }

  /** This session's catalogue entry, or `undefined` when it has never been written. */
  async getSession(): Promise<SessionInfo | undefined> {
    return Option.getOrUndefined(await this.#run((store) => store.getSession(this.#sessionId)))
  }

  /**
   * The history, oldest first; with `limit`, only the newest `limit` items. The items are the
   * Agents SDK's `AgentInputItem`s: `getItems<AgentInputItem>()` types them so (the type is not
   * imported here, so that `@openai/agents-core` stays optional).
   */
  async getItems<A = Item>(limit?: number): Promise<Array<A>> {
    const items = await this.#run((store) => store.getItems(this.#sessionId, limit))
    return items as ReadonlyArray<unknown> as Array<A>
  }

  async addItems(items: ReadonlyArray<Item>): Promise<void> {
    await this.#run((store) => store.addItems(this.#sessionId, items))
  }

  /** Removes and returns the newest item; `popItem<AgentInputItem>()` types it as the SDK's. */
  async popItem<A = Item>(): Promise<A | undefined> {
    const item = await this.#run((store) => store.popItem(this.#sessionId))
    return Option.getOrUndefined(item) as unknown as A | undefined
  }

  async clearSession(): Promise<void> {
    await this.#run((store) => store.clearSession(this.#sessionId))
  }

  /**
   * Applies an append or suffix replacement once per `operationId`, atomically; the id is
   * recorded durably, so a retry from any process or session is a no-op.
   */
  async applyHistoryTransaction(
    args: { readonly operationId: string; readonly transaction: HistoryTransaction }
  ): Promise<void> {
    const transaction = args?.transaction
    if (transaction?.type === "append_items") await validateModelItems([transaction.items])
    if (transaction?.type === "replace_suffix") {
      await validateModelItems([transaction.expectedSuffix, transaction.replacement])
    }
    await this.#run((store) =>
      store.applyHistoryTransaction(this.#sessionId, {
        operationId: args?.operationId,
        transaction
      })
    )
  }

  /** Applies `replace_function_call` mutations in one database transaction. */
  async applyHistoryMutations(args: { readonly mutations: ReadonlyArray<HistoryMutation> }): Promise<void> {
    await this.#run((store) => store.applyHistoryMutations(this.#sessionId, args))
  }

  /** Replaces the whole history in one database transaction. */
  async replaceHistoryWithCompaction(items: ReadonlyArray<Item>): Promise<void> {
    await this.#run((store) => store.replaceHistory(this.#sessionId, items))
  }

  /**
   * Closes this session; a session from `fromUrl` also releases its pool. Later calls reject
   * with `SessionClosedError`.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#ownsPool) await this.#pool.close()
  }
}
