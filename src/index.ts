/**
 * Durable conversation memory for AI agents, on Effect.
 *
 * @since 0.1.0
 */
export * from "./SessionStore.js"
export { ItemFromJson, JsonObject } from "./ItemSchema.js"
export * as SessionArchive from "./SessionArchive.js"
export * as SessionMetrics from "./SessionMetrics.js"
export * as SqlSessionStore from "./SqlSessionStore.js"
export { SqlSession, SqlSessionPool, type SqlSessionOptions } from "./SqlSession.js"
