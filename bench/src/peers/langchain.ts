/**
 * LangChain `PostgresChatMessageHistory` from `@langchain/community`, one history
 * object per conversation over a shared `pg` pool, as its docs show.
 */
import { toRoleText } from "../items.js"
import type { Databases, Store, TargetSpec } from "../types.js"

const open = async (db: Databases): Promise<Store> => {
  const [{ PostgresChatMessageHistory }, { AIMessage, HumanMessage }, pgModule] = await Promise.all([
    import("@langchain/community/stores/message/postgres"),
    import("@langchain/core/messages"),
    import("pg")
  ])
  const pg = (pgModule as unknown as { default: typeof pgModule }).default ?? pgModule
  const pool = new pg.Pool({ connectionString: db.pgUrl, max: 10 })
  const tableName = `${db.tablePrefix}langchain_messages`
  const histories = new Map<string, InstanceType<typeof PostgresChatMessageHistory>>()
  const history = (sessionId: string) => {
    let h = histories.get(sessionId)
    if (h === undefined) {
      h = new PostgresChatMessageHistory({ sessionId, pool, tableName })
      histories.set(sessionId, h)
    }
    return h
  }
  return {
    append: async (sessionId, items) => {
      await history(sessionId).addMessages(items.map((item) => {
        const { role, text } = toRoleText(item)
        return role === "user" ? new HumanMessage(text) : new AIMessage(text)
      }))
    },
    // The API has no limit: the whole history is read and the tail kept.
    latest: async (sessionId, limit) => (await history(sessionId).getMessages()).slice(-limit),
    all: (sessionId) => history(sessionId).getMessages(),
    clear: (sessionId) => history(sessionId).clear(),
    close: async () => {
      await pool.query(`DROP TABLE IF EXISTS ${tableName}`)
      await pool.end()
    }
  }
}

export const langchainTargets: ReadonlyArray<TargetSpec> = [
  {
    id: "pg/langchain",
    name: "langchain",
    label: "LangChain PostgresChatMessageHistory",
    dialect: "pg",
    category: "peer",
    packages: ["@langchain/community", "@langchain/core", "pg"],
    notes: ["latest-20: getMessages() then the last 20 (no limit in the API); no pop API"],
    open
  }
]
