/**
 * Progress of long work (export, import, prune) on stderr, drawn by `cli-progress`, only when
 * stderr is a terminal: piped or redirected output stays free of it.
 */
import cliProgress from "cli-progress"
import { Effect } from "effect"

export interface Progress {
  /** Moves the bar to `value` (of the total given when it started). */
  readonly update: (value: number) => Effect.Effect<void>
  /** Adds `by` to the bar. */
  readonly increment: (by?: number) => Effect.Effect<void>
  /** Changes the total when it becomes known or changes. */
  readonly setTotal: (total: number) => Effect.Effect<void>
}

const silent: Progress = {
  update: () => Effect.void,
  increment: () => Effect.void,
  setTotal: () => Effect.void
}

/**
 * A progress bar for the scope: started with `total` on a terminal, a no-op otherwise, and
 * stopped when the scope closes (success, failure or Ctrl-C).
 */
export const progressBar = (label: string, total: number, unit: string) =>
  process.stderr.isTTY !== true
    ? Effect.succeed(silent)
    : Effect.acquireRelease(
      Effect.sync(() => {
        const bar = new cliProgress.SingleBar({
          format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false
        }, cliProgress.Presets.shades_classic)
        bar.start(total, 0)
        return bar
      }),
      (bar) => Effect.sync(() => bar.stop())
    ).pipe(
      Effect.map((bar): Progress => ({
        update: (value) => Effect.sync(() => bar.update(value)),
        increment: (by = 1) => Effect.sync(() => bar.increment(by)),
        setTotal: (newTotal) => Effect.sync(() => bar.setTotal(newTotal))
      }))
    )
