export { checkAction, checkpointAction, migrationActions, restoreAction } from './actions.js';
export { type CheckpointManifest, dumpArgs, restoreArgs } from './criu-args.js';
export type { CriuCheckResult } from './criu-check.js';
export { type CriuInstall, criuPrefix, DEFAULT_CRIU_PREFIX, findCriu } from './criu-install.js';
export { migrationPlugin } from './migration-plugin.js';
export { type MigrationSettings, migrationSettingsSchema } from './settings.js';
