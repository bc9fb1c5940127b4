/**
 * Tables and rows as the Python Agents SDK (`SQLAlchemySession`) makes them, for the
 * compatibility tests of the store and of `agent-sessions migrate`.
 */

/** The DDL SQLAlchemy emits for the Python SDK's tables, per dialect. */
export const pythonDdl = (dialect: string, sessions: string, messages: string): ReadonlyArray<string> => {
  switch (dialect) {
    case "pg":
      return [
        `CREATE TABLE "${sessions}" (session_id VARCHAR NOT NULL, created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, PRIMARY KEY (session_id))`,
        `CREATE TABLE "${messages}" (id SERIAL NOT NULL, session_id VARCHAR NOT NULL, message_data TEXT NOT NULL, created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, PRIMARY KEY (id), FOREIGN KEY(session_id) REFERENCES "${sessions}" (session_id) ON DELETE CASCADE)`,
        `CREATE INDEX "idx_${messages}_session_time" ON "${messages}" (session_id, created_at)`
      ]
    case "mysql":
      return [
        `CREATE TABLE \`${sessions}\` (session_id VARCHAR(190) COLLATE utf8mb4_bin NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, PRIMARY KEY (session_id))`,
        `CREATE TABLE \`${messages}\` (id INTEGER NOT NULL AUTO_INCREMENT, session_id VARCHAR(190) COLLATE utf8mb4_bin NOT NULL, message_data TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, PRIMARY KEY (id), FOREIGN KEY(session_id) REFERENCES \`${sessions}\` (session_id) ON DELETE CASCADE)`,
        `CREATE INDEX \`idx_${messages}_session_time\` ON \`${messages}\` (session_id, created_at)`
      ]
    default:
      return [
        `CREATE TABLE "${sessions}" (session_id VARCHAR NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, PRIMARY KEY (session_id))`,
        `CREATE TABLE "${messages}" (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, session_id VARCHAR NOT NULL, message_data TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, FOREIGN KEY(session_id) REFERENCES "${sessions}" (session_id) ON DELETE CASCADE)`,
        `CREATE INDEX "idx_${messages}_session_time" ON "${messages}" (session_id, created_at)`
      ]
  }
}

/** What Python's `json.dumps(item, ensure_ascii=True, separators=(",", ":"))` writes. */
export const pythonJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
