/**
 * Database URLs as we parse them: the forms, IPv6, ports, percent-decoding, TLS parameters, and
 * the options `fromUrl` refuses before it builds anything.
 */
import { Effect, Either, Layer, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { InvalidArgumentError, SqlSession, SqlSessionPool, SqlSessionStore } from "../src/index.js"
import { DIALECT_PACKAGES } from "../src/internal/clientLayer.js"
import { type DatabaseUrl, describeDatabase, parseDatabaseUrl, type ServerUrl } from "../src/internal/url.js"

const parsed = (url: string): DatabaseUrl => Either.getOrThrow(parseDatabaseUrl(url))
const server = (url: string): ServerUrl => parsed(url) as ServerUrl
const refusal = (url: string): InvalidArgumentError => Either.getOrThrow(Either.flip(parseDatabaseUrl(url)))

const plain = { mode: "disable", ca: undefined, cert: undefined, key: undefined }

describe("server URLs", () => {
  it.each([
    ["postgres://u:p@h:5432/db", { dialect: "pg", host: "h", port: 5432, database: "db", username: "u" }],
    ["postgresql://h/db", { dialect: "pg", host: "h", port: 5432, database: "db", username: undefined }],
    ["postgresql+asyncpg://u@h:6543/db", { dialect: "pg", host: "h", port: 6543, database: "db", username: "u" }],
    ["postgres:///db", { dialect: "pg", host: "localhost", port: 5432, database: "db", username: undefined }],
    ["mysql://root@127.0.0.1:3306/test", { dialect: "mysql", host: "127.0.0.1", port: 3306, database: "test", username: "root" }],
    ["mariadb://root@h/test", { dialect: "mysql", host: "h", port: 3306, database: "test", username: "root" }],
    ["mysql+aiomysql://root:pw@h:3307", { dialect: "mysql", host: "h", port: 3307, database: undefined, username: "root" }],
    ["mysql://root@[::1]:3306/db", { dialect: "mysql", host: "::1", port: 3306, database: "db", username: "root" }],
    ["postgres://[2001:db8::7]/db", { dialect: "pg", host: "2001:db8::7", port: 5432, database: "db", username: undefined }],
    ["postgres://%2Fvar%2Frun%2Fpostgresql/db", { dialect: "pg", host: "/var/run/postgresql", port: 5432, database: "db", username: undefined }],
    ["postgres:///db?host=/tmp", { dialect: "pg", host: "/tmp", port: 5432, database: "db", username: undefined }],
    ["mysql+pymysql://u@/db?unix_socket=/run/mysqld.sock", { dialect: "mysql", host: "/run/mysqld.sock", port: 3306, database: "db", username: "u" }],
    ["postgres://us%40er@h/my%20db", { dialect: "pg", host: "h", port: 5432, database: "my db", username: "us@er" }]
  ])("parses %s into its parts", (url, expected) => {
    expect(server(url)).toMatchObject({ ...expected, tls: plain })
  })

  it.each([
    ["postgres://u:p%40ss%2F%3F%23w@h/db", "p@ss/?#w"],
    ["postgres://u:p@ss@h/db", "p@ss"], // the last @ ends the user info
    ["mysql://u:p%3Ass@h/db", "p:ss"],
    ["mysql://u:a:b@h/db", "a:b"],
    ["postgres://u@h/db?password=from%20query", "from query"]
  ])("decodes the password of %s and keeps it Redacted", (url, password) => {
    const parts = server(url)
    expect(Redacted.isRedacted(parts.password)).toBe(true)
    expect(Redacted.value(parts.password!)).toBe(password)
    expect(describeDatabase(parts)).not.toContain(password)
  })

  it.each([
    ["sqlite::memory:", ":memory:"],
    ["sqlite:relative.db", "relative.db"],
    ["sqlite:/abs/path.db", "/abs/path.db"],
    ["sqlite+aiosqlite:///file.db", "file.db"],
    ["sqlite:////abs/file.db", "/abs/file.db"],
    ["sqlite+aiosqlite:///:memory:", ":memory:"],
    ["sqlite://", ":memory:"]
  ])("parses %s as a SQLite file", (url, filename) => {
    expect(parsed(url)).toEqual({ dialect: "sqlite", filename })
  })

  it.each([
    ["", "non-empty"],
    ["localhost:5432", "scheme"],
    ["oracle://h/db", "scheme"],
    ["postgres:h/db", "//"],
    ["sqlite://host/file.db", "SQLite"],
    ["postgres://h:0/db", "port"],
    ["postgres://h:65536/db", "port"],
    ["postgres://h:-1/db", "port"],
    ["mysql://h:3306.5/db", "port"],
    ["mysql://h:abc/db", "port"],
    ["mysql://[::1/db", "]"],
    ["mysql://[not-ipv6]/db", "IPv6"],
    ["mysql://[::1]x/db", "port"],
    ["mysql://::1/db", "brackets"],
    ["postgres://u:%zz@h/db", "percent-encoding"],
    ["postgres://h/d%zzb", "percent-encoding"],
    ["postgres://h/db?sslmode=%zz", "percent-encoding"],
    ["postgres://u:pa/ss@h/db", "percent-encode"],
    ["postgres://u:pa#ss@h/db", "#"],
    ["postgres://u:pa?ss@h/db", "percent-encode"],
    ["postgres://h/db?options=-csearch_path%3Dother", "search_path"]
  ])("refuses %j with InvalidArgumentError (%s)", (url, why) => {
    const error = refusal(url)
    expect(error).toBeInstanceOf(InvalidArgumentError)
    expect(error.argument).toBe("url")
    expect(error.message).toContain(why)
  })
})

describe("TLS parameters", () => {
  it.each([
    ["postgres://h/db", "disable"],
    ["postgres://h/db?sslmode=disable", "disable"],
    ["postgres://h/db?sslmode=prefer", "prefer"],
    ["postgres://h/db?sslmode=allow", "prefer"],
    ["postgres://h/db?sslmode=require", "require"],
    ["postgres://h/db?sslmode=verify-ca", "verify-ca"],
    ["postgres://h/db?sslmode=verify-full", "verify-full"],
    ["postgres://h/db?ssl=true", "verify-full"],
    ["postgres://h/db?ssl=false", "disable"],
    ["postgresql+asyncpg://h/db?ssl=require", "require"],
    ["postgres://h/db?ssl=true&sslmode=require", "require"],
    ["postgres://h/db?sslmode=require&sslrootcert=/ca.pem", "verify-ca"],
    ["mysql://h/db?ssl=true", "verify-full"],
    ["mysql://h/db?ssl=1", "verify-full"],
    ["mysql://h/db?ssl=false", "disable"],
    ["mysql://h/db?ssl-mode=REQUIRED", "require"],
    ["mysql://h/db?ssl_mode=VERIFY_CA", "verify-ca"],
    ["mysql://h/db?sslmode=VERIFY_IDENTITY", "verify-full"],
    ["mysql://h/db?ssl-mode=DISABLED", "disable"],
    ['mysql://h/db?ssl={"rejectUnauthorized":true}', "verify-full"],
    ['mysql://h/db?ssl={"rejectUnauthorized":false}', "require"],
    ["mysql://h/db?ssl-mode=PREFERRED", "prefer"],
    ["mysql+pymysql://h/db?ssl_ca=/ca.pem", "verify-ca"],
    ["mysql+pymysql://h/db?ssl_ca=/ca.pem&ssl_check_hostname=true", "verify-full"],
    ["mysql+pymysql://h/db?ssl_verify_cert=true", "verify-ca"]
  ])("%s uses TLS mode %s", (url, mode) => {
    expect(server(url).tls.mode).toBe(mode)
  })

  it("keeps the certificate files", () => {
    expect(server("postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem").tls).toEqual({
      mode: "verify-full",
      ca: "/ca.pem",
      cert: "/c.pem",
      key: "/k.pem"
    })
  })

  it.each([
    "postgres://h/db?sslmode=bogus",
    "postgres://h/db?ssl=maybe",
    "mysql://h/db?ssl-mode=REQUIRE_EVERYTHING",
    "postgres://h/db?ssl=false&sslmode=require",
    "postgres://h/db?sslmode=disable&sslrootcert=/ca.pem",
    "mysql://h/db?ssl_verify_cert=sometimes"
  ])("refuses %s", (url) => {
    expect(refusal(url)).toBeInstanceOf(InvalidArgumentError)
  })
})

describe("options fromUrl refuses at once", () => {
  const bad = [
    { maxConnections: 0 },
    { maxConnections: -1 },
    { maxConnections: 2.5 },
    { maxConnections: Number.NaN },
    { connectTimeout: -5 },
    { connectTimeout: 0 },
    { connectTimeout: "soon" as never },
    { connectTimeout: Number.POSITIVE_INFINITY },
    { messagesTable: "bad-name" },
    { maxItemBytes: 0 },
    { maxBatchSize: 0 },
    { maxBatchSize: 1.5 },
    { batchConcurrency: -1 },
    { batching: "no" as never }
  ]
  for (const url of ["sqlite::memory:", "postgres://u:pw@127.0.0.1:1/db", "mysql://u:pw@127.0.0.1:1/db"]) {
    it.each(bad)(`${url.split(":")[0]}: throws InvalidArgumentError from fromUrl for %j`, (options) => {
      expect(() => SqlSessionPool.fromUrl({ url, ...options })).toThrow(InvalidArgumentError)
      expect(() => SqlSession.fromUrl("s", { url, ...options })).toThrow(InvalidArgumentError)
    })
  }

  it.each(bad)("layerFromUrl fails to build with InvalidArgumentError for %j", async (options) => {
    const error = await Effect.runPromise(
      Effect.flip(Effect.scoped(Layer.build(SqlSessionStore.layerFromUrl("sqlite::memory:", options))))
    )
    expect(error).toBeInstanceOf(InvalidArgumentError)
  })

  it.each(bad)("layerFromUrl refuses %j before connecting (an unreachable server is never tried)", async (options) => {
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.scoped(Layer.build(SqlSessionStore.layerFromUrl("postgres://u:pw@127.0.0.1:1/db", { connectTimeout: 1000, ...options })))
      )
    )
    expect(error).toBeInstanceOf(InvalidArgumentError)
  })
})

describe("install hints", () => {
  it("name the ranges of package.json's peerDependencies", () => {
    const peers = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).peerDependencies
    for (const { name, range } of Object.values(DIALECT_PACKAGES)) expect(peers[name]).toBe(range)
  })
})
