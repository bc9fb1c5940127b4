/**
 * The published declarations of `SqlSession` do not import `@openai/agents-core` (an optional
 * peer), so they cannot say `implements Session`. This file, compiled only inside this repository
 * where the SDK is installed, proves the structural types still fit each of the SDK's session
 * interfaces: `npm run typecheck` fails if one stops fitting. The runtime checks use the SDK's
 * own capability guards, which the runner calls to pick its code path.
 */
import {
  isRunContextAwareSession,
  isSessionHistoryRewriteAwareSession,
  isSessionHistoryTransactionAwareSession,
  type RunContextAwareSession,
  type Session,
  type SessionHistoryRewriteAwareSession,
  type SessionHistoryTransactionAwareSession
} from "@openai/agents-core"
import { describe, expect, it } from "vitest"
import { SqlSession, SqlSessionPool } from "../../src/index.js"

// Neither connects: a session touches the database on its first call only.
const fromUrl = SqlSession.fromUrl("types", { url: "sqlite::memory:" })
const pool = SqlSessionPool.fromUrl({ url: "sqlite::memory:" })
const fromPool = pool.session("types")

const asSession: Session = fromUrl
const asTransactionAware: SessionHistoryTransactionAwareSession = fromUrl
const asRewriteAware: SessionHistoryRewriteAwareSession = fromUrl
const asRunContextAware: RunContextAwareSession<unknown> = fromPool

describe("SqlSession against the Agents SDK's session interfaces", () => {
  it("is recognised by the SDK's capability guards", async () => {
    for (const session of [asSession, asTransactionAware, asRewriteAware, asRunContextAware]) {
      expect(isSessionHistoryTransactionAwareSession(session)).toBe(true)
      expect(isSessionHistoryRewriteAwareSession(session)).toBe(true)
      expect(isRunContextAwareSession(session)).toBe(true)
    }
    await fromUrl.close()
    await pool.close()
  })
})
