/**
 * `agent-sessions export`: sessions as JSON Lines, to a file or stdout.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Chunk, Effect, Option, Stream } from "effect"
import * as SessionArchive from "../SessionArchive.js"
import { SessionStore } from "../SessionStore.js"
import { sessionStats } from "../internal/stats.js"
import { progressBar } from "./progress.js"
import { type Database, databaseOptions, ownerOption, tableNamesOf, withStore, writeStdout } from "./shared.js"

/** How many sessions the export will write, for the progress bar's total. */
const countSessions = (db: Database, owner: string | undefined) =>
  Effect.flatMap(tableNamesOf(db), (names) => sessionStats(names, { owner, topOwners: 0 })).pipe(
    Effect.map((stats) => stats.sessions),
    // The count only sizes the bar: an export must not fail for want of it.
    Effect.orElseSucceed(() => 0)
  )

export const exportCommand = Command.make("export", {
  db: databaseOptions,
  owner: ownerOption,
  out: Options.file("out").pipe(
    Options.optional,
    Options.withDescription("Write to this file (default: stdout)")
  )
}, ({ db, out, owner }) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ownerFilter = Option.getOrUndefined(owner)
    const progress = yield* progressBar("export", yield* countSessions(db, ownerFilter), "sessions")
    const records = store.exportSessions({ owner: ownerFilter }).pipe(
      Stream.tap((record) => record.type === "session" ? progress.increment() : Effect.void)
    )
    // One write per chunk of records, not per line.
    const text = SessionArchive.toJsonLines(records).pipe(Stream.mapChunks((chunk) => Chunk.of(Chunk.join(chunk, ""))))
    if (Option.isSome(out)) {
      const fs = yield* FileSystem.FileSystem
      const encoder = new TextEncoder()
      yield* text.pipe(Stream.map((s) => encoder.encode(s)), Stream.run(fs.sink(out.value)))
    } else {
      yield* Stream.runForEach(text, writeStdout)
    }
  }).pipe(Effect.scoped, withStore(db))).pipe(
    Command.withDescription("Export sessions with their items as JSON Lines (one record per line).")
  )

