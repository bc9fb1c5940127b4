/**
 * Global setup of the full reliability suite: start from an empty results folder, and at the end
 * write reliability/report.md and make sure both database servers are up again (other people's
 * tests run against them), whatever happened.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { writeReport } from "./harness/report.js"
import { ensureServersUp } from "./harness/servers.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
export const resultsDirectory = Path.join(here, ".results")

let started = 0

export const setup = async () => {
  started = Date.now()
  Fs.rmSync(resultsDirectory, { recursive: true, force: true })
  Fs.mkdirSync(resultsDirectory, { recursive: true })
  await ensureServersUp()
}

export const teardown = async () => {
  try {
    await ensureServersUp()
  } finally {
    writeReport(resultsDirectory, Path.join(here, "report.md"), { durationSeconds: (Date.now() - started) / 1000 })
  }
}
