/**
 * Natural batching written directly on a raw driver, for the batched floor: a call that finds a
 * connection free runs at once with the single statement; a call that finds every connection busy
 * queues, and the next connection to free carries every queued call of the same kind in one
 * combined statement (or one short transaction). No timer, no added wait for a lone call.
 */

/** One kind of call that can be combined (appends, or newest-N reads). */
export interface RawBatchKind<Request, Result> {
  readonly single: (request: Request) => Promise<Result>
  /** One result per request, in order; fails as a whole (every request in it fails). */
  readonly combined: (requests: ReadonlyArray<Request>) => Promise<ReadonlyArray<Result>>
}

interface Waiting {
  readonly kind: RawBatchKind<unknown, unknown>
  readonly request: unknown
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

export interface BatchCounts {
  /** Calls completed. */
  readonly calls: number
  /** Statements (or transactions) that carried them. */
  readonly statements: number
}

export interface RawBatcher {
  readonly run: <Request, Result>(kind: RawBatchKind<Request, Result>, request: Request) => Promise<Result>
  readonly counts: () => BatchCounts
}

export interface RawBatcherOptions {
  /** As many as the pool has connections (one for SQLite). */
  readonly slots: number
  readonly maxBatchSize: number
  /**
   * SQLite: a synchronous driver never leaves a call in flight while another arrives, so the
   * connection counts as busy until the current microtasks have run; calls arriving meanwhile
   * queue and go out together.
   */
  readonly holdUntilMicrotasks?: boolean | undefined
}

export const makeRawBatcher = (options: RawBatcherOptions): RawBatcher => {
  let free = options.slots
  const queue: Array<Waiting> = []
  let calls = 0
  let statements = 0

  /** The oldest queued call and every queued call of its kind behind it, up to the batch size. */
  const takeBatch = (): Array<Waiting> => {
    const kind = queue[0]!.kind
    const batch: Array<Waiting> = []
    for (let i = 0; i < queue.length && batch.length < options.maxBatchSize;) {
      if (queue[i]!.kind === kind) batch.push(...queue.splice(i, 1))
      else i++
    }
    return batch
  }

  const release = () => {
    if (queue.length === 0) {
      free++
      return
    }
    // The slot passes straight to the queue: it is never free while calls wait.
    void runBatch(takeBatch())
  }

  const runBatch = async (batch: ReadonlyArray<Waiting>) => {
    statements++
    calls += batch.length
    try {
      if (batch.length === 1) {
        const only = batch[0]!
        try {
          only.resolve(await only.kind.single(only.request))
        } catch (error) {
          only.reject(error)
        }
      } else {
        try {
          const results = await batch[0]!.kind.combined(batch.map((w) => w.request))
          batch.forEach((w, i) => w.resolve(results[i]))
        } catch (error) {
          for (const w of batch) w.reject(error)
        }
      }
    } finally {
      if (options.holdUntilMicrotasks === true) queueMicrotask(release)
      else release()
    }
  }

  return {
    run: <Request, Result>(kind: RawBatchKind<Request, Result>, request: Request) =>
      new Promise<Result>((resolve, reject) => {
        const waiting: Waiting = {
          kind: kind as RawBatchKind<unknown, unknown>,
          request,
          resolve: resolve as (value: unknown) => void,
          reject
        }
        if (free > 0) {
          free--
          void runBatch([waiting])
        } else {
          queue.push(waiting)
        }
      }),
    counts: () => ({ calls, statements })
  }
}
