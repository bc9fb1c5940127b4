/**
 * `agent-sessions migrate`: creates the tables, or upgrades those of the Python SDK or of 0.1.0.
 */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import * as SqlSessionStore from "../SqlSessionStore.js"
import { databaseOptions, jsonOption, printJson, sqlLayer, tableOptions, writeStdout } from "./shared.js"

export const migrate = Command.make("migrate", { db: databaseOptions, json: jsonOption }, ({ db, json }) =>
  SqlSessionStore.migrate(tableOptions(db)).pipe(
    Effect.zipRight(
      json
        ? printJson({ migrated: true })
        : writeStdout("The session tables are created and up to date.\n")
    ),
    Effect.provide(sqlLayer(db.url, { create: true }))
  )).pipe(
    Command.withDescription(
      "Create the session tables, or upgrade tables made by the Python SDK or by 0.1.0 in place (no data is lost). Safe to run again."
    )
  )
