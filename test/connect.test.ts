/**
 * What the parsed URL does on a real server: IPv6 literals in brackets connect, TLS parameters
 * reach the driver (the local servers have no TLS, so `require` is refused with a typed error
 * and `disable` and `prefer` connect), and a SQLite file in a missing directory is a typed
 * failure, not a defect.
 */
import { Effect, Layer } from "effect"
import * as net from "node:net"
import { join } from "node:path"
import { tmpdir } from "node:os"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SessionStore, SessionStoreError, SqlSession, SqlSessionStore } from "../src/index.js"
import { all, uniqueId } from "./support/databases.js"

const PASSWORD = "tls-Pw-7"

/** A TCP forwarder listening on [::1], in front of a server that listens on IPv4 only. */
const ipv6Forwarder = async (target: { host: string; port: number }) => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on("error", () => undefined)
      socket.on("close", () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "::1", resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

const roundTrip = async (url: string) => {
  const session = SqlSession.fromUrl(uniqueId(), { url, createTables: true, connectTimeout: 5000 })
  try {
    await session.addItems([{ role: "user", content: "hi" }])
    const items = await session.getItems()
    await session.clearSession()
    return items
  } finally {
    await session.close()
  }
}

const connectError = async (url: string) => {
  const session = SqlSession.fromUrl(uniqueId(), { url, connectTimeout: 5000 })
  try {
    return await session.getItems().then(() => undefined, (error: unknown) => error)
  } finally {
    await session.close()
  }
}

for (const db of all.filter((db) => db.dialect !== "sqlite")) {
  const describeServer = db.unavailable === undefined ? describe : describe.skip
  const target = new URL(db.url)
  const scheme = db.dialect === "pg" ? "postgres" : "mysql"
  const database = target.pathname.slice(1)
  const withParams = (params: string, password?: string) =>
    `${scheme}://${target.username}${password === undefined ? "" : `:${password}`}@${target.host}/${database}?${params}`

  describeServer(`${db.label} from a URL`, () => {
    let forwarder: Awaited<ReturnType<typeof ipv6Forwarder>>
    beforeAll(async () => {
      forwarder = await ipv6Forwarder({ host: target.hostname, port: Number(target.port) })
    })
    afterAll(() => forwarder.close())

    it("connects to an IPv6 literal in brackets", async () => {
      expect(await roundTrip(`${scheme}://${target.username}@[::1]:${forwarder.port}/${database}`)).toEqual([
        { role: "user", content: "hi" }
      ])
    })

    const refusing = db.dialect === "pg"
      ? ["sslmode=require", "sslmode=verify-ca", "sslmode=verify-full", "ssl=true"]
      : ["ssl-mode=REQUIRED", "ssl_mode=VERIFY_CA", "sslmode=VERIFY_IDENTITY", "ssl=true", "sslmode=require"]
    it.each(refusing)("%s against a server without TLS fails with a typed error saying TLS was refused", async (params) => {
      // The local servers accept any password for root (pg: trust) or refuse it later (MariaDB):
      // TLS is negotiated first, so the refusal is about TLS.
      const error = await connectError(withParams(params, db.dialect === "pg" ? PASSWORD : undefined))
      expect(error).toBeInstanceOf(SessionStoreError)
      expect((error as SessionStoreError).operation).toBe("connect")
      expect((error as Error).message).toContain("refused TLS")
      expect((error as Error).message).not.toContain(PASSWORD)
    })

    it.each(
      db.dialect === "pg"
        ? ["sslmode=disable", "sslmode=prefer", "ssl=false", "sslmode=allow"]
        : ["ssl-mode=DISABLED", "ssl-mode=PREFERRED", "ssl=false", "ssl=0"]
    )("%s connects to a server without TLS", async (params) => {
      expect(await roundTrip(withParams(params))).toEqual([{ role: "user", content: "hi" }])
    })

    it("fails typed when the sslrootcert file cannot be read", async () => {
      const error = await connectError(withParams(`sslmode=verify-full&sslrootcert=${join(tmpdir(), uniqueId(), "ca.pem")}`))
      expect(error).toBeInstanceOf(SessionStoreError)
      expect((error as Error).message).toContain("sslrootcert")
    })
  })
}

describe("SQLite from a URL", () => {
  const missing = `sqlite:${join(tmpdir(), uniqueId(), "nested", "file.db")}`

  it("fails with SessionStoreError for a file in a directory that does not exist (Promise)", async () => {
    const error = await connectError(missing)
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as SessionStoreError).operation).toBe("connect")
    expect((error as Error).message).toContain("directory does not exist")
  })

  it("fails with SessionStoreError for a file in a directory that does not exist (Effect)", async () => {
    const error = await Effect.runPromise(
      Effect.flip(Effect.provide(Effect.flatMap(SessionStore, (store) => store.getItems("s")), SqlSessionStore.layerFromUrl(missing)))
    )
    expect(error).toBeInstanceOf(SessionStoreError)
  })

  it("still builds the store for a file in a directory that exists", async () => {
    const file = `sqlite:${join(tmpdir(), `${uniqueId()}.db`)}`
    await Effect.runPromise(Effect.scoped(Layer.build(SqlSessionStore.layerFromUrl(file, { createTables: true }))))
  })
})
