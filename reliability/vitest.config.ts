import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const here = Path.dirname(fileURLToPath(import.meta.url))

// The full reliability proof: one file, tests in order, long timeouts, figures to report.md.
export default defineConfig({
  root: Path.resolve(here, ".."),
  test: {
    include: ["reliability/**/*.reliability.ts"],
    globalSetup: ["reliability/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    env: { RELIABILITY_RESULTS_DIR: Path.join(here, ".results") },
    reporters: ["default"]
  }
})
