/**
 * Database URLs: our own forms and SQLAlchemy's, so a Python deployment's `DATABASE_URL` works
 * unchanged.
 *
 * We parse the URL ourselves and hand the drivers its parts, never its text: a driver that
 * parses a URL puts it (password included) into its errors. For the same reason no error made
 * here repeats any of the caller's text; see `docs/urls.md` for the forms.
 */
import { Either, Redacted } from "effect"
import { isIPv6 } from "node:net"
import { InvalidArgumentError } from "../SessionStore.js"

/** How to use TLS, in libpq's words (MySQL's `ssl-mode` values map onto the same five). */
export type TlsMode = "disable" | "prefer" | "require" | "verify-ca" | "verify-full"

export interface TlsSettings {
  readonly mode: TlsMode
  /** File of trusted CA certificates (`sslrootcert`, `ssl_ca`); `"system"` for the system's. */
  readonly ca?: string | undefined
  /** Client certificate and key files, for servers that ask for one. */
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

/** A PostgreSQL or MySQL server, as parsed from the URL. */
export interface ServerUrl {
  readonly dialect: "pg" | "mysql"
  /** Host name or IP address (IPv6 without brackets), or a Unix socket path. */
  readonly host: string
  readonly port: number
  readonly database: string | undefined
  readonly username: string | undefined
  readonly password: Redacted.Redacted<string> | undefined
  readonly tls: TlsSettings
  /** PostgreSQL's `application_name`. */
  readonly applicationName?: string | undefined
}

export type DatabaseUrl = ServerUrl | { readonly dialect: "sqlite"; readonly filename: string }

/**
 * What an error may say about a database: scheme, host, port and database, never the user name,
 * password or parameters.
 */
export const describeDatabase = (database: DatabaseUrl): string => {
  if (database.dialect === "sqlite") return `sqlite:${database.filename}`
  const host = isIPv6(database.host) ? `[${database.host}]` : database.host
  const scheme = database.dialect === "pg" ? "postgres" : "mysql"
  return `${scheme}://${host}${host.startsWith("/") ? "" : `:${database.port}`}/${database.database ?? ""}`
}

/** The URL with any password replaced, safe to print (used by the test support and the benchmark). */
export const redactUrl = (url: string): string =>
  url.replace(/^([^:/?#]+:\/\/[^:/?#@]*):.*@/s, "$1:***@").replace(/([?&]password=)[^&]*/gi, "$1***")

const SCHEME = /^([A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9_]+)?:(.*)$/s

const FORMS = "postgres://user:password@host:5432/db, mysql://user:password@host:3306/db or sqlite:file.db"

// Every message is ours alone: no part of the caller's text, which may hold a password.
const invalid = (why: string) => Either.left(new InvalidArgumentError({ argument: "url", message: `invalid database url: ${why}` }))

const decode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

const sqliteFilename = (rest: string): string | undefined => {
  const path = rest.split("?")[0]!
  if (path === "" || path === ":memory:" || path === "//" || path === "///:memory:") return ":memory:"
  if (path.startsWith("////")) return path.slice(3) // sqlite:////abs/path.db
  if (path.startsWith("///")) return path.slice(3) // sqlite:///relative.db
  if (path.startsWith("//")) return undefined // a host part means nothing to SQLite
  return path
}

const TLS_MODES: Record<string, TlsMode> = {
  disable: "disable",
  disabled: "disable",
  allow: "prefer", // libpq's "allow" tries plain first; TLS-if-offered is the closest we have
  prefer: "prefer",
  preferred: "prefer",
  require: "require",
  required: "require",
  "verify-ca": "verify-ca",
  verify_ca: "verify-ca",
  "verify-full": "verify-full",
  verify_full: "verify-full",
  verify_identity: "verify-full",
  "verify-identity": "verify-full"
}

const BOOLEANS: Record<string, boolean> = { true: true, "1": true, yes: true, on: true, false: false, "0": false, no: false, off: false }

type Params = ReadonlyMap<string, string>

/** Query parameters, keys lowercased with `-` read as `_` (`ssl-mode` and `ssl_mode` are one). */
const parseQuery = (query: string): Params | undefined => {
  const params = new Map<string, string>()
  for (const pair of query.split("&")) {
    if (pair === "") continue
    const eq = pair.indexOf("=")
    const key = decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "))
    const value = decode((eq < 0 ? "" : pair.slice(eq + 1)).replace(/\+/g, " "))
    if (key === undefined || value === undefined) return undefined
    params.set(key.toLowerCase().replace(/-/g, "_"), value)
  }
  return params
}

const first = (params: Params, ...keys: ReadonlyArray<string>): string | undefined => {
  for (const key of keys) {
    const value = params.get(key)
    if (value !== undefined && value !== "") return value
  }
  return undefined
}

/** mysql2's own URL form, `ssl={"rejectUnauthorized":true}` (PlanetScale's documented URL). */
const mysql2SslObject = (text: string): TlsMode | undefined => {
  if (!text.startsWith("{")) return undefined
  try {
    const value: unknown = JSON.parse(text)
    const reject = (value as { rejectUnauthorized?: unknown } | null)?.rejectUnauthorized
    return reject === false ? "require" : reject === true || reject === undefined ? "verify-full" : undefined
  } catch {
    return undefined
  }
}

/**
 * TLS from the conventional parameters: `sslmode` (libpq), `ssl_mode` / `ssl-mode` (MySQL),
 * `ssl=true|false` (node-postgres, mysql2, asyncpg: `true` verifies), SQLAlchemy's `ssl_ca`,
 * `ssl_cert`, `ssl_key`, `ssl_verify_cert`, `ssl_check_hostname`.
 */
const parseTls = (params: Params): Either.Either<TlsSettings, InvalidArgumentError> => {
  const ca = first(params, "sslrootcert", "ssl_ca", "sslca")
  const cert = first(params, "sslcert", "ssl_cert")
  const key = first(params, "sslkey", "ssl_key")
  const modeText = first(params, "sslmode", "ssl_mode")
  const sslText = params.get("ssl")
  let mode: TlsMode | undefined
  if (modeText !== undefined) {
    mode = TLS_MODES[modeText.toLowerCase()]
    if (mode === undefined) {
      return invalid("sslmode must be one of disable, prefer, require, verify-ca, verify-full (or MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)")
    }
  }
  if (sslText !== undefined) {
    const lowered = sslText.toLowerCase()
    const fromSsl = lowered in BOOLEANS
      ? (BOOLEANS[lowered] ? "verify-full" : "disable")
      : TLS_MODES[lowered] ?? mysql2SslObject(sslText)
    if (fromSsl === undefined) return invalid("ssl must be true or false (or an sslmode value)")
    if (mode !== undefined && mode !== fromSsl && !(mode !== "disable" && fromSsl === "verify-full")) {
      return invalid("ssl and sslmode disagree")
    }
    mode ??= fromSsl
  }
  const verifyCert = params.get("ssl_verify_cert")
  const checkHostname = params.get("ssl_check_hostname")
  for (const flag of [verifyCert, checkHostname]) {
    if (flag !== undefined && !(flag.toLowerCase() in BOOLEANS)) {
      return invalid("ssl_verify_cert and ssl_check_hostname must be true or false")
    }
  }
  if (mode === undefined) {
    // SQLAlchemy's MySQL style: a CA (or verify flags) alone means TLS, verified.
    if (verifyCert !== undefined && BOOLEANS[verifyCert.toLowerCase()]) mode = "verify-ca"
    else if (ca !== undefined || cert !== undefined) mode = ca !== undefined ? "verify-ca" : "require"
    else mode = "disable"
    if (mode !== "disable" && checkHostname !== undefined && BOOLEANS[checkHostname.toLowerCase()]) mode = "verify-full"
  }
  // libpq: "require" with a root certificate verifies the chain, like "verify-ca".
  if (mode === "require" && ca !== undefined) mode = "verify-ca"
  if (mode === "disable" && (ca !== undefined || cert !== undefined || key !== undefined)) {
    return invalid("TLS files are given but sslmode is disable")
  }
  return Either.right({ mode, ca, cert, key })
}

const parsePort = (text: string, dialect: "pg" | "mysql"): number | undefined => {
  if (text === "") return dialect === "pg" ? 5432 : 3306
  if (!/^[0-9]{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

const ENCODE_HINT = "percent-encode @ / ? # : in the user name and password (for example @ as %40)"

/**
 * Parses the part after `scheme:` of a server URL. The authority ends at the first `/`, `?` or
 * `#`; within it the last `@` ends the user info, so an `@` in a password still works.
 */
const parseServer = (dialect: "pg" | "mysql", rest: string): Either.Either<ServerUrl, InvalidArgumentError> => {
  const example = dialect === "pg" ? "postgres://user@host:5432/db" : "mysql://user@host:3306/db"
  if (!rest.startsWith("//")) return invalid(`expected // after the scheme, as in ${example}`)
  const afterSlashes = rest.slice(2)
  const end = afterSlashes.search(/[/?#]/)
  const authority = end < 0 ? afterSlashes : afterSlashes.slice(0, end)
  const tail = end < 0 ? "" : afterSlashes.slice(end)
  if (tail.includes("#")) return invalid(`a database url has no #fragment; ${ENCODE_HINT}`)
  // An @ after the host means a reserved character was left unencoded in the password.
  if (tail.includes("@")) return invalid(`it has an @ after the host; ${ENCODE_HINT}, and @ in the database name as %40`)
  const at = authority.lastIndexOf("@")
  const userInfo = at < 0 ? undefined : authority.slice(0, at)
  const hostPort = at < 0 ? authority : authority.slice(at + 1)

  let username: string | undefined
  let password: string | undefined
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(":")
    username = decode(colon < 0 ? userInfo : userInfo.slice(0, colon))
    password = colon < 0 ? "" : decode(userInfo.slice(colon + 1))
    if (username === undefined || password === undefined) {
      return invalid("the user name or password has an invalid percent-encoding (% must be followed by two hex digits)")
    }
  }

  let hostText: string
  let portText: string
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]")
    if (close < 0) return invalid("an IPv6 address has [ without ]")
    hostText = hostPort.slice(1, close)
    if (!isIPv6(hostText)) return invalid("the text in [ ] is not an IPv6 address")
    const after = hostPort.slice(close + 1)
    if (after !== "" && !after.startsWith(":")) return invalid("expected :port after ]")
    portText = after.slice(1)
  } else {
    const colon = hostPort.indexOf(":")
    if (colon >= 0 && hostPort.indexOf(":", colon + 1) >= 0) {
      return invalid(`write an IPv6 host in brackets, as in [::1]; ${ENCODE_HINT}`)
    }
    if (hostPort.includes("[") || hostPort.includes("]")) return invalid("a host has [ or ] only around an IPv6 address")
    const decoded = decode(colon < 0 ? hostPort : hostPort.slice(0, colon))
    if (decoded === undefined) return invalid("the host has an invalid percent-encoding")
    hostText = decoded
    portText = colon < 0 ? "" : hostPort.slice(colon + 1)
  }
  const port = parsePort(portText, dialect)
  if (port === undefined) return invalid(`the port must be an integer from 1 to 65535; ${ENCODE_HINT}`)

  const queryAt = tail.indexOf("?")
  const path = queryAt < 0 ? tail : tail.slice(0, queryAt)
  const database = decode(path.replace(/^\//, ""))
  if (database === undefined) return invalid("the database name has an invalid percent-encoding")
  const params = parseQuery(queryAt < 0 ? "" : tail.slice(queryAt + 1))
  if (params === undefined) return invalid("a query parameter has an invalid percent-encoding")
  const tls = parseTls(params)
  if (Either.isLeft(tls)) return Either.left(tls.left)
  // Ignoring a search_path would silently put the tables in another schema: refused instead.
  if (dialect === "pg" && params.has("options")) {
    return invalid("the options parameter is not supported; set a search_path with ALTER ROLE ... SET search_path")
  }

  // libpq and SQLAlchemy also take these as parameters (a socket directory as `host`).
  const socket = dialect === "pg" ? first(params, "host") : first(params, "unix_socket", "socket")
  password = first(params, "password") ?? password
  username = first(params, "user") ?? username
  return Either.right({
    dialect,
    host: socket ?? (hostText === "" ? "localhost" : hostText),
    port,
    database: database === "" ? undefined : database,
    username: username === "" ? undefined : username,
    password: password === undefined || password === "" ? undefined : Redacted.make(password),
    tls: tls.right,
    applicationName: dialect === "pg" ? first(params, "application_name") : undefined
  })
}

/**
 * Parses `postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:relative.db`,
 * `sqlite:/abs/path.db`, `sqlite::memory:` and the SQLAlchemy forms with a `+driver` suffix
 * (`postgresql+asyncpg://`, `mysql+aiomysql://`, `sqlite+aiosqlite:///file.db`).
 */
export const parseDatabaseUrl = (url: string): Either.Either<DatabaseUrl, InvalidArgumentError> => {
  if (typeof url !== "string" || url.trim().length === 0) return invalid("the url must be a non-empty string")
  const match = SCHEME.exec(url.trim())
  if (match === null) return invalid(`no scheme; expected ${FORMS}`)
  const scheme = match[1]!.toLowerCase()
  const rest = match[2]!
  switch (scheme) {
    case "postgres":
    case "postgresql":
      return parseServer("pg", rest)
    case "mysql":
    case "mariadb":
      return parseServer("mysql", rest)
    case "sqlite": {
      const filename = sqliteFilename(rest)
      return filename === undefined
        ? invalid("a SQLite url looks like sqlite:file.db, sqlite:/abs/file.db, sqlite:///file.db or sqlite::memory:")
        : Either.right({ dialect: "sqlite", filename })
    }
    default:
      // The "scheme" may well be a user name from a url that lost its scheme: not repeated.
      return invalid(`unsupported scheme; expected ${FORMS}`)
  }
}
