/**
 * A TCP proxy on 127.0.0.1 in front of a real database, which a test can cut and restore to
 * simulate a database that goes away and comes back. It can also play a server that accepts
 * connections and never answers.
 */
import * as net from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Stops accepting and destroys every open connection. */
  readonly cut: () => Promise<void>
  /** Accepts connections again on the same port. */
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

const listen = (server: net.Server, port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  })

export const startProxy = async (target: { host: string; port: number } | "silent"): Promise<TcpProxy> => {
  const sockets = new Set<net.Socket>()
  const makeServer = () =>
    net.createServer((client) => {
      sockets.add(client)
      client.on("close", () => sockets.delete(client))
      client.on("error", () => client.destroy())
      if (target === "silent") return
      const upstream = net.connect(target.port, target.host)
      sockets.add(upstream)
      upstream.on("close", () => {
        sockets.delete(upstream)
        client.destroy()
      })
      upstream.on("error", () => client.destroy())
      client.on("close", () => upstream.destroy())
      client.pipe(upstream).pipe(client)
    })
  let server = makeServer()
  const port = await listen(server, 0)
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      server.close(() => resolve())
    })
  return {
    port,
    cut: stop,
    restore: async () => {
      server = makeServer()
      await listen(server, port)
    },
    close: stop
  }
}
