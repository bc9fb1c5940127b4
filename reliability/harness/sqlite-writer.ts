/**
 * One of several processes writing the same SQLite file at once (spawned by the SQLite-processes
 * suite). It opens its own store with `createTables: true`, appends batches to a session shared by
 * all processes and to its own session, pops from its own, and prints one JSON line with what was
 * acknowledged and every failure it saw.
 *
 * Usage: node --import tsx sqlite-writer.ts <config-json>
 */
import { Effect, Exit, Option } from "effect"
import { SessionStore, SqlSessionStore } from "../../src/index.js"
import { counterTotal } from "./observe.js"
import { makeBatch, setBatchBase, type TestItem } from "./model.js"

interface Config {
  readonly filename: string
  readonly worker: number
  readonly sharedSession: string
  readonly ownSession: string
  readonly batches: number
  readonly tables: { readonly sessionsTable: string; readonly messagesTable: string; readonly operationsTable: string }
}

const config = JSON.parse(process.argv[2]!) as Config
setBatchBase(config.worker * 1_000_000)

const program = Effect.gen(function*() {
  const store = yield* SessionStore
  const shared: Array<Array<TestItem>> = []
  const acknowledged: Array<number> = []
  const own: Array<TestItem> = []
  const popped: Array<string> = []
  const failures: Array<string> = []
  for (let n = 0; n < config.batches; n++) {
    const batch = makeBatch(config.sharedSession, 1 + (n % 4))
    shared.push(batch)
    const exit = yield* Effect.exit(store.addItems(config.sharedSession, batch))
    if (Exit.isSuccess(exit)) acknowledged.push(batch[0]!.b)
    else failures.push(`add shared: ${String(exit.cause)}`)
    const mine = makeBatch(config.ownSession, 2)
    const ownExit = yield* Effect.exit(store.addItems(config.ownSession, mine))
    if (Exit.isSuccess(ownExit)) own.push(...mine)
    else failures.push(`add own: ${String(ownExit.cause)}`)
    if (n % 3 === 2) {
      const popExit = yield* Effect.exit(store.popItem(config.ownSession))
      if (Exit.isSuccess(popExit)) {
        const item = Option.getOrUndefined(popExit.value)
        const expected = own.pop()
        if (item?.k !== expected?.k) failures.push(`pop own returned ${String(item?.k)}, expected ${String(expected?.k)}`)
        if (item) popped.push(String(item.k))
      } else failures.push(`pop own: ${String(popExit.cause)}`)
    }
    // A read of the shared session between writes keeps readers and writers interleaved.
    const readExit = yield* Effect.exit(store.getItems(config.sharedSession, 5))
    if (Exit.isFailure(readExit)) failures.push(`get shared: ${String(readExit.cause)}`)
  }
  const retries = yield* counterTotal("agent_session_retries_total")
  return { worker: config.worker, shared, acknowledged, own: own.map((x) => x.k), popped, failures, retries }
})

// The URL path is what applications use: a short busy timeout, and the store's retries wait.
const layer = SqlSessionStore.layerFromUrl(`sqlite:${config.filename}`, { createTables: true, ...config.tables })

const exit = await Effect.runPromiseExit(Effect.provide(program, layer))
if (Exit.isSuccess(exit)) {
  process.stdout.write(JSON.stringify({ ok: true, ...exit.value }) + "\n")
} else {
  process.stdout.write(JSON.stringify({ ok: false, failures: [String(exit.cause)] }) + "\n")
}
