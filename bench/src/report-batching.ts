/**
 * The report's parts for issue 11: the natural-batching set (tables, ratios to the floor and to
 * the batched floor, the targets) and link-delay mode (the measured round trips, the targets).
 */
import { BATCHING_CELLS, type BatchingOp, type BatchingPoint } from "./batching.js"
import { DIALECT_TITLE, fmtMs, fmtOps, fmtRatio, lookup, type TargetCheck } from "./report-format.js"
import type { Results } from "./run.js"
import { type Dialect, OP_LABELS, type Stats } from "./types.js"

const CELL_LABEL = (op: BatchingOp, c: number) => `${op === "append" ? "append 2" : "latest 20 of 200"}, ${c} caller${c === 1 ? "" : "s"}`

/** Our store in the set, with the option on: the figures the targets are judged on. */
const OURS_BATCHED = [
  ["ours-effect-batched", "Effect SessionStore"],
  ["ours-promise-batched", "Promise SqlSession"]
] as const

const pointOf = (r: Results) => {
  const index = new Map<string, BatchingPoint>()
  for (const p of r.batching ?? []) index.set(`${p.target}|${p.op}|${p.concurrency}`, p)
  return (target: string, op: BatchingOp, c: number) => index.get(`${target}|${op}|${c}`)
}

const available = (r: Results, dialect: Dialect) =>
  (r.batchingTargets ?? []).filter((t) => t.dialect === dialect && t.unavailable === undefined)

const cpu = (s: Stats) => (Number.isFinite(s.cpuUsPerOp) ? Math.round(s.cpuUsPerOp).toLocaleString("en-US") : "–")

/** Every store of the set: `ops/s · p50 · p99 · client CPU µs per op`, and calls per statement where counted. */
export const batchingTable = (r: Results, dialect: Dialect): string => {
  const rows = available(r, dialect)
  if (rows.length === 0) return ""
  const point = pointOf(r)
  const lines = [
    `| store | ${BATCHING_CELLS.map(([op, c]) => CELL_LABEL(op, c)).join(" | ")} |`,
    `|---|${BATCHING_CELLS.map(() => "---:").join("|")}|`
  ]
  for (const t of rows) {
    const cells = BATCHING_CELLS.map(([op, c]) => {
      const p = point(t.id, op, c)
      if (p === undefined) return "–"
      const s = p.stats
      return `${fmtOps(s.opsPerSec)}/s · ${fmtMs(s.p50Ms)} · ${fmtMs(s.p99Ms)} · ${cpu(s)} µs${
        p.meanBatch !== undefined ? ` · ${p.meanBatch.toFixed(1)}/stmt` : ""
      }${s.errors > 0 ? ` (${s.errors} errors)` : ""}`
    })
    lines.push(`| ${t.label} | ${cells.join(" | ")} |`)
  }
  return lines.join("\n")
}

/** Throughput of each of our variants over the floor and over the batched floor; p50 over the floor at one caller. */
export const batchingRatios = (r: Results, dialect: Dialect): string => {
  const point = pointOf(r)
  const ours = available(r, dialect).filter((t) => t.category === "ours")
  if (ours.length === 0) return ""
  const lines = [
    `| ours ÷ | ${BATCHING_CELLS.map(([op, c]) => CELL_LABEL(op, c)).join(" | ")} |`,
    `|---|${BATCHING_CELLS.map(() => "---:").join("|")}|`
  ]
  for (const t of ours) {
    const bases = [["floor", "floor"], ["batched-floor", "batched floor"], ["batched-floor-pool", "batched floor with a slot per connection"]] as const
    for (const [base, baseLabel] of bases.filter(([base]) => (r.batching ?? []).some((p) => p.target === `${dialect}/${base}`))) {
      const cells = BATCHING_CELLS.map(([op, c]) => {
        const a = point(t.id, op, c)?.stats
        const b = point(`${dialect}/${base}`, op, c)?.stats
        if (a === undefined || b === undefined) return "–"
        const throughput = `${fmtRatio(a.opsPerSec / b.opsPerSec)} ops/s`
        const cpuRatio = `${fmtRatio(a.cpuUsPerOp / b.cpuUsPerOp)} CPU`
        return c === 1 ? `${throughput} · ${fmtRatio(a.p50Ms / b.p50Ms)} p50 · ${cpuRatio}` : `${throughput} · ${cpuRatio}`
      })
      lines.push(`| ${t.label} ÷ ${baseLabel} | ${cells.join(" | ")} |`)
    }
  }
  return lines.join("\n")
}

/** The issue's batching targets, on this run's figures (ours with `batching: true`). */
export const evaluateBatchingTargets = (r: Results): Array<TargetCheck> => {
  const point = pointOf(r)
  const checks: Array<TargetCheck> = []
  const throughputAtLeast = (dialect: Dialect, id: string, name: string, op: BatchingOp, c: number, factor: number, base: string) => {
    const a = point(`${dialect}/${id}`, op, c)?.stats
    const b = point(`${dialect}/${base}`, op, c)?.stats
    const ratio = a && b ? a.opsPerSec / b.opsPerSec : Number.NaN
    checks.push({
      text: `${DIALECT_TITLE[dialect]}, ${name}: ${OP_LABELS[op]} at ${c} callers ≥ ${factor}× the ${base === "floor" ? "floor" : base}'s throughput`,
      figure: a && b ? `${fmtOps(a.opsPerSec)} vs ${fmtOps(b.opsPerSec)} ops/s = ${fmtRatio(ratio)}` : "not measured",
      met: Number.isFinite(ratio) ? ratio >= factor : undefined
    })
  }
  for (const [id, name] of OURS_BATCHED) {
    throughputAtLeast("pg", id, name, "append", 16, 2, "floor")
    throughputAtLeast("pg", id, name, "append", 64, 3, "floor")
    throughputAtLeast("pg", id, name, "latest20", 16, 2, "floor")
    for (const op of ["append", "latest20"] as const) {
      const a = point(`pg/${id}`, op, 1)?.stats
      const b = point("pg/floor", op, 1)?.stats
      const ratio = a && b ? a.p50Ms / b.p50Ms : Number.NaN
      checks.push({
        text: `PostgreSQL, ${name}: ${OP_LABELS[op]} at one caller, p50 ≤ 1.5× the floor's`,
        figure: a && b ? `${fmtMs(a.p50Ms)} vs ${fmtMs(b.p50Ms)} ms = ${fmtRatio(ratio)}` : "not measured",
        met: Number.isFinite(ratio) ? ratio <= 1.5 : undefined
      })
    }
    for (const op of ["append", "latest20"] as const) {
      const a = point(`pg/${id}`, op, 16)?.stats
      const b = point("pg/floor", op, 16)?.stats
      const ok = a && b && Number.isFinite(a.cpuUsPerOp) && Number.isFinite(b.cpuUsPerOp)
      checks.push({
        text: `PostgreSQL, ${name}: ${OP_LABELS[op]} at 16 callers, client CPU per operation below the floor's`,
        figure: ok ? `${cpu(a)} vs ${cpu(b)} µs = ${fmtRatio(a.cpuUsPerOp / b.cpuUsPerOp)}` : "not measured",
        met: ok ? a.cpuUsPerOp < b.cpuUsPerOp : undefined
      })
    }
    throughputAtLeast("mysql", id, name, "append", 16, 2, "floor")
    throughputAtLeast("sqlite", id, name, "append", 16, 1, "floor")
  }
  return checks
}

/** The `SELECT 1` round trips of link-delay mode, as lines for results.md. */
export const linkDelayLines = (r: Results): Array<string> => {
  const link = r.meta.linkDelay
  if (link === undefined) return []
  return [
    `- **Link delay: ${link.delayMs} ms added each way** to every PostgreSQL and MySQL connection (ours, the floors, the Python pattern, every peer) by a TCP proxy in a child process; SQLite is in process and unaffected. Measured \`SELECT 1\` round trip on one warm connection (p50, alternating blocks): ${
      link.roundTrips.map((t) =>
        `${DIALECT_TITLE[t.dialect]} ${fmtMs(t.directP50Ms)} ms direct, ${fmtMs(t.proxiedP50Ms)} ms through the proxy (+${fmtMs(t.addedMs)} ms, expected about ${
          fmtMs(2 * link.delayMs)
        })`
      ).join("; ")
    }.`
  ]
}

/** Link-delay targets: ours ≥ 3× the Python pattern at one caller, ≥ 2× every peer at 1 and 16 callers. */
export const evaluateLinkDelayTargets = (r: Results): Array<TargetCheck> => {
  if (r.meta.linkDelay === undefined) return []
  const get = lookup(r)
  const checks: Array<TargetCheck> = []
  for (const dialect of ["pg", "mysql"] as const) {
    for (const ours of ["ours-effect", "ours-promise"] as const) {
      const id = `${dialect}/${ours}`
      if (!r.targets.some((t) => t.id === id && t.unavailable === undefined)) continue
      const name = ours === "ours-effect" ? "Effect SessionStore" : "Promise SqlSession"
      for (const op of ["append", "latest20"] as const) {
        const a = get(id, op, 1)
        const py = get(`${dialect}/python`, op, 1)
        const ratio = a && py ? a.opsPerSec / py.opsPerSec : Number.NaN
        checks.push({
          text: `Link delay, ${DIALECT_TITLE[dialect]}, ${name}: ${OP_LABELS[op]} at one caller ≥ 3× the Python pattern`,
          figure: a && py ? `${fmtOps(a.opsPerSec)} vs ${fmtOps(py.opsPerSec)} ops/s = ${fmtRatio(ratio)}` : "not measured",
          met: Number.isFinite(ratio) ? ratio >= 3 : undefined
        })
        const peers = r.targets.filter((t) => t.dialect === dialect && t.category === "peer")
        if (peers.length === 0) continue
        const parts: Array<string> = []
        let met: boolean | undefined = true
        for (const peer of peers) {
          const cells = [1, 16].map((c) => {
            const mine = get(id, op, c)
            const theirs = get(peer.id, op, c)
            return mine && theirs ? mine.opsPerSec / theirs.opsPerSec : Number.NaN
          })
          if (cells.some((x) => !Number.isFinite(x))) {
            parts.push(`${peer.label}: not measured${peer.unavailable !== undefined ? "" : " (hung or failed)"}`)
            continue
          }
          parts.push(`${peer.label}: ${fmtRatio(cells[0]!)} at 1, ${fmtRatio(cells[1]!)} at 16`)
          if (cells.some((x) => x < 2)) met = false
        }
        if (parts.every((p) => p.includes("not measured"))) met = undefined
        checks.push({
          text: `Link delay, ${DIALECT_TITLE[dialect]}, ${name}: ${OP_LABELS[op]} ≥ 2× every peer's throughput at 1 and 16 callers`,
          figure: parts.join("; "),
          met
        })
      }
    }
  }
  return checks
}

/** Markdown sections of results.md for one dialect's batching set. */
export const batchingSections = (r: Results, dialect: Dialect): Array<string> => {
  const table = batchingTable(r, dialect)
  if (table === "") return []
  const ratios = batchingRatios(r, dialect)
  return [
    `### ${DIALECT_TITLE[dialect]}: natural batching`,
    "",
    "Interleaved rounds of every store at each cell. Cells read `ops/s · p50 ms · p99 ms · client CPU µs per op`; the batched floor also shows how many calls one statement carried. " +
      `Our store with \`batching: true\` and \`batching: false\`${r.meta.batchingOption === "ignored" ? " (**this library predates the option: both run the unbatched code**)" : ""}.`,
    "",
    table,
    "",
    ...(ratios === "" ? [] : [ratios, ""])
  ]
}

/** The README's batching headline: PostgreSQL throughput at 16 and 64 callers, ours over both floors. */
export const batchingHeadline = (r: Results): string => {
  const point = pointOf(r)
  const rows = available(r, "pg")
  if (rows.length === 0) return ""
  const cells = [["append", 16], ["append", 64], ["latest20", 16]] as const
  const lines = [
    `| PostgreSQL, pool of ${r.meta.poolSize} | ${cells.map(([op, c]) => `${CELL_LABEL(op, c)}: ops/s`).join(" | ")} | ${
      cells.map(([op, c]) => `÷ floor / ÷ batched floor (${op === "append" ? "append" : "latest"} c${c})`).join(" | ")
    } |`,
    `|---|${cells.map(() => "---:").join("|")}|${cells.map(() => "---:").join("|")}|`
  ]
  for (const t of rows) {
    const own = cells.map(([op, c]) => point(t.id, op, c)?.stats)
    const ratio = cells.map(([op, c], i) => {
      const a = own[i]
      const f = point("pg/floor", op, c)?.stats
      const b = point("pg/batched-floor", op, c)?.stats
      return a && f && b ? `${fmtRatio(a.opsPerSec / f.opsPerSec)} / ${fmtRatio(a.opsPerSec / b.opsPerSec)}` : "–"
    })
    lines.push(`| ${t.label} | ${own.map((s) => (s ? fmtOps(s.opsPerSec) : "–")).join(" | ")} | ${ratio.join(" | ")} |`)
  }
  return lines.join("\n")
}
