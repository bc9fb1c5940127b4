/**
 * Figures the suites record while they run, one JSON file per (section, dialect), assembled into
 * `reliability/report.md` when the full suite ends. The fast subset in `npm test` records nothing
 * unless `RELIABILITY_RESULTS_DIR` is set.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

export type Figure = number | string | boolean

export interface SectionResult {
  readonly section: string
  readonly dialect: string
  readonly figures: Record<string, Figure>
  /** Whether every assertion of the test that recorded it held (filled in by `recordOutcome`). */
  passed?: boolean
  readonly notes?: ReadonlyArray<string>
}

export const resultsDir = (): string | undefined => process.env.RELIABILITY_RESULTS_DIR

const fileOf = (dir: string, section: string, dialect: string) =>
  Path.join(dir, `${section}-${dialect}.json`.replace(/[^A-Za-z0-9_.-]/g, "_"))

/** Record figures for a section; call before the assertions, then `recordOutcome` after them. */
export const record = (result: SectionResult): void => {
  const dir = resultsDir()
  if (!dir) return
  Fs.mkdirSync(dir, { recursive: true })
  Fs.writeFileSync(fileOf(dir, result.section, result.dialect), JSON.stringify(result, null, 2))
}

export const recordOutcome = (section: string, dialect: string, passed: boolean): void => {
  const dir = resultsDir()
  if (!dir) return
  const file = fileOf(dir, section, dialect)
  if (!Fs.existsSync(file)) return
  const result = JSON.parse(Fs.readFileSync(file, "utf8")) as SectionResult
  result.passed = passed
  Fs.writeFileSync(file, JSON.stringify(result, null, 2))
}

/** Runs `body`, then marks the section passed or failed, rethrowing the failure. */
export const withOutcome = async <A>(section: string, dialect: string, body: () => Promise<A>): Promise<A> => {
  try {
    const a = await body()
    recordOutcome(section, dialect, true)
    return a
  } catch (error) {
    recordOutcome(section, dialect, false)
    throw error
  }
}

export const readResults = (dir: string): Array<SectionResult> =>
  Fs.existsSync(dir)
    ? Fs.readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(Fs.readFileSync(Path.join(dir, f), "utf8")) as SectionResult)
    : []

/** A test that failed, whether or not it got as far as recording figures. */
export const recordFailedTest = (test: string, dialect: string): void => {
  const dir = resultsDir()
  if (!dir) return
  Fs.mkdirSync(dir, { recursive: true })
  const file = Path.join(dir, `failed-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.json`)
  Fs.writeFileSync(file, JSON.stringify({ section: "failed-test", dialect, figures: { test } } satisfies SectionResult))
}
