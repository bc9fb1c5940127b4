/**
 * Stopping and starting the local PostgreSQL and MariaDB servers. Other people's tests run against
 * them, so every stop is paired with a start in a `finally`, and a start waits until the server
 * answers.
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import { promisify } from "node:util"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import { mysqlUrl, postgresUrl } from "../../test/support/databases.js"

const run = promisify(execFile)

const pgVersion = (): string => Fs.readdirSync("/etc/postgresql")[0] ?? "15"

export const postgresAnswers = async (): Promise<boolean> => {
  const client = new Pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query("SELECT 1")
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

export const mysqlAnswers = async (): Promise<boolean> => {
  try {
    const connection = await Mysql.createConnection({ uri: mysqlUrl, connectTimeout: 2000 })
    await connection.query("SELECT 1")
    await connection.end()
    return true
  } catch {
    return false
  }
}

const waitUntil = async (probe: () => Promise<boolean>, want: boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if ((await probe()) === want) return true
    await new Promise((r) => setTimeout(r, 250))
  }
  return (await probe()) === want
}

export const stopPostgres = async (): Promise<void> => {
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", pgVersion(), "main", "stop"])
  await waitUntil(postgresAnswers, false, 30_000)
}

export const startPostgres = async (): Promise<void> => {
  if (await postgresAnswers()) return
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", pgVersion(), "main", "start"]).catch((error) => {
    // "already running" is fine; anything else shows up as the wait below failing.
    if (!String(error?.stderr ?? error).includes("already running")) console.warn(String(error?.stderr ?? error))
  })
  if (!(await waitUntil(postgresAnswers, true, 60_000))) throw new Error("PostgreSQL did not come back within 60 s")
}

const mysqlPid = (): number | undefined => {
  try {
    const pid = Number(Fs.readFileSync("/run/mysqld/mysqld.pid", "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const stopMysql = async (): Promise<void> => {
  const pid = mysqlPid()
  await run("mysqladmin", ["-uroot", "shutdown"]).catch(() => {
    // Fall back to signalling the server by the id in its own pid file.
    if (pid !== undefined) process.kill(pid, "SIGTERM")
  })
  await waitUntil(mysqlAnswers, false, 30_000)
  // mariadbd may still be flushing after it stops answering; start-stop-daemon would see it running.
  const deadline = Date.now() + 30_000
  while (pid !== undefined && Date.now() < deadline && isAlive(pid)) {
    await new Promise((r) => setTimeout(r, 200))
  }
}

export const startMysql = async (): Promise<void> => {
  if (await mysqlAnswers()) return
  await run("start-stop-daemon", ["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
  if (!(await waitUntil(mysqlAnswers, true, 60_000))) throw new Error("MariaDB did not come back within 60 s")
}

/** Starts whichever server is down and waits until both answer. */
export const ensureServersUp = async (): Promise<void> => {
  const failures: Array<string> = []
  await startPostgres().catch((e) => failures.push(String(e)))
  await startMysql().catch((e) => failures.push(String(e)))
  if (failures.length > 0) throw new Error(failures.join("; "))
}
