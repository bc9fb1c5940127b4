/**
 * Our library through its public API: the Effect `SessionStore` (over
 * `SqlSessionStore.layer` and the dialect's `SqlClient` layer) and the Promise
 * `SqlSessionPool` / `SqlSession`. Loaded lazily so the rest of the harness runs
 * while the library is still being written.
 */
import { join } from "node:path"
import { POOL_SIZE } from "../drivers.js"
import type { Databases, Item, Store, TargetSpec } from "../types.js"
import { storeOfSessions } from "./session-store.js"

type SqlDialect = "pg" | "mysql" | "sqlite"

const tablesFor = (db: Databases, name: string) => {
  const prefix = db.shared ? db.tablePrefix : `${db.tablePrefix}${name.replace(/[^A-Za-z0-9_]/g, "_")}_`
  return {
    sessionsTable: `${prefix}sessions`,
    messagesTable: `${prefix}messages`,
    operationsTable: `${prefix}operations`
  }
}

const sqliteFile = (db: Databases, name: string) => join(db.sqliteDir, db.shared ? "shared.db" : `${name}.db`)

export const urlFor = (db: Databases, dialect: SqlDialect, name: string): string =>
  dialect === "pg" ? db.pgUrl : dialect === "mysql" ? db.mysqlUrl : `sqlite:${sqliteFile(db, name)}`

const dropStatements = (tables: ReturnType<typeof tablesFor>) => [
  `DROP TABLE IF EXISTS ${tables.operationsTable}`,
  `DROP TABLE IF EXISTS ${tables.messagesTable}`,
  `DROP TABLE IF EXISTS ${tables.sessionsTable}`
]

/**
 * Store options beyond the tables, typed loosely on purpose: the batching scenario passes
 * `batching`, which a library without natural batching ignores, so the bench compiles and runs
 * against either.
 */
export type ExtraStoreOptions = Readonly<Record<string, unknown>>

const openEffect = (dialect: SqlDialect, name = "ours-effect", extra: ExtraStoreOptions = {}) => async (db: Databases): Promise<Store> => {
  const [{ Effect, Layer, ManagedRuntime, Option, Redacted }, { SqlClient }, lib] = await Promise.all([
    import("effect"),
    import("@effect/sql"),
    import("../../../src/index.js")
  ])
  const clientLayer = dialect === "pg"
    ? (await import("@effect/sql-pg")).PgClient.layer({ url: Redacted.make(db.pgUrl), maxConnections: POOL_SIZE })
    : dialect === "mysql"
    ? (await import("@effect/sql-mysql2")).MysqlClient.layer({ url: Redacted.make(db.mysqlUrl), maxConnections: POOL_SIZE })
    : (await import("@effect/sql-sqlite-node")).SqliteClient.layer({ filename: sqliteFile(db, name) })
  const tables = tablesFor(db, name)
  const options = { createTables: true, ...tables, ...extra } as Parameters<typeof lib.SqlSessionStore.layer>[0]
  const layer = lib.SqlSessionStore.layer(options).pipe(Layer.provideMerge(clientLayer))
  const runtime = ManagedRuntime.make(layer)
  const store = await runtime.runPromise(lib.SessionStore)
  const run = <A, E>(effect: import("effect").Effect.Effect<A, E, never>): Promise<A> => runtime.runPromise(effect)
  return {
    append: (sessionId, items: ReadonlyArray<Item>) => run(store.addItems(sessionId, items)),
    latest: (sessionId, limit) => run(store.getItems(sessionId, limit)),
    all: (sessionId) => run(store.getItems(sessionId)),
    pop: (sessionId) => run(Effect.map(store.popItem(sessionId), Option.getOrUndefined)),
    clear: (sessionId) => run(store.clearSession(sessionId)),
    close: async () => {
      if (!db.shared) {
        await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.forEach(dropStatements(tables), (statement) => sql.unsafe(statement), { discard: true })))
      }
      await runtime.dispose()
    }
  }
}

const openPromise = (dialect: SqlDialect, name = "ours-promise", extra: ExtraStoreOptions = {}) => async (db: Databases): Promise<Store> => {
  const lib = await import("../../../src/index.js")
  const tables = tablesFor(db, name)
  const options = { url: urlFor(db, dialect, name), createTables: true, maxConnections: POOL_SIZE, ...tables, ...extra }
  const pool = lib.SqlSessionPool.fromUrl(options as Parameters<typeof lib.SqlSessionPool.fromUrl>[0])
  // An application keeps one SqlSession per conversation; so do we.
  return storeOfSessions((sessionId) => pool.session(sessionId), async () => {
    await pool.close()
    if (!db.shared) await dropWithRawDriver(db, dialect, tables, name)
  })
}

/** The Promise API has no DDL, so its tables are dropped with the raw driver. */
const dropWithRawDriver = async (db: Databases, dialect: SqlDialect, tables: ReturnType<typeof tablesFor>, name: string) => {
  const drivers = await import("../drivers.js")
  if (dialect === "pg") {
    const pool = new (drivers.loadPg().Pool)({ connectionString: db.pgUrl, max: 1 })
    for (const s of dropStatements(tables)) await pool.query(s)
    await pool.end()
  } else if (dialect === "mysql") {
    const pool = drivers.loadMysql().createPool({ uri: db.mysqlUrl, connectionLimit: 1 })
    for (const s of dropStatements(tables)) await pool.query(s)
    await pool.end()
  } else {
    const Database = drivers.loadSqlite()
    const sqlite = new Database(sqliteFile(db, name))
    for (const s of dropStatements(tables)) sqlite.exec(s)
    sqlite.close()
  }
}

const DIALECT_LABEL: Record<SqlDialect, string> = { pg: "pg", mysql: "mysql2", sqlite: "sqlite" }

export const oursTargets: ReadonlyArray<TargetSpec> = (["pg", "mysql", "sqlite"] as const).flatMap((dialect) => [
  {
    id: `${dialect}/ours-effect`,
    name: "ours-effect",
    label: `ours: Effect SessionStore (${DIALECT_LABEL[dialect]})`,
    dialect,
    category: "ours" as const,
    packages: ["effect", "@effect/sql", `@effect/sql-${dialect === "pg" ? "pg" : dialect === "mysql" ? "mysql2" : "sqlite-node"}`],
    notes: ["ManagedRuntime.runPromise per operation"],
    open: openEffect(dialect)
  },
  {
    id: `${dialect}/ours-promise`,
    name: "ours-promise",
    label: `ours: Promise SqlSession (${DIALECT_LABEL[dialect]})`,
    dialect,
    category: "ours" as const,
    packages: ["effect"],
    notes: ["SqlSessionPool.fromUrl, one SqlSession per conversation"],
    open: openPromise(dialect)
  }
])

/** Our store through one face with extra store options, e.g. `{ batching: false }`, under its own tables. */
export const oursVariant = (
  dialect: SqlDialect,
  face: "effect" | "promise",
  variant: { readonly suffix: string; readonly label: string; readonly options: ExtraStoreOptions }
): TargetSpec => {
  const base = oursTargets.find((t) => t.id === `${dialect}/ours-${face}`)!
  const name = `ours-${face}-${variant.suffix}`
  return {
    ...base,
    id: `${dialect}/${name}`,
    name,
    label: `${base.label}, ${variant.label}`,
    notes: [...(base.notes ?? []), `store options ${JSON.stringify(variant.options)}`],
    open: face === "effect" ? openEffect(dialect, name, variant.options) : openPromise(dialect, name, variant.options)
  }
}
