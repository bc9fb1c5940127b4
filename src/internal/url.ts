/**
 * Database URLs: our own forms and SQLAlchemy's, so a Python deployment's `DATABASE_URL` works
 * unchanged.
 */
import { Either } from "effect"
import { InvalidArgumentError } from "../SessionStore.js"

export type DatabaseUrl =
  | { readonly dialect: "pg"; readonly url: string }
  | { readonly dialect: "mysql"; readonly url: string }
  | { readonly dialect: "sqlite"; readonly filename: string }

/** The URL with any password replaced, safe to print. */
export const redactUrl = (url: string): string => url.replace(/^([^:/?#]+:\/\/[^:/?#@]*):[^@/?#]*@/, "$1:***@")

const SCHEME = /^([A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9_]+)?:(.*)$/s

const invalid = (url: string, why: string) =>
  Either.left(new InvalidArgumentError({ argument: "url", message: `${why}: ${redactUrl(url)}` }))

const sqliteFilename = (rest: string): string | undefined => {
  const path = rest.split("?")[0]!
  if (path === "" || path === ":memory:" || path === "//" || path === "///:memory:") return ":memory:"
  if (path.startsWith("////")) return path.slice(3) // sqlite:////abs/path.db
  if (path.startsWith("///")) return path.slice(3) // sqlite:///relative.db
  if (path.startsWith("//")) return undefined // a host part means nothing to SQLite
  return path
}

/**
 * Parses `postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:relative.db`,
 * `sqlite:/abs/path.db`, `sqlite::memory:` and the SQLAlchemy forms with a `+driver` suffix
 * (`postgresql+asyncpg://`, `mysql+aiomysql://`, `sqlite+aiosqlite:///file.db`).
 */
export const parseDatabaseUrl = (url: string): Either.Either<DatabaseUrl, InvalidArgumentError> => {
  if (typeof url !== "string" || url.length === 0) return invalid(String(url), "url must be a non-empty string")
  const match = SCHEME.exec(url.trim())
  if (match === null) return invalid(url, "url has no scheme (expected postgres://, mysql:// or sqlite:)")
  const scheme = match[1]!.toLowerCase()
  const rest = match[2]!
  switch (scheme) {
    case "postgres":
    case "postgresql":
      if (!rest.startsWith("//")) return invalid(url, "a PostgreSQL url looks like postgres://user@host:5432/db")
      return Either.right({ dialect: "pg", url: `postgres:${rest}` })
    case "mysql":
    case "mariadb":
      if (!rest.startsWith("//")) return invalid(url, "a MySQL url looks like mysql://user@host:3306/db")
      return Either.right({ dialect: "mysql", url: `mysql:${rest}` })
    case "sqlite": {
      const filename = sqliteFilename(rest)
      return filename === undefined
        ? invalid(url, "a SQLite url looks like sqlite:file.db, sqlite:/abs/file.db, sqlite:///file.db or sqlite::memory:")
        : Either.right({ dialect: "sqlite", filename })
    }
    default:
      return invalid(url, `unsupported database scheme "${scheme}" (expected postgres, mysql, mariadb or sqlite)`)
  }
}
