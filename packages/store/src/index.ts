export { migrate, migrateNamespace, migrations } from './migrations.js';
export { SqlitePluginDatabases } from './plugin-database.js';
export { SqlitePluginState } from './plugin-state.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { DEFAULT_STATE_DIR, ensureStateDir, resolveStateDir } from './state-dir.js';
export { StatementCache } from './statements.js';
