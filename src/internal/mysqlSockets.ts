/**
 * mysql2's pool keeps its idle sockets referenced, so a script that never closes the pool never
 * exits. We open the sockets ourselves (mysql2's `stream` option) and keep each one referenced
 * only while its connection is checked out of the pool.
 */
import { connect, type Socket } from "node:net"

interface PoolLike {
  on(event: "acquire" | "release", listener: (connection: ConnectionLike) => void): unknown
}

interface ConnectionLike {
  readonly config?: object
  readonly stream?: { ref?: () => unknown; unref?: () => unknown }
}

interface StreamOptions {
  readonly config: {
    readonly pool?: PoolLike
    readonly host?: string
    readonly port?: number
    readonly socketPath?: string
  }
}

const watched = new WeakSet<PoolLike>()
/** The raw socket under each connection: with TLS, `connection.stream` is the TLS socket over it. */
const rawSockets = new WeakMap<object, Socket>()

const setReferenced = (connection: ConnectionLike, referenced: boolean) => {
  for (const stream of [connection.stream, connection.config && rawSockets.get(connection.config)]) {
    if (referenced) stream?.ref?.()
    else stream?.unref?.()
  }
}

const watch = (pool: PoolLike | undefined) => {
  if (pool === undefined || watched.has(pool)) return
  watched.add(pool)
  pool.on("acquire", (connection) => setReferenced(connection, true))
  pool.on("release", (connection) => setReferenced(connection, false))
}

/** mysql2's `stream` option: a plain TCP (or Unix) socket, referenced until its first release. */
export const mysqlStream = (options: StreamOptions): Socket => {
  const { config } = options
  watch(config.pool)
  const socket = config.socketPath !== undefined
    ? connect(config.socketPath)
    : connect(config.port ?? 3306, config.host ?? "localhost")
  if (config.socketPath === undefined) socket.setNoDelay(true)
  rawSockets.set(config, socket)
  return socket
}
