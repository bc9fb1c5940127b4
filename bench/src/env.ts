/** The databases a run uses, and the facts about the machine the report prints. */
import { mkdirSync, rmSync } from "node:fs"
import os from "node:os"
import { loadMysql, loadPg } from "./drivers.js"

export const DEFAULT_PG_URL = "postgres://root@127.0.0.1:5432/test"
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
/** A database of its own on each server, so no test running at the same time is disturbed. */
export const BENCH_DATABASE = "agent_sessions_bench"

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Hides a password, should a URL carry one. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparsable url>"
  }
}

export interface ServerInfo {
  readonly url: string
  readonly version?: string | undefined
  readonly unavailable?: string | undefined
}

/**
 * Creates the bench database on PostgreSQL (falls back to the given database when it may not);
 * with `ownDatabase: false`, stays in the given database (the tables' own names keep the run apart).
 */
export const preparePg = async (baseUrl: string, ownDatabase = true): Promise<ServerInfo> => {
  const { Pool } = loadPg()
  const admin = new Pool({ connectionString: baseUrl, max: 1 })
  try {
    const version = String((await admin.query("SHOW server_version")).rows[0]?.["server_version"])
    let url = baseUrl
    if (ownDatabase) try {
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`)
      url = withDatabase(baseUrl, BENCH_DATABASE)
    } catch {
      // No right to create databases: the bench tables' own names keep us apart.
    }
    return { url, version: `PostgreSQL ${version}` }
  } catch (error) {
    return { url: baseUrl, unavailable: String(error instanceof Error ? error.message : error) }
  } finally {
    await admin.end().catch(() => undefined)
  }
}

export const prepareMysql = async (baseUrl: string, ownDatabase = true): Promise<ServerInfo> => {
  const admin = loadMysql().createPool({ uri: baseUrl, connectionLimit: 1 })
  try {
    const [rows] = await admin.query("SELECT VERSION() AS v")
    const raw = String((rows as Array<{ v: string }>)[0]?.v)
    let url = baseUrl
    if (ownDatabase) try {
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`)
      await admin.query(`CREATE DATABASE ${BENCH_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
      url = withDatabase(baseUrl, BENCH_DATABASE)
    } catch {
      // As above: fall back to the given database.
    }
    return { url, version: raw.toLowerCase().includes("mariadb") ? `MariaDB ${raw.split("-")[0]}` : `MySQL ${raw}` }
  } catch (error) {
    return { url: baseUrl, unavailable: String(error instanceof Error ? error.message : error) }
  } finally {
    await admin.end().catch(() => undefined)
  }
}

/** Drops the bench databases this run created (a base URL is given only for those). */
export const dropBenchDatabases = async (pgBase: string | undefined, mysqlBase: string | undefined): Promise<void> => {
  if (pgBase !== undefined) {
    const pg = new (loadPg().Pool)({ connectionString: pgBase, max: 1 })
    await pg.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`).catch(() => undefined)
    await pg.end().catch(() => undefined)
  }
  if (mysqlBase !== undefined) {
    const mysql = loadMysql().createPool({ uri: mysqlBase, connectionLimit: 1 })
    await mysql.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`).catch(() => undefined)
    await mysql.end().catch(() => undefined)
  }
}

export const freshDir = (dir: string): string => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

export interface MachineInfo {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  /** 1-minute load average when the run started and when it ended. */
  readonly loadAverage: { readonly start: number; readonly end: number }
}

export const machineInfo = (loadAtStart: number): MachineInfo => ({
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 }
})
