/**
 * SVG charts rendered headless by Vega-Lite + Vega (installed in bench/):
 * latency against history length, throughput per store, and append throughput
 * against the number of sessions.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { BATCHING_CELLS } from "./batching.js"
import type { Results } from "./run.js"
import { OP_LABELS } from "./types.js"

const DIALECT_NAME: Record<string, string> = { pg: "PostgreSQL", mysql: "MariaDB", sqlite: "SQLite", memory: "in memory" }

/** One name per store across databases, so a store keeps its colour in every panel. */
const STORE_NAME: Record<string, string> = {
  floor: "raw driver (floor)",
  "batched-floor": "raw driver, batched (batched floor)",
  "batched-floor-pool": "raw driver, batched, a slot per connection",
  "ours-effect-batched": "ours: Effect, batching: true",
  "ours-effect-unbatched": "ours: Effect, batching: false",
  "ours-promise-batched": "ours: Promise, batching: true",
  "ours-promise-unbatched": "ours: Promise, batching: false",
  "ours-effect": "ours: Effect SessionStore",
  "ours-promise": "ours: Promise SqlSession",
  python: "Python SQLAlchemySession pattern",
  mastra: "Mastra Memory",
  langchain: "LangChain PostgresChatMessageHistory",
  voltagent: "VoltAgent Memory",
  "memory-session": "MemorySession (in memory)"
}
const storeName = (id: string) => STORE_NAME[id.split("/")[1] ?? ""] ?? id

const render = async (spec: Record<string, unknown>): Promise<string> => {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")])
  const compiled = vegaLite.compile(spec as never).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

const base = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  background: "white",
  config: { font: "sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelLimit: 360 } }
}

/** A line per store against a log-scaled x axis, one panel per database. */
const linesPerDatabase = (options: {
  readonly title: string
  readonly values: ReadonlyArray<Record<string, unknown>>
  readonly x: { readonly field: string; readonly title: string }
  readonly y: Record<string, unknown>
  readonly tooltip?: ReadonlyArray<{ readonly field: string }>
}) =>
  render({
    ...base,
    title: options.title,
    data: { values: options.values },
    facet: { column: { field: "database", type: "nominal", title: null } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 260,
      height: 220,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: options.x.field, type: "quantitative", scale: { type: "log" }, title: options.x.title },
        y: { type: "quantitative", ...options.y },
        color: { field: "store", type: "nominal", title: "store", legend: { orient: "bottom", columns: 2 } },
        ...(options.tooltip === undefined ? {} : { tooltip: options.tooltip })
      }
    }
  })

export const renderCharts = async (r: Results, dir: string): Promise<ReadonlyArray<string>> => {
  mkdirSync(dir, { recursive: true })
  const label = storeName
  const written: Array<string> = []

  if (r.scaling.length > 0) {
    const values = r.scaling.map((p) => ({
      store: label(p.target),
      database: DIALECT_NAME[p.dialect],
      items: p.historyLength,
      p50: p.stats.p50Ms,
      p99: p.stats.p99Ms
    }))
    const svg = await linesPerDatabase({
      title: `getItems(20) latency against history length (${r.meta.settings.scaling.totalRows.toLocaleString("en-US")} rows in the table, ${r.meta.mode} mode)`,
      values,
      x: { field: "items", title: "items in the session (log)" },
      y: { field: "p50", title: "p50 latency (ms)", scale: { zero: true } },
      tooltip: [{ field: "store" }, { field: "items" }, { field: "p50" }, { field: "p99" }]
    })
    writeFileSync(join(dir, "latency-vs-history.svg"), svg)
    written.push("latency-vs-history.svg")
  }

  const concurrency = Math.max(...r.meta.settings.concurrencies)
  const ops = ["append", "latest20", "turn"] as const
  const bars = r.operations
    .filter((o) => o.concurrency === concurrency && o.stats !== undefined && (ops as ReadonlyArray<string>).includes(o.op))
    .map((o) => {
      const t = r.targets.find((x) => x.id === o.target)
      return {
        store: label(o.target),
        category: t?.category ?? "",
        database: DIALECT_NAME[t?.dialect ?? ""] ?? "",
        operation: OP_LABELS[o.op],
        opsPerSec: Math.round(o.stats!.opsPerSec)
      }
    })
    .filter((b) => b.database !== "in memory")
  if (bars.length > 0) {
    const svg = await render({
      ...base,
      title: `Throughput per store at concurrency ${concurrency} (${r.meta.mode} mode)`,
      data: { values: bars },
      facet: {
        row: { field: "database", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } },
        column: { field: "operation", type: "nominal", title: null, sort: ops.map((o) => OP_LABELS[o]) }
      },
      resolve: { scale: { x: "independent", y: "independent" } },
      spec: {
        width: 220,
        height: { step: 16 },
        mark: "bar",
        encoding: {
          y: { field: "store", type: "nominal", title: null, sort: "-x", axis: { labelLimit: 300 } },
          x: { field: "opsPerSec", type: "quantitative", title: "ops/s" },
          color: {
            field: "category",
            type: "nominal",
            title: "kind",
            scale: { domain: ["floor", "ours", "python", "peer"], range: ["#8c8c8c", "#2f7ed8", "#f28e2b", "#c44e52"] }
          },
          tooltip: [{ field: "store" }, { field: "opsPerSec" }]
        }
      }
    })
    writeFileSync(join(dir, "throughput.svg"), svg)
    written.push("throughput.svg")
  }

  if (r.growth.length > 0) {
    const values = r.growth.map((p) => ({
      store: label(p.target),
      database: DIALECT_NAME[p.dialect],
      sessions: p.sessions,
      opsPerSec: Math.round(p.stats.opsPerSec)
    }))
    const svg = await linesPerDatabase({
      title: `Append throughput at concurrency ${r.growth[0]!.concurrency} against the number of sessions (${r.meta.mode} mode)`,
      values,
      x: { field: "sessions", title: "distinct sessions (log)" },
      y: { field: "opsPerSec", title: "append ops/s" }
    })
    writeFileSync(join(dir, "append-vs-sessions.svg"), svg)
    written.push("append-vs-sessions.svg")
  }
  const batching = (r.batching ?? []).map((p) => ({
    store: label(p.target),
    kind: p.target.endsWith("/floor") ? "floor" : p.target.includes("/batched-floor") ? "batched floor" : p.target.endsWith("-unbatched") ? "ours, batching off" : "ours, batching on",
    database: DIALECT_NAME[p.dialect],
    cell: `${p.op === "append" ? "append 2" : "latest 20"}, c${p.concurrency}`,
    opsPerSec: Math.round(p.stats.opsPerSec),
    cpuUsPerOp: Math.round(p.stats.cpuUsPerOp)
  }))
  if (batching.length > 0) {
    const svg = await render({
      ...base,
      title: `Natural batching: throughput per store, pool of ${r.meta.poolSize} (${r.meta.mode} mode${
        r.meta.linkDelay !== undefined ? `, link delay ${r.meta.linkDelay.delayMs} ms each way` : ""
      })`,
      data: { values: batching },
      facet: {
        row: { field: "database", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } },
        column: { field: "cell", type: "nominal", title: null, sort: BATCHING_CELLS.map(([op, c]) => `${op === "append" ? "append 2" : "latest 20"}, c${c}`) }
      },
      resolve: { scale: { x: "independent" } },
      spec: {
        width: 150,
        height: { step: 14 },
        mark: "bar",
        encoding: {
          // In the order of the set: floor, batched floor, then our variants.
          y: { field: "store", type: "nominal", title: null, sort: null, axis: { labelLimit: 330 } },
          x: { field: "opsPerSec", type: "quantitative", title: "ops/s" },
          color: {
            field: "kind",
            type: "nominal",
            title: "kind",
            scale: {
              domain: ["floor", "batched floor", "ours, batching on", "ours, batching off"],
              range: ["#8c8c8c", "#404040", "#2f7ed8", "#9ec5f0"]
            }
          },
          tooltip: [{ field: "store" }, { field: "opsPerSec" }, { field: "cpuUsPerOp" }]
        }
      }
    })
    writeFileSync(join(dir, "batching.svg"), svg)
    written.push("batching.svg")
  }
  return written
}
