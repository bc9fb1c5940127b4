/**
 * A TCP proxy on 127.0.0.1 that holds every chunk for `delayMs` before passing it on, in order,
 * in each direction: the database behaves as if it were in the next rack. Nothing is dropped.
 * Run in a child process by the bench (so its CPU is not counted as the client's), or in process
 * by the smoke test.
 */
import { createServer, type Server, type Socket, connect } from "node:net"

export interface Upstream {
  readonly host: string
  readonly port: number
}

export interface LinkProxy {
  /** The local port in front of each upstream, in the order given. */
  readonly ports: ReadonlyArray<number>
  readonly close: () => Promise<void>
}

/**
 * Copies `from` to `to`, each chunk `delayMs` after it arrived. One timer per chunk: Node keeps the
 * timers of one duration in one list and fires them in the order they were set, so each direction
 * stays in order; a timer measures from the event loop's cached clock, which offsets part of its
 * own lateness (a single re-checking timer would instead add a whole tick when it fires early).
 */
const pipeDelayed = (from: Socket, to: Socket, delayMs: number) => {
  let inFlight = 0
  let ended = false
  from.on("data", (chunk: Buffer) => {
    inFlight++
    setTimeout(() => {
      inFlight--
      if (to.destroyed) return
      if (!to.write(chunk)) {
        from.pause()
        to.once("drain", () => from.resume())
      }
      if (ended && inFlight === 0) to.end()
    }, delayMs)
  })
  from.on("end", () => {
    ended = true
    if (inFlight === 0) to.end()
  })
}

const listen = (upstream: Upstream, delayMs: number, sockets: Set<Socket>): Promise<Server> =>
  new Promise((resolve, reject) => {
    // Half-open sockets: each direction ends only once its delayed chunks are through.
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const remote = connect({ port: upstream.port, host: upstream.host, allowHalfOpen: true })
      for (const socket of [client, remote]) {
        // Nagle's algorithm would add its own delay on top of ours.
        socket.setNoDelay(true)
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      const both = () => {
        client.destroy()
        remote.destroy()
      }
      client.on("error", both)
      remote.on("error", both)
      // A side that went away without ending its stream takes the other with it.
      client.on("close", () => {
        if (!client.readableEnded) remote.destroy()
      })
      remote.on("close", () => {
        if (!remote.readableEnded) client.destroy()
      })
      pipeDelayed(client, remote, delayMs)
      pipeDelayed(remote, client, delayMs)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

export const startLinkProxy = async (upstreams: ReadonlyArray<Upstream>, delayMs: number): Promise<LinkProxy> => {
  const sockets = new Set<Socket>()
  const servers: Array<Server> = []
  try {
    for (const upstream of upstreams) servers.push(await listen(upstream, delayMs, sockets))
  } catch (error) {
    for (const server of servers) server.close()
    throw error
  }
  return {
    ports: servers.map((server) => {
      const address = server.address()
      return typeof address === "object" && address !== null ? address.port : 0
    }),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
    }
  }
}

/** What the parent sends the child, and what the child answers. */
export interface ProxyRequest {
  readonly upstreams: ReadonlyArray<Upstream>
  readonly delayMs: number
}
export type ProxyReply = { readonly ports: ReadonlyArray<number> } | { readonly error: string }

// Forked by link-delay.ts: start on the first message, answer with the ports, live until killed.
if (process.send !== undefined && process.env["BENCH_LINK_PROXY_CHILD"] === "1") {
  process.once("message", (request: ProxyRequest) => {
    startLinkProxy(request.upstreams, request.delayMs).then(
      (proxy) => process.send?.({ ports: proxy.ports } satisfies ProxyReply),
      (error: unknown) => process.send?.({ error: String(error instanceof Error ? error.message : error) } satisfies ProxyReply)
    )
  })
  process.on("disconnect", () => process.exit(0))
}
