#!/usr/bin/env node
/**
 * `agent-sessions`: the operator's command line for the session store (docs/cli.md).
 *
 * The CLI's own packages are optional peers of the library, so an application that never runs
 * the CLI does not install them: when one is missing, say which to install instead of a stack.
 */
const CLI_PACKAGES = "@effect/cli @effect/platform @effect/platform-node cli-progress"

import("./app.js").catch((error: unknown) => {
  if ((error as { code?: unknown })?.code !== "ERR_MODULE_NOT_FOUND") throw error
  console.error(`agent-sessions: ${(error as Error).message}\nThe CLI needs: npm install ${CLI_PACKAGES}`)
  process.exitCode = 1
})
