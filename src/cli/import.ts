/**
 * `agent-sessions import <file>`: sessions from an export (JSON Lines), one transaction each.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Stream } from "effect"
import * as SessionArchive from "../SessionArchive.js"
import { SessionStore } from "../SessionStore.js"
import { progressBar } from "./progress.js"
import { databaseOptions, jsonOption, printJson, withStore, writeStdout } from "./shared.js"

export const importCommand = Command.make("import", {
  file: Args.file({ name: "file", exists: "yes" }).pipe(Args.withDescription("A file written by `export`")),
  db: databaseOptions,
  onConflict: Options.choice("on-conflict", ["fail", "skip", "replace", "append"]).pipe(
    Options.withDefault("fail" as const),
    Options.withDescription(
      "For a session that already exists: fail (stop), skip it, replace it, or append the imported items"
    )
  ),
  json: jsonOption
}, ({ db, file, json, onConflict }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const store = yield* SessionStore
    const size = Number((yield* fs.stat(file)).size)
    const progress = yield* progressBar("import", size, "bytes")
    const chunks = fs.stream(file).pipe(Stream.tap((chunk) => progress.increment(chunk.byteLength)))
    const summary = yield* store.importSessions(SessionArchive.fromJsonLines(chunks), { onConflict })
    yield* json
      ? printJson(summary)
      : writeStdout(
        `Imported ${summary.sessions} sessions (${summary.items} items); skipped ${summary.skipped} that already existed.\n`
      )
  }).pipe(Effect.scoped, withStore(db))).pipe(
    Command.withDescription("Import sessions from a file written by `export`.")
  )
