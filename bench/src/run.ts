/**
 * `npm run bench [-- --quick | --full | --smoke] [--only=a,b] [--dialects=pg,sqlite] [--no-peers] [--out=dir]
 *   [--no-batching] [--no-catalogue] [--same-database] [--link-delay=1ms]`
 *
 * Measures our store against the raw-driver floor, the batched floor, the Python SDK's
 * statement pattern and the peers, on local PostgreSQL, MariaDB/MySQL and SQLite, and
 * writes results.md, results.json and SVG charts. With `--link-delay`, every PostgreSQL
 * and MySQL connection goes through a proxy that adds that delay each way (results go to
 * bench/link-delay/ unless `--out` says otherwise).
 */
import { fork, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CATEGORY_ORDER, coreTargets, peerCatalog } from "./catalog.js"
import { packageVersionIn, rootPackageVersion } from "./drivers.js"
import {
  DEFAULT_MYSQL_URL,
  DEFAULT_PG_URL,
  dropBenchDatabases,
  freshDir,
  machineInfo,
  type MachineInfo,
  prepareMysql,
  preparePg,
  redactUrl,
  type ServerInfo
} from "./env.js"
import { type Mode, MODES } from "./modes.js"
import { withHangGuard } from "./measure.js"
import { type BatchingPoint, batchingTargets, runBatching } from "./batching.js"
import { type CatalogueResult, runCatalogue } from "./catalogue.js"
import { measureRoundTrip, parseDelay, type RoundTrip, startProxyProcess, throughProxy, upstreamOf } from "./link-delay.js"
import { type PairedPoint, runPaired } from "./paired.js"
import { runGrowth, runScaling } from "./scaling.js"
import type { WorkerMessage, WorkerRequest } from "./peer-worker.js"
import { type Log, runOperations, verifyStore } from "./scenario.js"
import { type Databases, type Dialect, OP_NAMES, type OpResult, type ScalingPoint, type SessionsPoint, type TargetSpec } from "./types.js"

export const BENCH_DIR = fileURLToPath(new URL("../", import.meta.url))
const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url))

export interface TargetRecord {
  readonly id: string
  readonly label: string
  readonly dialect: Dialect
  readonly category: TargetSpec["category"]
  readonly notes: ReadonlyArray<string>
  readonly unavailable?: string | undefined
}

export interface Results {
  readonly meta: {
    readonly date: string
    readonly mode: Mode["name"]
    readonly settings: Mode
    readonly durationSeconds: number
    readonly machine: MachineInfo
    readonly servers: Record<"pg" | "mysql" | "sqlite", string>
    readonly versions: Record<string, string>
    readonly poolSize: number
    /** Set in link-delay mode: the delay added each way, and the measured `SELECT 1` round trips. */
    readonly linkDelay?: { readonly delayMs: number; readonly roundTrips: ReadonlyArray<RoundTrip> } | undefined
    /** Whether the library under test knows the `batching` store option (older code ignores it). */
    readonly batchingOption?: "supported" | "ignored" | undefined
  }
  readonly targets: ReadonlyArray<TargetRecord>
  readonly operations: ReadonlyArray<OpResult>
  readonly scaling: ReadonlyArray<ScalingPoint>
  readonly growth: ReadonlyArray<SessionsPoint>
  /** Sequential latency of the floor, ours and the Python pattern in alternating blocks (see paired.ts). */
  readonly paired: ReadonlyArray<PairedPoint>
  /** The natural-batching set (batching.ts), and the stores it ran. */
  readonly batching?: ReadonlyArray<BatchingPoint> | undefined
  readonly batchingTargets?: ReadonlyArray<TargetRecord> | undefined
  /** The catalogue phase on PostgreSQL (catalogue.ts): listing pages and pruning under load. */
  readonly catalogue?: CatalogueResult | undefined
  /** Cells outside the operations table that failed (growth and scaling), with the reason. */
  readonly failures: ReadonlyArray<{ readonly target: string; readonly what: string; readonly reason: string }>
}

export interface RunOptions {
  readonly mode: Mode["name"]
  /** Dialects to run; "memory" is the in-memory reference. Default: all. */
  readonly dialects?: ReadonlyArray<Dialect> | undefined
  /** Keep only targets whose id contains one of these strings. */
  readonly only?: ReadonlyArray<string> | undefined
  readonly peers?: boolean | undefined
  readonly scaling?: boolean | undefined
  readonly growth?: boolean | undefined
  /** The natural-batching scenario set. Default: on. */
  readonly batching?: boolean | undefined
  /** The catalogue phase (PostgreSQL; `--only=catalogue` runs it alone). Default: on. */
  readonly catalogue?: boolean | undefined
  /** Run in the given databases instead of creating and dropping `agent_sessions_bench` on each server. */
  readonly sameDatabase?: boolean | undefined
  /** Milliseconds added each way to every PostgreSQL and MySQL connection (link-delay mode). */
  readonly linkDelayMs?: number | undefined
  /** Where results.md, results.json and charts/ go. Default: bench/. */
  readonly outDir?: string | undefined
  readonly charts?: boolean | undefined
  readonly pgUrl?: string | undefined
  readonly mysqlUrl?: string | undefined
  readonly log?: Log | undefined
  /** Also write the README's benchmark section here. */
  readonly readme?: string | undefined
}

const errorText = (error: unknown) => String(error instanceof Error ? error.message : error).split("\n")[0]!.slice(0, 240)

const loadPeers = async (log: Log): Promise<{ specs: ReadonlyArray<TargetSpec>; failure?: string }> => {
  if (!existsSync(join(BENCH_DIR, "node_modules"))) {
    return { specs: [], failure: "bench/node_modules is missing (npm ci --prefix bench failed or was skipped)" }
  }
  try {
    const path = "./peers/index.js"
    const module = (await import(path)) as { peerTargets: ReadonlyArray<TargetSpec> }
    return { specs: module.peerTargets }
  } catch (error) {
    log(`peers could not be loaded: ${errorText(error)}`)
    return { specs: [], failure: `could not be loaded: ${errorText(error)}` }
  }
}

const collectVersions = (): Record<string, string> => {
  const versions: Record<string, string> = {}
  const rootPkg = JSON.parse(readFileSync(join(ROOT_DIR, "package.json"), "utf8")) as { name: string; version: string }
  versions[`${rootPkg.name} (this library)`] = rootPkg.version
  for (const name of ["effect", "@effect/sql", "@effect/sql-pg", "@effect/sql-mysql2", "@effect/sql-sqlite-node", "pg", "mysql2", "better-sqlite3", "@openai/agents-core"]) {
    const v = rootPackageVersion(name)
    if (v !== undefined) versions[name] = v
  }
  const benchDir = new URL("../", import.meta.url)
  for (const name of ["@mastra/core", "@mastra/memory", "@mastra/pg", "@mastra/libsql", "@langchain/community", "@langchain/core", "@voltagent/core", "@voltagent/postgres", "@voltagent/libsql", "@libsql/client", "vega", "vega-lite"]) {
    const v = packageVersionIn(benchDir, name)
    if (v !== undefined) versions[name] = v
  }
  const benchPg = packageVersionIn(benchDir, "pg")
  if (benchPg !== undefined) versions["pg (bench/, used by LangChain)"] = benchPg
  return versions
}

/**
 * Runs a peer in a child process (see peer-worker.ts) with a time limit; whatever
 * it measured before the limit is kept.
 */
const runPeerIsolated = (
  spec: TargetSpec,
  db: Databases,
  mode: Mode,
  runId: string,
  log: Log
): Promise<{ results: Array<OpResult>; unavailable?: string; stopped?: string }> =>
  new Promise((resolvePromise) => {
    const results: Array<OpResult> = []
    let unavailable: string | undefined
    let settled = false
    const child = fork(fileURLToPath(new URL("./peer-worker.ts", import.meta.url)), [], {
      execArgv: process.execArgv,
      stdio: ["ignore", "ignore", "pipe", "ipc"]
    })
    child.stderr?.on("data", () => undefined)
    const finish = (stopped?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolvePromise({ results, ...(unavailable !== undefined ? { unavailable } : {}), ...(stopped !== undefined ? { stopped } : {}) })
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      finish(`stopped after the ${Math.round(mode.peerTimeLimitMs / 1000)} s limit for one store (it blocked)`)
    }, mode.peerTimeLimitMs)
    child.on("message", (message: WorkerMessage) => {
      if (message.type === "log") log(message.line)
      else if (message.type === "result") results.push(message.result)
      else if (message.type === "unavailable") unavailable = message.reason
      else if (message.type === "done") finish()
    })
    child.on("exit", () => finish())
    child.send({ targetId: spec.id, db, mode: mode.name, runId } satisfies WorkerRequest)
  })

const SQL_DIALECTS = ["pg", "mysql", "sqlite"] as const

export const runBenchmark = async (options: RunOptions): Promise<Results> => {
  const started = Date.now()
  const loadAtStart = loadavg()[0] ?? 0
  const mode = MODES[options.mode]
  const log: Log = options.log ?? ((line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`))
  const dialects = options.dialects ?? ["pg", "mysql", "sqlite", "memory"]
  const wanted = (id: string) => options.only === undefined || options.only.some((part) => id.includes(part))
  const outDir = options.outDir ?? (options.linkDelayMs !== undefined ? join(BENCH_DIR, "link-delay") : BENCH_DIR)
  const runId = `b${Date.now().toString(36)}`
  const pgBase = options.pgUrl ?? process.env["BENCH_POSTGRES_URL"] ?? process.env["TEST_POSTGRES_URL"] ?? DEFAULT_PG_URL
  const mysqlBase = options.mysqlUrl ?? process.env["BENCH_MYSQL_URL"] ?? process.env["TEST_MYSQL_URL"] ?? DEFAULT_MYSQL_URL

  log(`mode ${mode.name}: ${mode.timeBudgetMs} ms per cell, concurrency ${mode.concurrencies.join(" and ")}; load average ${loadAtStart.toFixed(1)}`)
  if (loadAtStart > 1.5) log("warning: the machine is busy; figures will be noisy (see the load average in results.md)")
  const sqliteDir = freshDir(join(outDir, ".tmp"))
  const servers: Record<"pg" | "mysql" | "sqlite", ServerInfo> = {
    pg: dialects.includes("pg") ? await preparePg(pgBase, options.sameDatabase !== true) : { url: pgBase, unavailable: "not selected" },
    mysql: dialects.includes("mysql") ? await prepareMysql(mysqlBase, options.sameDatabase !== true) : { url: mysqlBase, unavailable: "not selected" },
    sqlite: { url: sqliteDir, version: `SQLite (better-sqlite3 ${rootPackageVersion("better-sqlite3") ?? "?"}), WAL, file` }
  }
  for (const [name, info] of Object.entries(servers)) {
    const where = name === "sqlite" ? info.url : redactUrl(info.url)
    log(`${name}: ${info.unavailable === undefined ? `${info.version} at ${where}` : `unavailable (${info.unavailable})`}`)
  }
  let db: Databases = { pgUrl: servers.pg.url, mysqlUrl: servers.mysql.url, sqliteDir, tablePrefix: "bench_" }
  let linkDelay: Results["meta"]["linkDelay"]
  let stopProxy = () => undefined as void
  if (options.linkDelayMs !== undefined) {
    const routed = (["pg", "mysql"] as const).filter((d) => servers[d].unavailable === undefined)
    const proxy = await startProxyProcess(routed.map((d) => upstreamOf(servers[d].url)), options.linkDelayMs)
    stopProxy = proxy.stop
    const proxied = { pg: db.pgUrl, mysql: db.mysqlUrl }
    routed.forEach((d, i) => (proxied[d] = throughProxy(servers[d].url, proxy.ports[i]!)))
    const roundTrips: Array<RoundTrip> = []
    for (const d of routed) {
      const trip = await measureRoundTrip(d, servers[d].url, proxied[d], mode.name === "smoke" ? 20 : 200)
      roundTrips.push(trip)
      log(`link delay ${options.linkDelayMs} ms each way on ${d}: SELECT 1 p50 ${trip.directP50Ms.toFixed(3)} ms direct, ${
        trip.proxiedP50Ms.toFixed(3)
      } ms through the proxy (+${trip.addedMs.toFixed(3)} ms per round trip)`)
    }
    linkDelay = { delayMs: options.linkDelayMs, roundTrips }
    db = { ...db, pgUrl: proxied.pg, mysqlUrl: proxied.mysql }
  }

  const records: Array<TargetRecord> = []
  const operations: Array<OpResult> = []
  const scaling: Array<ScalingPoint> = []
  const growth: Array<SessionsPoint> = []
  const failures: Array<{ target: string; what: string; reason: string }> = []
  const paired: Array<PairedPoint> = []
  const batching: Array<BatchingPoint> = []
  const batchingRecords: Array<TargetRecord> = []
  let catalogue: CatalogueResult | undefined

  const peers = options.peers === false ? { specs: [] as ReadonlyArray<TargetSpec>, failure: "peers not selected" } : await loadPeers(log)
  const specs = [...coreTargets, ...peers.specs].filter((spec) => dialects.includes(spec.dialect) && wanted(spec.id))
  if (options.peers !== false && peers.failure !== undefined) {
    for (const entry of peerCatalog) {
      if (dialects.includes(entry.dialect) && wanted(entry.id)) records.push({ ...entry, notes: [], unavailable: peers.failure })
    }
  }
  specs.sort((a, b) => dialects.indexOf(a.dialect) - dialects.indexOf(b.dialect) || CATEGORY_ORDER[a.category] - CATEGORY_ORDER[b.category])

  for (const dialect of dialects) {
    const serverDown = dialect === "pg" || dialect === "mysql" ? servers[dialect].unavailable : undefined
    for (const spec of specs.filter((s) => s.dialect === dialect)) {
      const record = { id: spec.id, label: spec.label, dialect: spec.dialect, category: spec.category, notes: spec.notes ?? [] }
      if (serverDown !== undefined) {
        records.push({ ...record, unavailable: `database unavailable: ${serverDown}` })
        continue
      }
      if (spec.category === "peer" && !(mode.peerDialects as ReadonlyArray<string>).includes(spec.dialect)) {
        records.push({ ...record, unavailable: `not run in ${mode.name} mode (measured in full mode)` })
        continue
      }
      log(`${spec.label} [${spec.id}]`)
      if (spec.category === "peer") {
        const outcome = await runPeerIsolated(spec, db, mode, runId, log)
        operations.push(...outcome.results)
        if (outcome.unavailable !== undefined && outcome.results.length === 0) {
          log(`  not measured: ${outcome.unavailable}`)
          records.push({ ...record, unavailable: outcome.unavailable })
        } else {
          records.push(record)
        }
        if (outcome.stopped !== undefined) {
          log(`  ${outcome.stopped}`)
          const done = new Set(outcome.results.map((o) => `${o.op}|${o.concurrency}`))
          for (const op of OP_NAMES) {
            for (const concurrency of mode.concurrencies) {
              if (!done.has(`${op}|${concurrency}`)) operations.push({ target: spec.id, op, concurrency, skipped: `not run: ${outcome.stopped}` })
            }
          }
          failures.push({ target: spec.id, what: "whole run", reason: outcome.stopped })
        }
        continue
      }
      let store
      try {
        store = await spec.open(db)
        await verifyStore(store, `${runId}-${spec.name}-verify`)
      } catch (error) {
        log(`  not measured: ${errorText(error)}`)
        records.push({ ...record, unavailable: errorText(error) })
        await store?.close().catch(() => undefined)
        continue
      }
      try {
        operations.push(...(await runOperations(spec, store, mode, runId, log)))
        if (options.growth !== false && spec.category !== "reference") {
          growth.push(...(await runGrowth(spec, store, mode, runId, log, (what, reason) => failures.push({ target: spec.id, what, reason }))))
        }
        records.push(record)
      } catch (error) {
        log(`  failed: ${errorText(error)}`)
        records.push({ ...record, unavailable: `failed while measuring: ${errorText(error)}` })
      } finally {
        await withHangGuard(store.close(), mode.hangAfterMs).catch((error) => log(`  close failed: ${errorText(error)}`))
      }
    }
    if ((SQL_DIALECTS as ReadonlyArray<string>).includes(dialect) && serverDown === undefined) {
      const pairTargets = specs.filter((s) => s.dialect === dialect && s.category !== "peer" && s.category !== "reference")
      if (pairTargets.length > 1) {
        log(`paired latency on ${dialect}: ${pairTargets.map((s) => s.name).join(", ")} in alternating blocks`)
        try {
          paired.push(...(await runPaired(pairTargets, { ...db, tablePrefix: "bench_pair_" }, mode, runId, log)))
        } catch (error) {
          log(`  paired run failed: ${errorText(error)}`)
          failures.push({ target: dialect, what: "paired latency", reason: errorText(error) })
        }
      }
    }
    if (options.batching !== false && (SQL_DIALECTS as ReadonlyArray<string>).includes(dialect) && serverDown === undefined) {
      const set = batchingTargets(dialect as (typeof SQL_DIALECTS)[number]).filter((s) => wanted(s.id))
      if (set.length > 0) {
        log(`natural batching on ${dialect}: ${set.map((s) => s.name).join(", ")}, interleaved in ${mode.batching.rounds} round(s)`)
        const outcome = await runBatching(dialect as (typeof SQL_DIALECTS)[number], set, { ...db, tablePrefix: "bench_nb_" }, mode, runId, log)
        batching.push(...outcome.points)
        for (const spec of set) {
          const down = outcome.unavailable.find((u) => u.target === spec.id)
          batchingRecords.push({ id: spec.id, label: spec.label, dialect: spec.dialect, category: spec.category, notes: spec.notes ?? [], ...(down ? { unavailable: down.reason } : {}) })
        }
      }
    }
    if (options.scaling !== false && (SQL_DIALECTS as ReadonlyArray<string>).includes(dialect) && serverDown === undefined) {
      const scaleTargets = specs.filter((s) => s.dialect === dialect && (s.category === "ours" || s.category === "floor"))
      if (scaleTargets.length > 0) {
        log(`scaling on ${dialect}: getItems(20) with ${mode.scaling.sizes.join(", ")} items, ${mode.scaling.totalRows.toLocaleString("en-US")} rows in the table`)
        try {
          scaling.push(...(await runScaling(dialect as (typeof SQL_DIALECTS)[number], { ...db, tablePrefix: "bench_scale_" }, mode, scaleTargets, log)))
        } catch (error) {
          log(`  scaling failed: ${errorText(error)}`)
          failures.push({ target: dialect, what: "scaling", reason: errorText(error) })
        }
      }
    }
    if (options.catalogue !== false && dialect === "pg" && serverDown === undefined && wanted("pg/catalogue")) {
      log(`catalogue on pg: ${mode.catalogue.sessions.toLocaleString("en-US")} sessions, ${mode.catalogue.items.toLocaleString("en-US")} items, listing and pruning`)
      try {
        catalogue = await runCatalogue({ ...db, tablePrefix: "bench_cat_" }, mode, runId, log)
      } catch (error) {
        log(`  catalogue failed: ${errorText(error)}`)
        failures.push({ target: "pg/catalogue", what: "catalogue", reason: errorText(error) })
      }
    }
  }

  stopProxy()
  await dropBenchDatabases(
    servers.pg.unavailable === undefined && servers.pg.url !== pgBase ? pgBase : undefined,
    servers.mysql.unavailable === undefined && servers.mysql.url !== mysqlBase ? mysqlBase : undefined
  ).catch(() => undefined)
  rmSync(sqliteDir, { recursive: true, force: true })

  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      mode: mode.name,
      settings: mode,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: machineInfo(loadAtStart),
      servers: {
        pg: servers.pg.version ?? `unavailable: ${servers.pg.unavailable}`,
        mysql: servers.mysql.version ?? `unavailable: ${servers.mysql.unavailable}`,
        sqlite: servers.sqlite.version ?? "?"
      },
      versions: collectVersions(),
      poolSize: 10,
      ...(linkDelay !== undefined ? { linkDelay } : {}),
      batchingOption: await batchingOptionSupport()
    },
    targets: records,
    operations,
    scaling,
    growth,
    paired,
    batching,
    batchingTargets: batchingRecords,
    ...(catalogue !== undefined ? { catalogue } : {}),
    failures
  }

  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`)
  const { renderMarkdown } = await import("./report.js")
  let charts: ReadonlyArray<string> = []
  // A run of the catalogue phase alone has nothing to chart.
  if (options.charts !== false && operations.length + batching.length + scaling.length > 0) {
    try {
      const path = "./charts.js"
      const module = (await import(path)) as { renderCharts: (r: Results, dir: string) => Promise<ReadonlyArray<string>> }
      charts = await module.renderCharts(results, join(outDir, "charts"))
    } catch (error) {
      log(`charts not rendered: ${errorText(error)}`)
    }
  }
  writeFileSync(join(outDir, "results.md"), renderMarkdown(results, charts))
  if (options.readme !== undefined) writeFileSync(options.readme, (await import("./report.js")).renderReadmeSection(results))
  log(`wrote ${join(outDir, "results.md")}, results.json${charts.length > 0 ? ` and ${charts.length} charts` : ""} in ${results.meta.durationSeconds} s`)
  return results
}

/** Whether the library exports natural batching's default batch size, i.e. knows the `batching` option. */
const batchingOptionSupport = async (): Promise<"supported" | "ignored"> => {
  const lib = (await import("../../src/index.js")) as { SqlSessionStore: Record<string, unknown> }
  return "DEFAULT_MAX_BATCH_SIZE" in lib.SqlSessionStore ? "supported" : "ignored"
}

const parseArgs = (argv: ReadonlyArray<string>): RunOptions & { install: boolean } => {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const list = (name: string) => value(name)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const mode = argv.includes("--smoke") ? "smoke" : argv.includes("--quick") ? "quick" : "full"
  return {
    mode,
    dialects: list("dialects") as Array<Dialect> | undefined,
    only: list("only"),
    peers: !argv.includes("--no-peers"),
    scaling: !argv.includes("--no-scaling"),
    growth: !argv.includes("--no-growth"),
    batching: !argv.includes("--no-batching"),
    catalogue: !argv.includes("--no-catalogue"),
    sameDatabase: argv.includes("--same-database"),
    linkDelayMs: linkDelayArg(value("link-delay")),
    outDir: value("out"),
    readme: value("readme"),
    install: !argv.includes("--no-install")
  }
}

const linkDelayArg = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const ms = parseDelay(text)
  if (ms === undefined) throw new Error(`--link-delay=${text}: expected a delay from 1ms to 1000ms, such as 1ms`)
  return ms
}

/** Installs bench/'s own dependencies (the peers and the chart renderer) when they are missing. */
const ensureInstalled = (log: Log) => {
  if (existsSync(join(BENCH_DIR, "node_modules"))) return
  log("installing bench/ dependencies: npm ci --prefix bench")
  const result = spawnSync("npm", ["ci", "--prefix", BENCH_DIR, "--no-audit", "--no-fund"], { stdio: "inherit" })
  if (result.status !== 0) log("npm ci failed: peers and charts will be reported as unavailable")
}

/** Renders results.md and the charts again from an existing results.json. */
export const renderReport = async (outDir: string, readme?: string): Promise<void> => {
  const results = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")) as Results
  const { renderMarkdown, renderReadmeSection } = await import("./report.js")
  if (readme !== undefined) writeFileSync(readme, renderReadmeSection(results))
  const path = "./charts.js"
  const module = (await import(path)) as { renderCharts: (r: Results, dir: string) => Promise<ReadonlyArray<string>> }
  const charts = await module.renderCharts(results, join(outDir, "charts"))
  writeFileSync(join(outDir, "results.md"), renderMarkdown(results, charts))
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])

const exitWith = (label: string) => (error: unknown) => {
  process.stderr.write(`${label}: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
}

if (isMain) {
  // A peer's pool that loses a connection must not end the whole run.
  process.on("uncaughtException", (error) => process.stderr.write(`uncaught (ignored): ${errorText(error)}\n`))
  process.on("unhandledRejection", (error) => process.stderr.write(`unhandled rejection (ignored): ${errorText(error)}\n`))
  const options = parseArgs(process.argv.slice(2))
  if (process.argv.includes("--report-only")) {
    renderReport(options.outDir ?? BENCH_DIR, options.readme).then(() => process.exit(0), exitWith("report failed"))
  } else {
    if (options.install) ensureInstalled((line) => process.stderr.write(`${line}\n`))
    runBenchmark(options).then(() => process.exit(0), exitWith("bench failed"))
  }
}
