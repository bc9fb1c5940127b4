/**
 * What every reliability suite shares: the scale it runs at, the dialects, a unique set of tables
 * per suite, and a store layer over a target's own pool.
 */
import type { SqlClient } from "@effect/sql"
import { beforeEach, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlSessionStore } from "../../src/index.js"
import * as Databases from "../../test/support/databases.js"
import { recordFailedTest } from "../harness/results.js"
import { dropTables, type Target } from "../harness/targets.js"

export interface Scale {
  readonly name: "fast" | "full"
  readonly load: { readonly sessions: number; readonly concurrency: number; readonly operations: number }
  readonly contended: { readonly sessions: number; readonly concurrency: number; readonly operations: number }
  readonly kill: {
    readonly sessions: number
    readonly concurrency: number
    readonly operations: number
    readonly everyMs: number
  }
  readonly interrupt: {
    readonly sessions: number
    readonly concurrency: number
    readonly operations: number
    readonly share: number
  }
  readonly sqliteProcesses: { readonly processes: number; readonly batches: number }
  readonly propertyRuns: number
  readonly poolSize: number
}

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const value = raw === undefined ? NaN : Number(raw)
  return Number.isInteger(value) && value > 0 ? value : fallback
}

/** The full proof: the figures in the report. Each number can be overridden from the environment. */
export const full: Scale = {
  name: "full",
  load: {
    sessions: envInt("RELIABILITY_SESSIONS", 1000),
    concurrency: envInt("RELIABILITY_CONCURRENCY", 64),
    operations: envInt("RELIABILITY_OPERATIONS", 20_000)
  },
  contended: { sessions: 8, concurrency: envInt("RELIABILITY_CONCURRENCY", 64), operations: 4000 },
  kill: { sessions: 200, concurrency: 32, operations: envInt("RELIABILITY_KILL_OPERATIONS", 6000), everyMs: 150 },
  interrupt: { sessions: 200, concurrency: 32, operations: 3000, share: 0.6 },
  sqliteProcesses: { processes: 4, batches: 150 },
  propertyRuns: envInt("RELIABILITY_PROPERTY_RUNS", 150),
  poolSize: envInt("RELIABILITY_POOL_SIZE", 16)
}

/** The fast subset in `npm test`: the same checks, a few seconds per dialect. */
export const fast: Scale = {
  name: "fast",
  load: { sessions: 100, concurrency: 16, operations: 1000 },
  contended: { sessions: 4, concurrency: 16, operations: 400 },
  kill: { sessions: 40, concurrency: 8, operations: 400, everyMs: 100 },
  interrupt: { sessions: 40, concurrency: 8, operations: 300, share: 0.6 },
  sqliteProcesses: { processes: 3, batches: 15 },
  propertyRuns: 15,
  poolSize: 8
}

export const dialects = Databases.all

export interface Tables {
  readonly sessionsTable: string
  readonly messagesTable: string
  readonly operationsTable: string
}

/** Tables no other test uses (names stay within the store's 48-character limit). */
export const uniqueTables = (tag: string): Tables => ({
  sessionsTable: Databases.uniqueTable(`rel${tag}_s`),
  messagesTable: Databases.uniqueTable(`rel${tag}_m`),
  operationsTable: Databases.uniqueTable(`rel${tag}_o`)
})

export const dropAll = (target: Target, tables: Tables) =>
  dropTables(target, [tables.operationsTable, tables.messagesTable, tables.sessionsTable])

export type StoreOptions = Parameters<typeof SqlSessionStore.layer>[0]

/** The store (and its `SqlClient`) over a new pool of the target's login, tables created. */
export const storeLayer = (
  target: Target,
  tables: Tables,
  options: { readonly poolSize?: number; readonly connectTimeoutMs?: number; readonly store?: StoreOptions } = {}
) =>
  SqlSessionStore.layer({ createTables: true, ...tables, ...options.store }).pipe(
    Layer.provideMerge(target.clientLayer(options))
  )

/** Run an Effect program against a fresh store; the pool is closed when it returns. */
export const withStore = <A, E>(
  target: Target,
  tables: Tables,
  program: Effect.Effect<A, E, import("../../src/index.js").SessionStore | SqlClient.SqlClient>,
  options: { readonly poolSize?: number; readonly connectTimeoutMs?: number; readonly store?: StoreOptions } = {}
): Promise<A> => Effect.runPromise(Effect.provide(program, storeLayer(target, tables, options)) as Effect.Effect<A, unknown>)

export const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0)

/** Call inside a describe: every failing test is listed in the report, even one that recorded nothing. */
export const trackFailures = (dialect: string): void => {
  beforeEach((context) => {
    context.onTestFailed(() => recordFailedTest(context.task.name, dialect))
  })
}

/**
 * `it` for a check that applies to this dialect, and nothing at all for one that does not, so a
 * check that cannot apply is not reported as a skipped test.
 */
export const itWhen = (applies: boolean): typeof it => (applies ? it : ((() => undefined) as unknown as typeof it))
