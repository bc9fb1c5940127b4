/**
 * Natural batching: concurrent calls that find every statement slot busy queue up, and the next
 * slot to free carries all the queued calls of one kind in one combined statement.
 *
 * The design, in brief:
 *
 * - A store has `slots` statement slots: `batchConcurrency` (default 2, never more than the pool's
 *   connections; one on SQLite). Few slots make big batches, and measured best (docs/batching.md).
 *   A call that finds a slot free takes it and runs at once, alone, with the single-request
 *   statement: no timer, no added wait.
 * - A call that finds no slot free joins one FIFO queue shared by every kind of request. It waits
 *   for its signal (a callback that resumes its fiber), interruptibly: an interrupted call still in
 *   the queue removes itself, synchronously, so no slot can take it afterwards and it is never
 *   applied.
 * - When a statement finishes, its slot is not given back while the queue is non-empty: it is
 *   handed to the oldest queued call, together with the queued calls of the same kind behind it
 *   (up to `maxBatchSize`, and up to the kind's weight budget, stopping at the first that does not
 *   fit so that queue order is kept). That call's fiber runs the combined statement, hands the
 *   slot on in turn (so the next statement goes out before the callers of this one resume), then
 *   signals the others their results. Once a call is taken it is in flight:
 *   like any statement of the store it finishes before an interruption is honoured.
 * - A combined statement that the database rejected for a reason that may belong to one request
 *   (a constraint, bad data, a statement too large) is bisected and the halves run again, so only
 *   the request at fault fails. Any other failure fails every request in the statement, which
 *   either applied as a whole or not at all.
 *
 * Everything that touches the queue and the free-slot count runs synchronously, so in
 * JavaScript's single thread it is atomic with respect to every other fiber.
 */
import { Cause, Effect, Exit, FiberRef, type Metric, type Tracer } from "effect"
import { underSpan } from "./tracing.js"

/** One kind of request that can be combined: appends, or newest-N reads. */
export interface BatchKind<Request, A, E> {
  /** The request on its own: the statement a lone call uses. */
  readonly single: (request: Request) => Effect.Effect<A, E>
  /** Several requests in one statement (or one short transaction); one result per request, in order. */
  readonly combined: (requests: ReadonlyArray<Request>) => Effect.Effect<ReadonlyArray<A>, E>
  /** What a request costs in a combined statement (bytes, rows); see `budget`. */
  readonly weight: (request: Request) => number
  /** The largest total weight of a combined statement; a heavier request always runs alone. */
  readonly budget: number
  /** Whether a failed combined statement is worth splitting: it was rejected and rolled back. */
  readonly splittable: (error: E) => boolean
  /** Records the size of every statement run (the batch-size histogram). */
  readonly sizes: Metric.Metric.Histogram<number>
  /** When given, a batch holds at most one request per key (pops: one per session). */
  readonly key?: ((request: Request) => string) | undefined
}

interface Entry {
  readonly kind: BatchKind<unknown, unknown, unknown>
  readonly request: unknown
  readonly weight: number
  readonly span: Tracer.Span | undefined
  taken: boolean
  /** The signal, once sent: kept, so a wait cut short by an interruption can still read it. */
  signal: Signal | undefined
  /** Wakes the call's fiber, while it waits. */
  wake: ((signal: Signal) => void) | undefined
}

/** What a queued call is told: run this batch (it is the first of it), or here is your result. */
type Signal =
  | { readonly _tag: "Lead"; readonly batch: ReadonlyArray<Entry> }
  | { readonly _tag: "Done"; readonly exit: Exit.Exit<unknown, unknown> }

export interface Batcher {
  /** Runs `request` of `kind`, alone or combined; `span` gets the size of the statement that carried it. */
  readonly run: <Request, A, E>(
    kind: BatchKind<Request, A, E>,
    request: Request,
    span: Tracer.Span | undefined
  ) => Effect.Effect<A, E>
}

export const BATCH_SIZE_ATTRIBUTE = "session.batch_size"

export const makeBatcher = (options: {
  readonly slots: number
  readonly maxBatchSize: number
  /**
   * For a synchronous driver (better-sqlite3): a statement never yields, so without this no call
   * could ever find the pipe busy. A lone call yields once (a scheduler turn, not a timer) so that
   * callers already runnable can queue behind it and share the next statement.
   */
  readonly yieldFirst: boolean
}): Batcher => {
  let free = options.slots
  let queue: Array<Entry> = []

  /** The oldest queued call and the queued calls of its kind behind it that fit; removed from the queue. */
  const takeBatch = (): Array<Entry> => {
    const head = queue[0]!
    const batch = [head]
    const rest: Array<Entry> = []
    const key = head.kind.key
    const keys = key === undefined ? undefined : new Set([key(head.request)])
    let weight = head.weight
    let open = weight <= head.kind.budget
    for (let index = 1; index < queue.length; index++) {
      const entry = queue[index]!
      if (open && entry.kind === head.kind) {
        const entryKey = key?.(entry.request)
        if (
          batch.length < options.maxBatchSize && weight + entry.weight <= head.kind.budget &&
          (entryKey === undefined || !keys!.has(entryKey))
        ) {
          weight += entry.weight
          batch.push(entry)
          if (entryKey !== undefined) keys!.add(entryKey)
          continue
        }
        // Stop at the first that does not fit: later ones must not overtake it.
        open = false
      }
      rest.push(entry)
    }
    queue = rest
    for (const entry of batch) entry.taken = true
    return batch
  }

  const send = (entry: Entry, signal: Signal): void => {
    entry.signal = signal
    const wake = entry.wake
    entry.wake = undefined
    wake?.(signal)
  }

  /**
   * Waits for the entry's signal. A plain callback rather than a `Deferred`: under load most calls
   * queue, and this saves about 5 µs of CPU per queued call (docs/batching.md).
   */
  const signalOf = (entry: Entry): Effect.Effect<Signal> =>
    Effect.async<Signal>((resume) => {
      if (entry.signal !== undefined) return resume(Effect.succeed(entry.signal))
      entry.wake = (signal) => resume(Effect.succeed(signal))
    })

  /** Gives the slot to the oldest queued call, or back to the pool when none is waiting. */
  const release = (): void => {
    if (queue.length === 0) {
      free++
      return
    }
    const batch = takeBatch()
    send(batch[0]!, { _tag: "Lead", batch })
  }

  const annotate = (entries: ReadonlyArray<Entry>, size: number) => {
    for (const entry of entries) entry.span?.attribute(BATCH_SIZE_ATTRIBUTE, size)
  }

  /**
   * Records a statement's size in the histogram (with the caller's metric labels, as applying the
   * metric would), then runs it: one step, as this runs for every statement.
   */
  const recorded = <A, E>(kind: BatchKind<unknown, unknown, unknown>, size: number, statement: () => Effect.Effect<A, E>) =>
    Effect.withFiberRuntime<A, E>((fiber) => {
      kind.sizes.unsafeUpdate(size, fiber.getFiberRef(FiberRef.currentMetricLabels))
      return statement()
    })

  /**
   * Runs `entries` as one statement (the single one for one entry) and returns one exit per entry.
   * A rejected combined statement is bisected; any other failure is every entry's failure.
   */
  const execute = (entries: ReadonlyArray<Entry>): Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>> => {
    const kind = entries[0]!.kind
    annotate(entries, entries.length)
    const statement = recorded(kind, entries.length, () =>
      entries.length === 1
        ? Effect.map(kind.single(entries[0]!.request), (value) => [value])
        : kind.combined(entries.map((entry) => entry.request)))
    return Effect.flatMap(Effect.exit(statement), (exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed(exit.value.map((value) => Exit.succeed(value)))
      const failure = Cause.failureOption(exit.cause)
      if (entries.length > 1 && failure._tag === "Some" && kind.splittable(failure.value)) {
        const middle = entries.length >> 1
        return Effect.zipWith(
          execute(entries.slice(0, middle)),
          execute(entries.slice(middle)),
          (left, right) => [...left, ...right]
        )
      }
      const failed: Exit.Exit<unknown, unknown> = Exit.failCause(exit.cause)
      return Effect.succeed(entries.map(() => failed))
    })
  }

  /** Its statements' spans are children of the span of the call whose fiber runs them. */
  const under = (span: Tracer.Span | undefined) => <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    span === undefined ? effect : underSpan(span)(effect)

  /** Runs a batch in the slot this fiber holds, tells the others, hands the slot on; `own` is the first entry's exit. */
  const lead = (batch: ReadonlyArray<Entry>): Effect.Effect<unknown, unknown> =>
    Effect.flatMap(under(batch[0]!.span)(execute(batch)), (exits) => {
      // The slot first: the next batch's statement is sent before the callers here resume.
      release()
      for (let index = 1; index < batch.length; index++) send(batch[index]!, { _tag: "Done", exit: exits[index]! })
      return exits[0]!
    })

  const follow = (signal: Signal): Effect.Effect<unknown, unknown> =>
    signal._tag === "Lead" ? lead(signal.batch) : signal.exit

  /** Queues a call; only its wait for a signal is interruptible (`restore`). */
  const enqueue = (
    kind: BatchKind<unknown, unknown, unknown>,
    request: unknown,
    span: Tracer.Span | undefined,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ): Effect.Effect<unknown, unknown> => {
    const entry: Entry = {
      kind,
      request,
      weight: kind.weight(request),
      span,
      taken: false,
      signal: undefined,
      wake: undefined
    }
    queue.push(entry)
    return Effect.matchCauseEffect(restore(signalOf(entry)), {
      onSuccess: follow,
      onFailure: (cause) => {
        if (!entry.taken) {
          // Interrupted while queued: out of the queue before any slot can take it.
          queue = queue.filter((queued) => queued !== entry)
          return Effect.failCause(cause)
        }
        // Taken already: in flight, so it finishes first (the interruption is honoured after).
        return Effect.flatMap(signalOf(entry), follow)
      }
    })
  }

  const run = <Request, A, E>(
    kind: BatchKind<Request, A, E>,
    request: Request,
    span: Tracer.Span | undefined
  ): Effect.Effect<A, E> =>
    // Uninterruptible from the moment a slot may be taken: the runtime can yield (and a fiber be
    // interrupted) between any two steps, and a slot taken but never released hangs the store.
    // (The mask's function runs when the effect does, inside the region: no `suspend` needed.)
    Effect.uninterruptibleMask((restore) => {
      const anyKind = kind as unknown as BatchKind<unknown, unknown, unknown>
      if (free > 0) {
        // The pipe is free: at once, alone, with the single statement.
        free--
        span?.attribute(BATCH_SIZE_ATTRIBUTE, 1)
        const alone = recorded(anyKind, 1, () => under(span)(kind.single(request)))
        return Effect.ensuring(options.yieldFirst ? Effect.zipRight(Effect.yieldNow(), alone) : alone, Effect.sync(release))
      }
      return enqueue(anyKind, request, span, restore) as Effect.Effect<A, E>
    })

  return { run }
}
