/**
 * The migration plugin, first slice: checkpoint and restore of a running box with criu
 * (trixie's 4.1, in a private prefix that `scripts/criu.mjs` fills). It installs its engine
 * into the runtime (runtimeRefs.checkpointEngines); the BoxManager's checkpoint and restore
 * operations, with every plugin's hooks, do the rest.
 */

import { ContainerModule, contribute, coreRefs, definePlugin, hostInfoPoint, type PluginDatabases, uploadPoint } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { migrationActions, migrationServiceId } from './actions.js';
import { migrationReconciler } from './migration-reconcile.js';
import { MigrationService } from './migration-service.js';
import { migrationSettingsSchema } from './settings.js';
import { archiveUpload } from './upload-receiver.js';
import { version } from './version.js';

const migrationModule = new ContainerModule((options) => {
  options
    .bind(migrationServiceId)
    .toDynamicValue((context) => {
      const settings = context.get(coreRefs.hostSettings.token, { optional: true }) as Record<string, unknown> | undefined;
      const databases = context.get(coreRefs.pluginDatabases.token, { optional: true }) as PluginDatabases | undefined;
      return new MigrationService(migrationSettingsSchema.parse(settings?.migration ?? {}), databases);
    })
    .inSingletonScope();
});

export const migrationPlugin = definePlugin({
  name: 'migration',
  version,
  description: "checkpoint and restore a running box's processes with criu",
  core: '^1.1.0',
  hostSettings: migrationSettingsSchema,
  module: migrationModule,
  optionalDeps: { engines: runtimeRefs.checkpointEngines, cgroups: runtimeRefs.cgroups },
  actions: migrationActions,
  setup: ({ services, own }) => {
    const migration = own<MigrationService>(migrationServiceId);
    // A driver without checkpoint support (a test fixture's) has no slot: checkpoint then says E_UNSUPPORTED.
    services.getOptional(runtimeRefs.checkpointEngines)?.install(migration.engine);
    migration.engine.useCgroups(services.getOptional(runtimeRefs.cgroups));
    // nsboxd's GET /host: where criu is and `criu check`'s verdict.
    return {
      contributions: [
        contribute(hostInfoPoint, { section: 'migration', describe: () => migration.checker.recent() }),
        // The source streams a migrated box's archive here (nsboxd's PUT /plugins/migration/uploads/archive/{upload}).
        contribute(
          uploadPoint,
          archiveUpload(() => ({ files: services.get(runtimeRefs.boxFiles), records: migration.records }), migration.settings.maxUploadBytes),
        ),
      ],
      // In the resident agent: migrations a dead nsboxd left half-way end with one copy of the box.
      services: [migrationReconciler(migration, services)],
    };
  },
});
