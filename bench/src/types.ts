/** Shapes shared by the benchmark harness, its targets and its report. */

export type Dialect = "pg" | "mysql" | "sqlite" | "memory"

/** Where a target stands in the comparison. */
export type Category = "floor" | "python" | "ours" | "peer" | "reference"

export type Item = { readonly [key: string]: unknown }

export type OpName = "append" | "latest20" | "pop" | "clear" | "turn"

export const OP_NAMES: ReadonlyArray<OpName> = ["append", "latest20", "turn", "pop", "clear"]

export const OP_LABELS: Record<OpName, string> = {
  append: "append 2 items",
  latest20: "latest 20 of 200",
  pop: "pop",
  clear: "clear",
  turn: "agent turn (read all + append 3)"
}

/**
 * One store under test, opened on one database. Every method is what a user of
 * that store would call; an operation the store has no public API for is left out
 * and reported as "n/a".
 */
export interface Store {
  append(sessionId: string, items: ReadonlyArray<Item>): Promise<void>
  latest(sessionId: string, limit: number): Promise<ReadonlyArray<unknown>>
  all(sessionId: string): Promise<ReadonlyArray<unknown>>
  pop?: ((sessionId: string) => Promise<unknown>) | undefined
  clear?: ((sessionId: string) => Promise<void>) | undefined
  close(): Promise<void>
}

export interface Databases {
  readonly pgUrl: string
  readonly mysqlUrl: string
  /** Folder for SQLite files; each target gets its own file. */
  readonly sqliteDir: string
  /** Prefix for every table this run creates, e.g. "bench_" */
  readonly tablePrefix: string
  /**
   * When set, every SQL target reads and writes the same tables,
   * `<tablePrefix>sessions` / `messages` / `operations`, which our store creates;
   * the others neither create nor drop them (used by the scaling phase).
   */
  readonly shared?: boolean | undefined
}

export interface TargetSpec {
  /** Stable id, "<dialect>/<name>", e.g. "pg/ours-effect". */
  readonly id: string
  readonly name: string
  readonly label: string
  readonly dialect: Dialect
  readonly category: Category
  /** npm packages that make up this target, for the versions table. */
  readonly packages: ReadonlyArray<string>
  /** How the target had to be used, e.g. "latest-20 = getMessages() then slice". */
  readonly notes?: ReadonlyArray<string>
  open(db: Databases): Promise<Store>
}

/** A target that could not be installed or run, with the reason. */
export interface UnavailableTarget {
  readonly id: string
  readonly label: string
  readonly dialect: Dialect
  readonly category: Category
  readonly reason: string
}

export interface Stats {
  readonly ops: number
  readonly errors: number
  readonly elapsedMs: number
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  /**
   * CPU time this Node.js process spent per measured operation (user + system, µs):
   * the client-side cost of the store and its driver, which other load on the
   * machine inflates far less than latency.
   */
  readonly cpuUsPerOp: number
}

export interface OpResult {
  readonly target: string
  readonly op: OpName
  readonly concurrency: number
  readonly stats?: Stats | undefined
  /** Set when the store has no API for the operation, or the run failed. */
  readonly skipped?: string | undefined
}

export interface ScalingPoint {
  readonly target: string
  readonly dialect: Dialect
  readonly historyLength: number
  readonly stats: Stats
}

export interface SessionsPoint {
  readonly target: string
  readonly dialect: Dialect
  readonly sessions: number
  readonly concurrency: number
  readonly stats: Stats
}
