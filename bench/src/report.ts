/** results.md: the tables a reader needs, the ratios, and the targets with their figures. */
import { existsSync, readFileSync } from "node:fs"
import {
  batchingHeadline,
  batchingSections,
  evaluateBatchingTargets,
  evaluateLinkDelayTargets,
  linkDelayLines
} from "./report-batching.js"
import { catalogueSection } from "./report-catalogue.js"
import { DIALECT_TITLE, fmtMs, fmtOps, fmtRatio, lookup, type TargetCheck, targetRows } from "./report-format.js"
import type { Results, TargetRecord } from "./run.js"
import { type Dialect, OP_LABELS, OP_NAMES } from "./types.js"

/** The paired (interleaved) p50s when the run has them, else the c1 cells. */
const latencyPair = (r: Results, id: string, floor: string, op: "append" | "latest20") => {
  const pair = (target: string) => (r.paired ?? []).find((p) => p.target === target && p.op === op)?.stats
  const a = pair(id)
  const f = pair(floor)
  if (a && f) return { a, f, how: "paired run" }
  const get = lookup(r)
  return { a: get(id, op, 1), f: get(floor, op, 1), how: "c1 cells" }
}

const pairedTable = (r: Results, dialect: Dialect): string => {
  const points = (r.paired ?? []).filter((p) => p.target.startsWith(`${dialect}/`))
  if (points.length === 0) return ""
  const targets = [...new Set(points.map((p) => p.target))]
  const label = (id: string) => r.targets.find((t) => t.id === id)?.label ?? id
  const floor = (op: string) => points.find((p) => p.target === `${dialect}/floor` && p.op === op)?.stats.p50Ms ?? Number.NaN
  const lines = [
    "| paired, sequential | append 2: p50 (p99) ms | ÷ floor | latest 20: p50 (p99) ms | ÷ floor |",
    "|---|---:|---:|---:|---:|"
  ]
  for (const t of targets) {
    const cells = (["append", "latest20"] as const).map((op) => {
      const p = points.find((x) => x.target === t && x.op === op)
      return p ? `${fmtMs(p.stats.p50Ms)} (${fmtMs(p.stats.p99Ms)}) | ${fmtRatio(p.stats.p50Ms / floor(op))}` : "– | –"
    })
    lines.push(`| ${label(t)} | ${cells.join(" | ")} |`)
  }
  return lines.join("\n")
}

const OURS = ["ours-effect", "ours-promise"] as const
const OURS_LABEL: Record<(typeof OURS)[number], string> = { "ours-effect": "Effect SessionStore", "ours-promise": "Promise SqlSession" }

/** The issue's targets, evaluated on the figures of this run. */
export const evaluateTargets = (r: Results): Array<TargetCheck> => {
  const get = lookup(r)
  const checks: Array<TargetCheck> = []
  const available = (id: string) => r.targets.some((t) => t.id === id && t.unavailable === undefined)
  for (const ours of OURS) {
    const id = `pg/${ours}`
    if (!available(id)) {
      checks.push({ text: `PostgreSQL targets for ${OURS_LABEL[ours]}`, figure: "not measured", met: undefined })
      continue
    }
    for (const op of ["append", "latest20"] as const) {
      const { a, f, how } = latencyPair(r, id, "pg/floor", op)
      const ratio = a && f ? a.p50Ms / f.p50Ms : Number.NaN
      checks.push({
        text: `PostgreSQL, ${OURS_LABEL[ours]}: ${OP_LABELS[op]} p50 within 1.25× of raw pg`,
        figure: a && f ? `${fmtMs(a.p50Ms)} ms vs ${fmtMs(f.p50Ms)} ms = ${fmtRatio(ratio)} (${how})` : "missing figures",
        met: Number.isFinite(ratio) ? ratio <= 1.25 : undefined
      })
    }
    const a16 = get(id, "append", 16)
    const p16 = get("pg/python", "append", 16)
    const pyRatio = a16 && p16 ? a16.opsPerSec / p16.opsPerSec : Number.NaN
    checks.push({
      text: `PostgreSQL, ${OURS_LABEL[ours]}: append throughput at concurrency 16 ≥ 3× the Python pattern`,
      figure: a16 && p16 ? `${fmtOps(a16.opsPerSec)} vs ${fmtOps(p16.opsPerSec)} ops/s = ${fmtRatio(pyRatio)}` : "missing figures",
      met: Number.isFinite(pyRatio) ? pyRatio >= 3 : undefined
    })
    const peers = r.targets.filter((t) => t.dialect === "pg" && t.category === "peer")
    for (const op of ["append", "latest20"] as const) {
      const ours1 = get(id, op, 1)
      const ours16 = get(id, op, 16)
      const parts: Array<string> = []
      let met: boolean | undefined = true
      for (const peer of peers) {
        const p1 = get(peer.id, op, 1)
        const p16b = get(peer.id, op, 16)
        if (peer.unavailable !== undefined || !p1 || !p16b || !ours1 || !ours16) {
          parts.push(`${peer.label}: not measured`)
          continue
        }
        const latency = p1.p50Ms / ours1.p50Ms
        const throughput = ours16.opsPerSec / p16b.opsPerSec
        parts.push(`${peer.label}: p50 ${fmtRatio(latency)}, c16 throughput ${fmtRatio(throughput)}`)
        if (latency < 2 || throughput < 2) met = false
      }
      if (peers.every((p) => p.unavailable !== undefined)) met = undefined
      checks.push({
        text: `PostgreSQL, ${OURS_LABEL[ours]}: ≥ 2× faster than every peer on ${OP_LABELS[op]} (p50 at c1 and ops/s at c16)`,
        figure: parts.length > 0 ? parts.join("; ") : "no peer measured",
        met
      })
    }
    const points = r.scaling.filter((p) => p.target === id).sort((a, b) => a.historyLength - b.historyLength)
    if (points.length >= 2) {
      const first = points[0]!
      const last = points[points.length - 1]!
      const ratio = last.stats.p50Ms / first.stats.p50Ms
      checks.push({
        text: `PostgreSQL, ${OURS_LABEL[ours]}: getItems(20) at ${last.historyLength.toLocaleString("en-US")} items within 1.5× of at ${first.historyLength}${
          last.historyLength < 100_000 ? " (quick mode: the issue's 10⁵ point is measured in full mode)" : ""
        }`,
        figure: `${fmtMs(last.stats.p50Ms)} ms vs ${fmtMs(first.stats.p50Ms)} ms = ${fmtRatio(ratio)}`,
        met: ratio <= 1.5
      })
    }
    const sid = `sqlite/${ours}`
    if (available(sid)) {
      for (const op of OP_NAMES) {
        const { a, f, how } = op === "append" || op === "latest20"
          ? latencyPair(r, sid, "sqlite/floor", op)
          : { a: get(sid, op, 1), f: get("sqlite/floor", op, 1), how: "c1 cells" }
        if (!a || !f) continue
        const ratio = a.p50Ms / f.p50Ms
        checks.push({
          text: `SQLite, ${OURS_LABEL[ours]}: ${OP_LABELS[op]} p50 within 1.5× of raw better-sqlite3`,
          figure: `${fmtMs(a.p50Ms)} ms vs ${fmtMs(f.p50Ms)} ms = ${fmtRatio(ratio)} (${how})`,
          met: ratio <= 1.5
        })
      }
    }
  }
  return checks
}

const opsTable = (r: Results, dialect: Dialect, concurrency: number): string => {
  const get = lookup(r)
  const rows = r.targets.filter((t) => t.dialect === dialect && t.unavailable === undefined)
  if (rows.length === 0) return ""
  const skipped = new Map<string, string>()
  for (const o of r.operations) if (o.skipped !== undefined) skipped.set(`${o.target}|${o.op}|${o.concurrency}`, o.skipped)
  const header = `| ${dialect === "memory" ? "store" : "store"} | ${OP_NAMES.map((op) => OP_LABELS[op]).join(" | ")} |`
  const lines = [header, `|---|${OP_NAMES.map(() => "---:").join("|")}|`]
  for (const t of rows) {
    const cells = OP_NAMES.map((op) => {
      const s = get(t.id, op, concurrency)
      if (s === undefined) {
        const why = skipped.get(`${t.id}|${op}|${concurrency}`) ?? ""
        return why.startsWith("no ") ? "n/a" : why.startsWith("hung") ? "**hung**" : why.startsWith("not run") ? "not run (hung earlier)" : "failed"
      }
      return `${fmtOps(s.opsPerSec)}/s · ${fmtMs(s.p50Ms)} · ${fmtMs(s.p99Ms)}${s.errors > 0 ? ` (${s.errors} errors)` : ""}`
    })
    lines.push(`| ${t.label} | ${cells.join(" | ")} |`)
  }
  return lines.join("\n")
}

/** Client CPU per operation at concurrency 1: what the store itself costs, load or not. */
const cpuTable = (r: Results, dialect: Dialect): string => {
  const get = lookup(r)
  const rows = r.targets.filter((t) => t.dialect === dialect && t.unavailable === undefined)
  if (rows.length === 0) return ""
  const lines = [`| client CPU µs per op (c1) | ${OP_NAMES.map((op) => OP_LABELS[op]).join(" | ")} |`, `|---|${OP_NAMES.map(() => "---:").join("|")}|`]
  for (const t of rows) {
    lines.push(`| ${t.label} | ${OP_NAMES.map((op) => {
      const s = get(t.id, op, 1)
      return s && Number.isFinite(s.cpuUsPerOp) ? Math.round(s.cpuUsPerOp).toLocaleString("en-US") : "–"
    }).join(" | ")} |`)
  }
  return lines.join("\n")
}

const ratioTable = (r: Results, dialect: Dialect): string => {
  const get = lookup(r)
  const lines: Array<string> = []
  for (const ours of OURS) {
    const id = `${dialect}/${ours}`
    if (!r.targets.some((t) => t.id === id && t.unavailable === undefined)) continue
    for (const [base, baseLabel] of [[`${dialect}/floor`, "floor"], [`${dialect}/python`, "Python pattern"]] as const) {
      const cells: Array<string> = []
      for (const op of OP_NAMES) {
        const parts = r.meta.settings.concurrencies.map((c) => {
          const a = get(id, op, c)
          const b = get(base, op, c)
          return a && b ? `${fmtRatio(a.opsPerSec / b.opsPerSec)}` : "–"
        })
        cells.push(parts.join(" / "))
      }
      lines.push(`| ${OURS_LABEL[ours]} ÷ ${baseLabel} | ${cells.join(" | ")} |`)
    }
  }
  if (lines.length === 0) return ""
  return [
    `| throughput ratio (c${r.meta.settings.concurrencies.join(" / c")}) | ${OP_NAMES.map((op) => OP_LABELS[op]).join(" | ")} |`,
    `|---|${OP_NAMES.map(() => "---:").join("|")}|`,
    ...lines
  ].join("\n")
}

const scalingTable = (r: Results, dialect: Dialect): string => {
  const points = r.scaling.filter((p) => p.dialect === dialect)
  if (points.length === 0) return ""
  const sizes = [...new Set(points.map((p) => p.historyLength))].sort((a, b) => a - b)
  const targets = [...new Set(points.map((p) => p.target))]
  const label = (id: string) => r.targets.find((t) => t.id === id)?.label ?? id
  const lines = [
    `| getItems(20) p50 (p99), ms | ${sizes.map((s) => `${s.toLocaleString("en-US")} items`).join(" | ")} | largest ÷ smallest |`,
    `|---|${sizes.map(() => "---:").join("|")}|---:|`
  ]
  for (const t of targets) {
    const row = sizes.map((s) => points.find((p) => p.target === t && p.historyLength === s))
    const first = row[0]?.stats.p50Ms ?? Number.NaN
    const last = row[row.length - 1]?.stats.p50Ms ?? Number.NaN
    lines.push(`| ${label(t)} | ${row.map((p) => (p ? `${fmtMs(p.stats.p50Ms)} (${fmtMs(p.stats.p99Ms)})` : "–")).join(" | ")} | ${fmtRatio(last / first)} |`)
  }
  return lines.join("\n")
}

const growthTable = (r: Results, dialect: Dialect): string => {
  const points = r.growth.filter((p) => p.dialect === dialect)
  if (points.length === 0) return ""
  const counts = [...new Set(points.map((p) => p.sessions))].sort((a, b) => a - b)
  const targets = [...new Set(points.map((p) => p.target))]
  const label = (id: string) => r.targets.find((t) => t.id === id)?.label ?? id
  const lines = [
    `| append ops/s at c${points[0]!.concurrency} over | ${counts.map((c) => `${c.toLocaleString("en-US")} sessions`).join(" | ")} |`,
    `|---|${counts.map(() => "---:").join("|")}|`
  ]
  for (const t of targets) {
    lines.push(`| ${label(t)} | ${counts.map((c) => {
      const p = points.find((x) => x.target === t && x.sessions === c)
      return p ? `${fmtOps(p.stats.opsPerSec)}${p.stats.errors > 0 ? ` (${p.stats.errors} errors)` : ""}` : "–"
    }).join(" | ")} |`)
  }
  return lines.join("\n")
}

/** The PostgreSQL figures a reader looks for first. */
export const headlineTable = (r: Results): string => {
  const get = lookup(r)
  const rows = r.targets.filter((t) => t.dialect === "pg" && t.unavailable === undefined)
  const floorAppend = get("pg/floor", "append", 16)
  const lines = [
    "| PostgreSQL | append 2: p50 (c1) | append 2: ops/s (c16) | latest 20 of 200: p50 (c1) | latest 20: ops/s (c16) | append ops/s vs floor |",
    "|---|---:|---:|---:|---:|---:|"
  ]
  for (const t of rows) {
    const a1 = get(t.id, "append", 1)
    const a16 = get(t.id, "append", 16)
    const l1 = get(t.id, "latest20", 1)
    const l16 = get(t.id, "latest20", 16)
    lines.push(`| ${t.label} | ${a1 ? `${fmtMs(a1.p50Ms)} ms` : "–"} | ${a16 ? fmtOps(a16.opsPerSec) : "–"} | ${
      l1 ? `${fmtMs(l1.p50Ms)} ms` : "–"
    } | ${l16 ? fmtOps(l16.opsPerSec) : "–"} | ${a16 && floorAppend ? fmtRatio(a16.opsPerSec / floorAppend.opsPerSec) : "–"} |`)
  }
  return lines.join("\n")
}

export const modeNote = (r: Results): string => {
  const s = r.meta.settings
  const base = `${s.timeBudgetMs} ms of measurement per cell after ${s.warmupOps} warm-up operations; ` +
    `${s.appendSessions} append sessions, ${s.readSessions} read sessions of ${s.readItems} items, ` +
    `${s.turnSessions} turn sessions; peers on ${s.peerDialects.map((d) => (d === "pg" ? "PostgreSQL" : "SQLite")).join(" and ")}; scaling ${s.scaling.sizes.map((n) => n.toLocaleString("en-US")).join(" / ")} items in a table of ` +
    `${s.scaling.totalRows.toLocaleString("en-US")} rows; append over ${s.growth.sessions.join(" / ")} sessions.`
  return r.meta.mode === "full"
    ? `Full mode: ${base}`
    : `**${r.meta.mode === "quick" ? "Quick" : "Smoke"} mode: smaller figures than the full run** (${base}) ` +
      "Short cells make p99 noisy; run `npm run bench` (full) for the published figures."
}

const targetList = (targets: ReadonlyArray<TargetRecord>) =>
  targets.map((t) =>
    `- **${t.label}** (\`${t.id}\`)${t.unavailable !== undefined ? `: **not measured**: ${t.unavailable}` : ""}${
      t.notes.length > 0 ? `. ${t.notes.join("; ")}` : ""
    }`
  ).join("\n")

export const renderMarkdown = (r: Results, charts: ReadonlyArray<string>): string => {
  const out: Array<string> = []
  const m = r.meta
  out.push("# Session store benchmark", "")
  const flags = [...(m.mode === "full" ? [] : [`--${m.mode}`]), ...(m.linkDelay !== undefined ? [`--link-delay=${m.linkDelay.delayMs}ms`] : [])]
  out.push(`Generated by \`npm run bench${flags.length > 0 ? ` -- ${flags.join(" ")}` : ""}\` on ${m.date.slice(0, 10)} (${m.date}), in ${m.durationSeconds} s.`, "")
  out.push(modeNote(r), "")
  out.push("## Machine and versions", "")
  out.push(`- Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, ${m.machine.os}; Node.js ${m.machine.node}`)
  const load = m.machine.loadAverage
  out.push(`- Load average (1 min) at start / end: ${load.start.toFixed(2)} / ${load.end.toFixed(2)}${
    Math.max(load.start, load.end) > m.machine.cores * 0.75
      ? ` — **the machine was busy with other work during this run; absolute figures are inflated and noisy, ratios less so**`
      : ""
  }`)
  out.push(`- Databases, all local: ${m.servers.pg}; ${m.servers.mysql}; ${m.servers.sqlite}`)
  out.push(`- Pools: ${m.poolSize} connections for every pooled client (the default of pg and mysql2, which our store keeps); SQLite: one connection.`)
  out.push(...linkDelayLines(r))
  if (m.batchingOption !== undefined) {
    out.push(`- Natural batching: the library under test ${m.batchingOption === "supported" ? "has" : "**does not have**"} the \`batching\` store option${
      m.batchingOption === "supported" ? " (on by default; the batching set runs it on and off)" : " (the batching set's on and off variants both run the unbatched code)"
    }.`)
  }
  out.push(`- Packages: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`, "")
  out.push("Cells read `throughput · p50 · p99` (latency in milliseconds). Throughput is operations over the wall time of a closed loop of c workers on distinct sessions.", "")
  out.push("## Headline (PostgreSQL)", "", headlineTable(r), "")
  if (charts.length > 0) {
    out.push("## Charts", "")
    for (const c of charts) out.push(`![${c}](charts/${c})`, "")
  }
  out.push("## Targets", "")
  out.push(...targetRows(evaluateTargets(r)), "")
  const batchingChecks = evaluateBatchingTargets(r)
  if ((r.batching ?? []).length > 0) {
    out.push("## Natural batching targets (issue 11)", "", "Judged on the natural-batching set (interleaved rounds), our store with `batching: true`; pool of 10 for everyone.", "")
    out.push(...targetRows(batchingChecks), "")
  }
  const linkChecks = evaluateLinkDelayTargets(r)
  if (linkChecks.length > 0) out.push("## Link-delay targets", "", ...targetRows(linkChecks), "")
  out.push(...catalogueSection(r))
  for (const dialect of ["pg", "mysql", "sqlite", "memory"] as const) {
    const sections: Array<string> = []
    for (const c of r.meta.settings.concurrencies) {
      const table = opsTable(r, dialect, c)
      if (table !== "") sections.push(`### ${DIALECT_TITLE[dialect]}, concurrency ${c}`, "", table, "")
    }
    const pairedLines = pairedTable(r, dialect)
    if (pairedLines !== "") {
      sections.push(
        `### ${DIALECT_TITLE[dialect]}: paired latency (alternating blocks)`,
        "",
        "The floor, our store and the Python pattern run in alternating blocks of sequential operations, so other load on the machine falls on all of them alike; the latency targets are judged on this table.",
        "",
        pairedLines,
        ""
      )
    }
    sections.push(...batchingSections(r, dialect))
    const cpu = cpuTable(r, dialect)
    if (cpu !== "") sections.push(`### ${DIALECT_TITLE[dialect]}: client CPU per operation`, "", "CPU time of the benchmark process per operation at concurrency 1 (library + driver, not the database server).", "", cpu, "")
    const ratios = ratioTable(r, dialect)
    if (ratios !== "") sections.push(`### ${DIALECT_TITLE[dialect]}: our throughput over the floor and the Python pattern`, "", ratios, "")
    const scaling = scalingTable(r, dialect)
    if (scaling !== "") sections.push(`### ${DIALECT_TITLE[dialect]}: latest 20 against history length`, "", scaling, "")
    const growth = growthTable(r, dialect)
    if (growth !== "") sections.push(`### ${DIALECT_TITLE[dialect]}: append throughput as sessions grow`, "", growth, "")
    if (sections.length > 0) out.push(`## ${DIALECT_TITLE[dialect]}`, "", ...sections)
  }
  out.push("## What was measured, and how", "", targetList(r.targets), "")
  const gaps = r.operations.filter((o) => o.skipped !== undefined && !o.skipped.startsWith("no "))
  const other = [
    ...(r.failures ?? []),
    ...(r.batchingTargets ?? []).filter((t) => t.unavailable !== undefined).map((t) => ({ target: t.id, what: "natural batching set", reason: t.unavailable! }))
  ]
  if (gaps.length > 0 || other.length > 0) {
    out.push("## Failures and hangs", "")
    for (const o of gaps) out.push(`- \`${o.target}\` ${OP_LABELS[o.op]} at concurrency ${o.concurrency}: ${o.skipped}`)
    for (const f of other) out.push(`- \`${f.target}\` ${f.what}: ${f.reason}`)
    out.push("")
  }
  const findings = new URL("../findings.md", import.meta.url)
  if (existsSync(findings)) out.push(readFileSync(findings, "utf8").trim(), "")
  return `${out.join("\n")}\n`
}

/** The README's natural-batching paragraph: the PostgreSQL headline and the issue-11 targets met. */
const batchingReadme = (r: Results): Array<string> => {
  const headline = batchingHeadline(r)
  if (headline === "") return []
  const checks = evaluateBatchingTargets(r).filter((c) => c.met !== undefined)
  const missed = checks.filter((c) => c.met === false)
  return [
    "Natural batching (concurrent calls that queue while every connection is busy go out as one statement), PostgreSQL,",
    "throughput against the raw floor (one statement per call) and the batched floor (the same combined statements on raw `pg`):",
    "",
    headline,
    "",
    `Batching targets met: ${checks.filter((c) => c.met === true).length} of ${checks.length}.${
      missed.length > 0 ? ` Missed: ${missed.map((c) => `${c.text} (${c.figure})`).join("; ")}.` : ""
    }`,
    "",
    "![Natural batching: throughput per store and cell](../bench/charts/batching.svg)",
    ""
  ]
}

/** In link-delay mode: the measured link and the link-delay targets met. */
const linkDelayReadme = (r: Results): Array<string> => {
  const checks = evaluateLinkDelayTargets(r)
  if (checks.length === 0) return []
  const judged = checks.filter((c) => c.met !== undefined)
  const missed = judged.filter((c) => c.met === false)
  return [
    ...linkDelayLines(r),
    "",
    `Link-delay targets met: ${judged.filter((c) => c.met === true).length} of ${judged.length}.${
      missed.length > 0 ? ` Missed: ${missed.map((c) => `${c.text} (${c.figure})`).join("; ")}.` : ""
    }`,
    ""
  ]
}

/**
 * The start of docs/benchmark.md (the README links there): headline table, chart links, how to run it,
 * what the modes mean. Links are relative to docs/.
 */
export const renderReadmeSection = (r: Results): string => {
  const m = r.meta
  const checks = evaluateTargets(r)
  const met = checks.filter((c) => c.met === true).length
  const missed = checks.filter((c) => c.met === false)
  const load = m.machine.loadAverage
  return [
    "# Benchmark",
    "",
    "`npm run bench` measures this library against the raw drivers (the floor), the Python SDK's `SQLAlchemySession`",
    "statement pattern replayed with the same drivers, and the stores a user would otherwise pick (Mastra Memory,",
    "LangChain `PostgresChatMessageHistory`, VoltAgent Memory), plus `MemorySession` as the zero-I/O reference, on local",
    "PostgreSQL, MariaDB and SQLite in one run. Full tables, every operation (append, latest 20, pop, clear, a whole agent",
    "turn) at concurrency 1 and 16, scaling and the reasons for anything not measured: [bench/results.md](../bench/results.md).",
    "",
    `Headline, PostgreSQL (${m.mode} run of ${m.date.slice(0, 10)}, ${m.machine.cores} cores, ${m.servers.pg}, pool of ${m.poolSize}` +
      `${Math.max(load.start, load.end) > m.machine.cores * 0.75 ? `; the machine was busy, load average ${load.start.toFixed(1)}` : ""}):`,
    "",
    headlineTable(r),
    "",
    `Targets met: ${met} of ${checks.filter((c) => c.met !== undefined).length}.${
      missed.length > 0 ? ` Missed: ${missed.map((c) => `${c.text} (${c.figure})`).join("; ")}. The reasons are in bench/results.md.` : ""
    }`,
    "",
    ...batchingReadme(r),
    ...linkDelayReadme(r),
    "![Throughput per store](../bench/charts/throughput.svg)",
    "",
    "![getItems(20) latency against history length](../bench/charts/latency-vs-history.svg)",
    "",
    "Run it:",
    "",
    "```bash",
    "npm run bench -- --quick   # under 2 minutes: short cells, 10^5-row scaling table",
    "npm run bench              # full: about 20 minutes on 2 cores, 10^6-row scaling table",
    "npm run bench -- --link-delay=1ms --dialects=pg,mysql --no-scaling --no-growth   # the database one rack away",
    "```",
    "",
    "The first run installs the peers into `bench/node_modules` (`npm ci --prefix bench`; they never touch the library's",
    "dependencies). The databases default to `postgres://root@127.0.0.1:5432/test` and `mysql://root@127.0.0.1:3306/test`",
    "(override with `BENCH_POSTGRES_URL` / `BENCH_MYSQL_URL`); the run creates and drops its own database",
    "`agent_sessions_bench` on each server and keeps SQLite files under `bench/.tmp`. Options: `--dialects=pg,sqlite`,",
    "`--only=floor,ours`, `--no-peers`, `--no-scaling`, `--no-batching`, `--link-delay=1ms` (every PostgreSQL and MySQL",
    "connection through a proxy adding 1 ms each way; results in bench/link-delay/), `--report-only` (re-render results.md",
    "and the charts from results.json), `--no-catalogue`, `--only=catalogue` (the catalogue phase alone: listing and pruning",
    "over 10⁵ sessions on PostgreSQL, see [catalogue-benchmark.md](catalogue-benchmark.md)), `--same-database` (stay in the",
    "given databases instead of creating `agent_sessions_bench`; the run's tables have names of their own).",
    "",
    "- **Quick** (`--quick`): 150 ms of measurement per cell after a short warm-up, the peers on PostgreSQL only, getItems(20)",
    "  on sessions of 10², 10³ and 10⁴ items in a table of 10⁵ rows, append over 1, 16 and 256 sessions. Good for comparing;",
    "  p99 is noisy.",
    "- **Full** (default): 2 s per cell, sessions of 10² to 10⁵ items in a table of 10⁶ rows (bulk-loaded with",
    "  `generate_series` on PostgreSQL, MariaDB's sequence engine, one prepared-insert transaction on SQLite), append over",
    "  1 to 4,096 sessions. These are the published figures.",
    "",
    "Throughput is a closed loop of c workers on distinct sessions; latency is per operation; results.md also reports the",
    "client CPU per operation, which other load on the machine distorts far less than latency. No timing is asserted in",
    "`npm test`; `test/bench-smoke.test.ts` runs the harness in its smallest mode so it cannot rot.",
    ""
  ].join("\n")
}
