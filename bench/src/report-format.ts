/** Number formats, the cell lookup and the target-check shape shared by the report's modules. */
import type { Results } from "./run.js"
import type { Dialect, OpName, Stats } from "./types.js"

export const DIALECT_TITLE: Record<Dialect, string> = {
  pg: "PostgreSQL",
  mysql: "MariaDB / MySQL",
  sqlite: "SQLite (file)",
  memory: "In memory (reference)"
}

export const fmtOps = (n: number) => Math.round(n).toLocaleString("en-US")
export const fmtMs = (n: number) => (Number.isFinite(n) ? (n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1)) : "–")
export const fmtRatio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "–")

export const lookup = (r: Results) => {
  const index = new Map<string, Stats>()
  for (const o of r.operations) if (o.stats !== undefined) index.set(`${o.target}|${o.op}|${o.concurrency}`, o.stats)
  return (target: string, op: OpName, concurrency: number): Stats | undefined => index.get(`${target}|${op}|${concurrency}`)
}

export interface TargetCheck {
  readonly text: string
  readonly figure: string
  readonly met: boolean | undefined
}

export const targetRows = (checks: ReadonlyArray<TargetCheck>): Array<string> => [
  "| target | measured | met |",
  "|---|---|:---:|",
  ...checks.map((c) => `| ${c.text} | ${c.figure} | ${c.met === undefined ? "–" : c.met ? "yes" : "**no**"} |`)
]
