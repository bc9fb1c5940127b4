/**
 * Runs one peer in a child process, so a peer that blocks the event loop (a
 * synchronous SQLite busy wait) or leaks a deadlocked pool can be stopped from
 * outside without losing the results it already produced.
 */
import { MODES, type Mode } from "./modes.js"
import { runOperations, verifyStore } from "./scenario.js"
import type { Databases, OpResult, TargetSpec } from "./types.js"

export interface WorkerRequest {
  readonly targetId: string
  readonly db: Databases
  readonly mode: Mode["name"]
  readonly runId: string
}

export type WorkerMessage =
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "result"; readonly result: OpResult }
  | { readonly type: "unavailable"; readonly reason: string }
  | { readonly type: "done" }

const send = (message: WorkerMessage) => process.send?.(message)
const errorText = (error: unknown) => String(error instanceof Error ? error.message : error).split("\n")[0]!.slice(0, 240)

process.on("uncaughtException", (error) => send({ type: "log", line: `  uncaught (ignored): ${errorText(error)}` }))
process.on("unhandledRejection", (error) => send({ type: "log", line: `  unhandled rejection (ignored): ${errorText(error)}` }))

process.once("message", async (request: WorkerRequest) => {
  const path = "./peers/index.js"
  const { peerTargets } = (await import(path)) as { peerTargets: ReadonlyArray<TargetSpec> }
  const spec = peerTargets.find((t) => t.id === request.targetId)
  if (spec === undefined) {
    send({ type: "unavailable", reason: `unknown peer ${request.targetId}` })
    process.exit(0)
  }
  const log = (line: string) => send({ type: "log", line })
  let store
  try {
    store = await spec.open(request.db)
    await verifyStore(store, `${request.runId}-${spec.name}-verify`)
  } catch (error) {
    send({ type: "unavailable", reason: errorText(error) })
    process.exit(0)
  }
  await runOperations(spec, store, MODES[request.mode], request.runId, log, (result) => send({ type: "result", result }))
  await Promise.race([store.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2_000))])
  send({ type: "done" })
  process.exit(0)
})
