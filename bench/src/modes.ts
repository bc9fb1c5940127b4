/** How much work each mode does. Quick and smoke use smaller figures and the report says so. */
export interface Mode {
  readonly name: "smoke" | "quick" | "full"
  /** Measured phase of one (target, operation, concurrency) cell. */
  readonly timeBudgetMs: number
  readonly warmupOps: number
  readonly maxOps: number
  /** A cell still running this long after its budget is reported as hung. */
  readonly hangAfterMs: number
  /** Databases on which the peers run (quick mode keeps to PostgreSQL, where the targets name them). */
  readonly peerDialects: ReadonlyArray<"pg" | "sqlite">
  /** A peer runs in a child process and is stopped after this long (a blocked peer cannot stop itself). */
  readonly peerTimeLimitMs: number
  readonly concurrencies: ReadonlyArray<number>
  readonly appendSessions: number
  readonly readSessions: number
  readonly readItems: number
  readonly turnSessions: number
  readonly turnSeedItems: number
  /** Sessions prepared for each clear cell (a clear consumes its session). */
  readonly clearSessions: number
  readonly clearSeedItems: number
  readonly scaling: {
    readonly sizes: ReadonlyArray<number>
    readonly totalRows: number
    readonly opsPerPoint: number
  }
  readonly growth: {
    readonly sessions: ReadonlyArray<number>
    readonly concurrency: number
    readonly timeBudgetMs: number
  }
  /** The natural-batching set (batching.ts): each cell runs `rounds` times for `roundBudgetMs`. */
  readonly batching: {
    readonly rounds: number
    readonly roundBudgetMs: number
    readonly maxOpsPerRound: number
    readonly appendSessions: number
    readonly readSessions: number
  }
  /**
   * The catalogue phase (catalogue.ts, PostgreSQL): `sessions` sessions with `items` items over
   * `owners` owners, listing samples at page 1 and `deepPage`, and `rounds` of appends by
   * `appenders` workers for `baselineMs` without pruning, then while `idle` idle sessions are pruned.
   */
  readonly catalogue: {
    readonly sessions: number
    readonly items: number
    readonly owners: number
    readonly idle: number
    readonly deepPage: number
    readonly warmup: number
    readonly samples: number
    readonly appenders: number
    readonly baselineMs: number
    readonly rounds: number
  }
}

export const MODES: Record<Mode["name"], Mode> = {
  smoke: {
    name: "smoke",
    timeBudgetMs: 40,
    warmupOps: 2,
    maxOps: 30,
    hangAfterMs: 10_000,
    peerDialects: ["pg", "sqlite"],
    peerTimeLimitMs: 60_000,
    concurrencies: [1, 16],
    appendSessions: 32,
    readSessions: 4,
    readItems: 200,
    turnSessions: 16,
    turnSeedItems: 20,
    clearSessions: 24,
    clearSeedItems: 4,
    scaling: { sizes: [100, 1_000], totalRows: 3_000, opsPerPoint: 10 },
    growth: { sessions: [1, 16], concurrency: 16, timeBudgetMs: 40 },
    batching: { rounds: 1, roundBudgetMs: 20, maxOpsPerRound: 80, appendSessions: 64, readSessions: 2 },
    catalogue: { sessions: 2_000, items: 20_000, owners: 50, idle: 200, deepPage: 20, warmup: 2, samples: 10, appenders: 4, baselineMs: 150, rounds: 1 }
  },
  quick: {
    name: "quick",
    timeBudgetMs: 150,
    warmupOps: 20,
    maxOps: 20_000,
    hangAfterMs: 3_000,
    peerDialects: ["pg"],
    peerTimeLimitMs: 18_000,
    concurrencies: [1, 16],
    appendSessions: 128,
    readSessions: 8,
    readItems: 200,
    turnSessions: 64,
    turnSeedItems: 20,
    clearSessions: 200,
    clearSeedItems: 4,
    scaling: { sizes: [100, 1_000, 10_000], totalRows: 100_000, opsPerPoint: 200 },
    growth: { sessions: [1, 16, 256], concurrency: 16, timeBudgetMs: 150 },
    batching: { rounds: 2, roundBudgetMs: 150, maxOpsPerRound: 20_000, appendSessions: 256, readSessions: 16 },
    catalogue: { sessions: 20_000, items: 200_000, owners: 200, idle: 2_000, deepPage: 200, warmup: 20, samples: 100, appenders: 16, baselineMs: 1_000, rounds: 3 }
  },
  full: {
    name: "full",
    timeBudgetMs: 2_000,
    warmupOps: 200,
    maxOps: 200_000,
    hangAfterMs: 15_000,
    peerDialects: ["pg", "sqlite"],
    peerTimeLimitMs: 240_000,
    concurrencies: [1, 16],
    appendSessions: 1_024,
    readSessions: 64,
    readItems: 200,
    turnSessions: 512,
    turnSeedItems: 20,
    clearSessions: 4_000,
    clearSeedItems: 4,
    scaling: { sizes: [100, 1_000, 10_000, 100_000], totalRows: 1_000_000, opsPerPoint: 1_000 },
    growth: { sessions: [1, 16, 256, 4_096], concurrency: 16, timeBudgetMs: 2_000 },
    batching: { rounds: 4, roundBudgetMs: 500, maxOpsPerRound: 200_000, appendSessions: 256, readSessions: 64 },
    catalogue: { sessions: 100_000, items: 1_000_000, owners: 1_000, idle: 10_000, deepPage: 1_000, warmup: 50, samples: 500, appenders: 16, baselineMs: 2_000, rounds: 8 }
  }
}
