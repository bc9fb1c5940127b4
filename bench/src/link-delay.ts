/**
 * Link-delay mode (`--link-delay=1ms`): every PostgreSQL and MySQL connection of the run, ours,
 * the floors', the Python pattern's and every peer's, goes through link-proxy.ts, which adds the
 * delay each way. The proxy runs in a child process, so its CPU is not the client's. The added
 * delay is measured, not assumed: `SELECT 1` round trips with and without the proxy.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { loadMysql, loadPg } from "./drivers.js"
import type { ProxyReply, ProxyRequest, Upstream } from "./link-proxy.js"
import { summarize } from "./measure.js"

/**
 * "1ms", "1", "2.5ms" → milliseconds; undefined for an unreadable value or one below 1 ms, the
 * resolution of Node's timers (a shorter delay would silently become 1 ms).
 */
export const parseDelay = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const match = /^(\d+(?:\.\d+)?)\s*(ms)?$/.exec(text.trim())
  const value = match === null ? Number.NaN : Number(match[1])
  return Number.isFinite(value) && value >= 1 && value <= 1_000 ? value : undefined
}

export const upstreamOf = (url: string): Upstream => {
  const parsed = new URL(url)
  const fallback = parsed.protocol.startsWith("postgres") ? 5432 : 3306
  return { host: parsed.hostname === "localhost" || parsed.hostname === "" ? "127.0.0.1" : parsed.hostname, port: Number(parsed.port || fallback) }
}

/** The same URL, pointed at the proxy's local port. */
export const throughProxy = (url: string, port: number): string => {
  const parsed = new URL(url)
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return parsed.toString()
}

export interface RunningProxy {
  readonly ports: ReadonlyArray<number>
  readonly stop: () => void
}

/** Forks link-proxy.ts and waits for its ports. */
export const startProxyProcess = (upstreams: ReadonlyArray<Upstream>, delayMs: number): Promise<RunningProxy> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./link-proxy.ts", import.meta.url)), [], {
      execArgv: process.execArgv,
      env: { ...process.env, BENCH_LINK_PROXY_CHILD: "1" },
      stdio: ["ignore", "ignore", "inherit", "ipc"]
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error("the link-delay proxy did not start within 20 s"))
    }, 20_000)
    child.once("message", (reply: ProxyReply) => {
      clearTimeout(timer)
      if ("error" in reply) {
        child.kill("SIGKILL")
        reject(new Error(`link-delay proxy: ${reply.error}`))
      } else {
        resolve({ ports: reply.ports, stop: () => child.kill("SIGTERM") })
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the link-delay proxy exited (code ${code})`))
    })
    child.send({ upstreams, delayMs } satisfies ProxyRequest)
  })

export interface RoundTrip {
  readonly dialect: "pg" | "mysql"
  /** p50 of `SELECT 1` on one warm connection, directly and through the proxy (ms). */
  readonly directP50Ms: number
  readonly proxiedP50Ms: number
  /** proxied − direct: what the link adds to one round trip (both directions). */
  readonly addedMs: number
  readonly samples: number
}

interface Pinger {
  readonly ping: () => Promise<unknown>
  readonly end: () => Promise<void>
}

const pinger = (dialect: "pg" | "mysql", url: string): Pinger => {
  if (dialect === "pg") {
    const pool = new (loadPg().Pool)({ connectionString: url, max: 1 })
    return { ping: () => pool.query("SELECT 1"), end: () => pool.end() }
  }
  const pool = loadMysql().createPool({ uri: url, connectionLimit: 1 })
  return { ping: () => pool.query("SELECT 1"), end: () => pool.end() }
}

/**
 * `SELECT 1` round trips on one warm connection each, directly and through the proxy, in
 * alternating blocks of ten so that other load on the machine falls on both alike.
 */
export const measureRoundTrip = async (
  dialect: "pg" | "mysql",
  directUrl: string,
  proxiedUrl: string,
  samples: number
): Promise<RoundTrip> => {
  const sides = [pinger(dialect, directUrl), pinger(dialect, proxiedUrl)] as const
  const latencies: [Array<number>, Array<number>] = [[], []]
  try {
    for (const side of sides) for (let i = 0; i < 10; i++) await side.ping()
    for (let block = 0; block < Math.ceil(samples / 10); block++) {
      for (const k of [0, 1] as const) {
        for (let i = 0; i < 10; i++) {
          const start = performance.now()
          await sides[k].ping()
          latencies[k].push(performance.now() - start)
        }
      }
    }
  } finally {
    for (const side of sides) await side.end().catch(() => undefined)
  }
  const directP50Ms = summarize(latencies[0], 1).p50Ms
  const proxiedP50Ms = summarize(latencies[1], 1).p50Ms
  return { dialect, directP50Ms, proxiedP50Ms, addedMs: proxiedP50Ms - directP50Ms, samples: latencies[0].length }
}
