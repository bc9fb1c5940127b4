import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cliSuite } from "./suite.js"

cliSuite({
  label: "SQLite",
  dialect: "sqlite",
  url: `sqlite:${join(mkdtempSync(join(tmpdir(), "agent-sessions-cli-")), "sessions.db")}`,
  unavailable: undefined
})
