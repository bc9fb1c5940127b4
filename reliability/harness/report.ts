/**
 * Assembles `reliability/report.md` from the figures the suites recorded.
 *
 * Usage (also called by the full suite's global teardown): tsx reliability/harness/report.ts <results-dir> <out.md>
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import { readResults, type SectionResult } from "./results.js"

const sections: ReadonlyArray<{ readonly key: string; readonly title: string; readonly what: string }> = [
  { key: "load", title: "Load", what: "Sessions chosen at random by concurrent fibers; every result checked against an exact in-memory model as it returns, every history compared at the end (through the store and with raw SQL)." },
  { key: "contended", title: "Contended sessions", what: "All fibers on a few hot sessions at once, no lock in the test: no duplicates, every batch a contiguous prefix of itself in every snapshot, every pop distinct, added = stored + popped." },
  { key: "promise-pool", title: "Promise pool and close()", what: "`SqlSessionPool.fromUrl` under concurrent use, then `close()`: server-side connections of the pool's own login counted before and after." },
  { key: "killed-connections", title: "Killed connections", what: "A killer terminates every connection of the store's login from the server side (`pg_terminate_backend`, `KILL CONNECTION`) during the load. Every failed operation is resolved by reading back: it must have happened entirely or not at all." },
  { key: "restart", title: "Server restart", what: "The server is stopped mid-run and started again; every call during the outage must fail with `SessionStoreError` within the connect timeout, and the same store must work afterwards." },
  { key: "interruption", title: "Interruption", what: "Fibers running add / pop / clear interrupted after a random delay; each interrupted mutation resolved against the database: entirely or not at all." },
  { key: "retries", title: "Retries of transient failures", what: "A trigger makes the next inserts fail with a serialization failure (PostgreSQL 40001) or a deadlock (MariaDB 1213); the store must retry, log and count each retry, and store the batch once." },
  { key: "sqlite-processes", title: "SQLite: several processes on one file", what: "Child processes open their own store on one file with `createTables: true` and write at once." },
  { key: "round-trips", title: "Property round trips", what: "fast-check batches of arbitrary JSON objects (unicode, lone surrogates, NUL, quotes, deep values) added, read and popped." },
  { key: "extreme-items", title: "Extreme items", what: "Deep nesting, 5 MB strings, 20,000 keys, `__proto__` keys, marker-looking objects, bytes." },
  { key: "unstorable", title: "Unstorable values", what: "BigInt, cycles, functions, symbols, class instances, non-objects and items over `maxItemBytes`: `InvalidItemError`, nothing stored, the session still usable." },
  { key: "session-ids", title: "Hostile session ids", what: "Empty, too long, NUL, lone surrogates (rejected with `InvalidArgumentError` everywhere), a trailing space (rejected on MariaDB, whose PAD SPACE collations would merge \"a\" and \"a \"); SQL-looking, wildcards, unicode, case, leading-space and trailing-tab variants (accepted, and every one a session of its own); non-string ids." },
  { key: "table-names", title: "Hostile table names", what: "Names that are not plain identifiers of at most 48 characters: `InvalidArgumentError` when the layer is built, no table created." },
  { key: "corrupt-rows", title: "Corrupt stored rows", what: "Bad JSON, scalars, arrays, truncated and empty text inserted with raw SQL between valid items: skipped by reads and limits, deleted by pops on the way down, counted in `agent_session_corrupt_rows_total`." },
  { key: "observability", title: "Spans and counters", what: "A recording tracer and logger around add / get / pop / clear and a failing add." },
  { key: "unreachable", title: "Unreachable server", what: "`SqlSession.fromUrl` with a password to a closed port." }
]

const cell = (v: unknown) => String(v).replace(/\|/g, "\\|").replace(/\n/g, " ")

const table = (results: ReadonlyArray<SectionResult>): string => {
  const keys: Array<string> = []
  for (const r of results) for (const k of Object.keys(r.figures)) if (!keys.includes(k)) keys.push(k)
  const header = `| | ${results.map((r) => r.dialect).join(" | ")} |\n|---|${results.map(() => "---").join("|")}|`
  const rows = keys.map((k) => `| ${cell(k)} | ${results.map((r) => cell(r.figures[k] ?? "")).join(" | ")} |`)
  const verdict = `| **result** | ${results.map((r) => (r.passed === true ? "passed" : r.passed === false ? "**FAILED**" : "not finished")).join(" | ")} |`
  return [header, ...rows, verdict].join("\n")
}

const num = (v: unknown) => (typeof v === "number" ? v : 0)

export const writeReport = (dir: string, out: string, meta: { readonly durationSeconds?: number } = {}): void => {
  const results = readResults(dir)
  if (results.length === 0) return
  const order = ["SQLite", "PostgreSQL", "MariaDB/MySQL"]
  const bySection = (key: string) =>
    results.filter((r) => r.section === key).sort((a, b) => order.indexOf(a.dialect) - order.indexOf(b.dialect))
  const all = (key: string, figure: string) => bySection(key).reduce((n, r) => n + num(r.figures[figure]), 0)
  const lost = results.reduce((n, r) => n + num(r.figures["items lost"]), 0)
  const failedTests = results.filter((r) => r.section === "failed-test")
  const failed = results.filter((r) => r.section !== "failed-test" && r.passed !== true)
  const ops = all("load", "operations") + all("contended", "operations") + all("killed-connections", "operations") +
    all("interruption", "operations")
  const lines: Array<string> = []
  lines.push("# Reliability report", "")
  lines.push(
    `Generated by \`npm run test:reliability\` on ${new Date().toISOString()} (${Os.cpus().length} cores, Node ${process.version}` +
      `${meta.durationSeconds ? `, ${Math.round(meta.durationSeconds)} s` : ""}). Databases: PostgreSQL, MariaDB and SQLite on this machine, over loopback.`,
    ""
  )
  lines.push("## Summary", "")
  lines.push(`- **Items lost: ${lost}.** Acknowledged items missing from the database, summed over every check below.`)
  lines.push(`- Operations run under load and faults: ${ops.toLocaleString("en-US")}.`)
  lines.push(
    `- Load: ${bySection("load").map((r) => `${r.dialect} ${r.figures.operations} ops on ${r.figures.sessions} sessions with ${r.figures.concurrency} fibers, ${r.figures.errors} errors, p99 ${r.figures["p99 ms"]} ms`).join("; ")}.`
  )
  lines.push(
    `- Faults injected: ${all("killed-connections", "connections killed")} connections killed, ` +
      `${bySection("restart").length} server restarts, ${all("interruption", "mutations interrupted")} mutations interrupted, ` +
      `${all("retries", "transient failures injected")} transient failures injected, ` +
      `${bySection("sqlite-processes").map((r) => r.figures.processes).join("")} processes on one SQLite file.`
  )
  lines.push(
    `- Bad inputs tried: ${all("round-trips", "items round-tripped")} generated items, ${all("extreme-items", "items tried")} extreme items, ` +
      `${all("unstorable", "values tried")} unstorable values, ${all("session-ids", "ids tried")} session ids, ` +
      `${all("table-names", "names tried (x3 options)") * 3} table names, ${all("corrupt-rows", "corrupt rows inserted")} corrupt rows (counts over all dialects).`
  )
  lines.push(
    failed.length === 0 && failedTests.length === 0
      ? "- Every check passed."
      : `- **Failed: ${[
        ...failed.map((r) => `${r.section} on ${r.dialect}`),
        ...failedTests.map((r) => `"${r.figures.test}" on ${r.dialect}`)
      ].join(", ")}.** See the notes below.`
  )
  lines.push("")
  for (const section of sections) {
    const rs = bySection(section.key)
    if (rs.length === 0) continue
    lines.push(`## ${section.title}`, "", section.what, "", table(rs), "")
    const notes = rs.flatMap((r) => (r.notes ?? []).map((n) => `- ${r.dialect}: ${n.slice(0, 300)}`))
    if (notes.length > 0) lines.push("Notes:", "", ...notes, "")
  }
  lines.push("## How to reproduce", "", "```sh", "npm run test:reliability", "```", "")
  lines.push(
    "Scale can be changed with `RELIABILITY_SESSIONS`, `RELIABILITY_CONCURRENCY`, `RELIABILITY_OPERATIONS`, " +
      "`RELIABILITY_KILL_OPERATIONS`, `RELIABILITY_PROPERTY_RUNS` and `RELIABILITY_POOL_SIZE` (pool size per store).",
    ""
  )
  Fs.writeFileSync(out, lines.join("\n"))
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!) && process.argv[2]) {
  const seconds = Number(process.argv[4])
  writeReport(process.argv[2], process.argv[3] ?? "reliability/report.md", Number.isFinite(seconds) ? { durationSeconds: seconds } : {})
}
