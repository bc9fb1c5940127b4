/**
 * No secret, ever: for a corpus of malformed and unreachable URLs, neither the password nor the
 * URL text appears in any channel an error or a log reaches: `message`, `String(err)`, `stack`,
 * `JSON.stringify`, `util.inspect`, `Cause.pretty`, log output. Through every entry point:
 * `SqlSessionStore.layerFromUrl`, `SqlSession.fromUrl`, `SqlSessionPool.fromUrl`.
 */
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Redacted } from "effect"
import { inspect } from "node:util"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { SessionStore, SqlSession, SqlSessionPool, SqlSessionStore } from "../src/index.js"
import { mysqlUrl, postgresUrl } from "./support/databases.js"
import { startProxy, type TcpProxy } from "./support/tcpProxy.js"

const SECRET = "Hunter2-S3cr3t"

let silent: TcpProxy
beforeAll(async () => {
  silent = await startProxy("silent")
})
afterAll(() => silent.close())

const mysqlHost = new URL(mysqlUrl).host
const pgHost = new URL(postgresUrl).host

/** Each URL carries SECRET somewhere; most are malformed, the rest cannot connect. */
const corpus = (): ReadonlyArray<string> => [
  // malformed: reserved characters in the password, no //, no scheme, bad port, bad encoding, bad brackets
  ...["postgres", "postgresql+asyncpg", "mysql", "mariadb", "mysql+aiomysql"].flatMap((scheme) => [
    `${scheme}://u:${SECRET}/x@h:5432/db`,
    `${scheme}://u:${SECRET}#x@h/db`,
    `${scheme}://u:${SECRET}?x@h/db`,
    `${scheme}:u:${SECRET}@h/db`,
    `${scheme}://u:${SECRET}@h:99999/db`,
    `${scheme}://u:${SECRET}@h:port/db`,
    `${scheme}://u:${SECRET}%zz@h/db`,
    `${scheme}://u:${SECRET}@[::1/db`,
    `${scheme}://u:${SECRET}@::1/db`,
    `${scheme}://u:${SECRET}@h/db?sslmode=sometimes`,
    `${scheme}://u@h/db?password=${SECRET}&ssl=maybe`
  ]),
  `u:${SECRET}@h/db`,
  `//u:${SECRET}@h/db`,
  `oracle://u:${SECRET}@h/db`,
  `sqlite://u:${SECRET}@h/file.db`,
  `sqlite+aiosqlite://u:${SECRET}@/file.db`,
  `sqlite://${SECRET}/file.db`,
  // well-formed, but nothing answers, nothing listens, no such host, TLS refused, bad password
  `postgres://u:${SECRET}@127.0.0.1:${silent.port}/db`,
  `mysql://u:${SECRET}@127.0.0.1:${silent.port}/db`,
  `postgres://u:${SECRET}@127.0.0.1:1/db`,
  `mysql://u:${SECRET}@127.0.0.1:1/db`,
  `postgres://u:${encodeURIComponent(SECRET + "@/")}@no-such-host.invalid/db`,
  `mysql://u:${SECRET}@@no-such-host.invalid/db`,
  `postgres://u@127.0.0.1:1/db?password=${SECRET}`,
  `postgres://root:${SECRET}@${pgHost}/db?sslmode=require`,
  `mysql://root:${SECRET}@${mysqlHost}/db?ssl-mode=REQUIRED`,
  `mysql://root:${SECRET}@${mysqlHost}/db`,
  // TLS file paths are the caller's text too: an unreadable one must not be quoted.
  `postgres://root:${SECRET}@${pgHost}/db?sslmode=verify-full&sslrootcert=/nonexistent/${SECRET}.pem`,
  `postgres://root:${SECRET}@${pgHost}/db?sslmode=require&sslcert=/nonexistent/${SECRET}.crt&sslkey=/nonexistent/${SECRET}.key`,
  `mysql://root:${SECRET}@${mysqlHost}/db?ssl-mode=VERIFY_CA&ssl_ca=/nonexistent/${SECRET}.pem`
]

/** Every channel a user, a log shipper or an error tracker could read an error through. */
const channels = (error: unknown): ReadonlyArray<string> => {
  const e = error as Error
  return [
    String(e?.message),
    String(error),
    String(e?.stack),
    JSON.stringify(error) ?? "",
    inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    Cause.pretty(Cause.fail(error)),
    Cause.pretty(Cause.die(error))
  ]
}

const expectClean = (url: string, texts: ReadonlyArray<string>) => {
  for (const text of texts) {
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(encodeURIComponent(SECRET))
    expect(text).not.toContain(url)
  }
}

const options = { connectTimeout: 1500, createTables: true } as const

/** Captures everything written to the console (the default Effect logger and any driver). */
const captureConsole = () => {
  const lines: Array<string> = []
  const spies = (["log", "info", "warn", "error", "debug", "trace"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : inspect(arg, { depth: Number.POSITIVE_INFINITY }))).join(" "))
    })
  )
  const writes = ([process.stdout, process.stderr] as const).map((stream) =>
    vi.spyOn(stream, "write").mockImplementation((chunk: unknown) => {
      lines.push(String(chunk))
      return true
    })
  )
  return { lines, restore: () => [...spies, ...writes].forEach((spy) => spy.mockRestore()) }
}

describe("no secret in any error or log", () => {
  it("SqlSessionStore.layerFromUrl, string and Redacted", async () => {
    for (const url of corpus()) {
      for (const input of [url, Redacted.make(url)]) {
        const logs: Array<string> = []
        const logger = Logger.make((entry) => {
          logs.push(Logger.logfmtLogger.log(entry), Logger.jsonLogger.log(entry))
        })
        const exit = await Effect.runPromiseExit(
          Effect.flatMap(SessionStore, (store) => store.getItems("s")).pipe(
            Effect.provide(SqlSessionStore.layerFromUrl(input, options)),
            Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
            Logger.withMinimumLogLevel(LogLevel.All)
          )
        )
        expect(Exit.isFailure(exit), url).toBe(true)
        if (Exit.isFailure(exit)) {
          expectClean(url, [Cause.pretty(exit.cause), inspect(exit.cause, { depth: Number.POSITIVE_INFINITY }), ...logs])
          for (const error of [...Cause.failures(exit.cause), ...Cause.defects(exit.cause)]) expectClean(url, channels(error))
        }
      }
    }
  }, 120_000)

  it("SqlSession.fromUrl and SqlSessionPool.fromUrl, thrown or rejected", async () => {
    const captured = captureConsole()
    try {
      for (const url of corpus()) {
        for (const open of [
          () => SqlSession.fromUrl("s", { url, ...options }),
          () => SqlSessionPool.fromUrl({ url, ...options }).session("s")
        ]) {
          let failure: unknown
          let session: SqlSession | undefined
          try {
            session = open()
            await session.addItems([{ role: "user", content: "x" }])
          } catch (error) {
            failure = error
          } finally {
            await session?.close()
          }
          expect(failure, url).toBeInstanceOf(Error)
          expectClean(url, channels(failure))
        }
      }
    } finally {
      captured.restore()
    }
    for (const url of corpus()) expectClean(url, captured.lines)
  }, 120_000)
})

describe("no secret in errors of a pool that was built, then lost its server", () => {
  // PostgreSQL trusts local logins, so a password is accepted and the pool builds.
  it("PostgreSQL through a proxy that is cut", async () => {
    const target = new URL(postgresUrl)
    const proxy = await startProxy({ host: target.hostname, port: Number(target.port) })
    const url = `postgres://${target.username}:${SECRET}@127.0.0.1:${proxy.port}${target.pathname}`
    const captured = captureConsole()
    const session = SqlSession.fromUrl(`lost-${Date.now()}`, { url, ...options })
    const failures: Array<unknown> = []
    try {
      await session.getItems()
      await proxy.cut()
      for (const call of [() => session.getItems(), () => session.addItems([{ role: "user", content: "x" }])]) {
        failures.push(await call().then(() => undefined, (error: unknown) => error))
      }
    } finally {
      await session.close()
      await proxy.close()
      captured.restore()
    }
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(Error)
      expectClean(url, channels(failure))
    }
    expectClean(url, captured.lines)
  }, 60_000)
})
