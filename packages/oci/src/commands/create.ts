/**
 * `create`: the box is built and its init waits in the init helper until `start`. The core
 * does the work (validate, define, plugins' spec and prepare hooks, driver start) with the
 * bundle's config.json as the spec; a failure at any step leaves nothing behind.
 */

import { type Box, NsboxError } from '@nsbox/core';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { assertSystemdCgroupSupported, parseCgroupsPath } from '../box/cgroup-paths.js';
import { hooksOf, runHooks } from '../box/oci-hooks.js';
import { hookState } from '../box/oci-state.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { resourcesToLimits } from '../bundle/resources.js';
import { boxNameFor, CGROUPS_PATH_ANNOTATION, checkId, OCI_ID_ANNOTATION } from '../oci-runtime.js';
import { type CommandContext, writePidFile } from './context.js';

export interface CreateOptions {
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  /** `run` without --detach: the caller stays and waits for the init (and can relay a tty). */
  foreground?: boolean;
}

export async function createContainer(context: CommandContext, id: string, options: CreateOptions): Promise<Box> {
  checkId(id);
  const { runtime } = context;
  if (options.preserveFds)
    throw new NsboxError('E_UNSUPPORTED', '--preserve-fds is not supported: the launcher passes fds 0-2 only', { details: { field: '--preserve-fds' } });
  return runtime.locks.with(id, async () => {
    if (runtime.find(id)) throw new NsboxError('E_ALREADY_EXISTS', `container with id exists: ${id}`, { details: { id } });
    const bundle = loadBundle(options.bundle ?? context.cwd, context.cwd);
    const { spec } = bundle;
    if (spec.process.terminal && !options.consoleSocket && !options.foreground) {
      throw new NsboxError('E_INVALID_ARGUMENT', 'cannot allocate tty if runc will detach without setting console socket', {
        details: { field: 'process.terminal' },
      });
    }
    if (!spec.process.terminal && options.consoleSocket) {
      throw new NsboxError('E_INVALID_ARGUMENT', 'cannot use console socket if runc will not detach or allocate tty', {
        details: { field: '--console-socket' },
      });
    }
    const layout = runtime.cgroups.layout;
    const limits = resourcesToLimits(spec.linux.resources, {
      limits: runtime.limitsInstalled,
      memoryFlavor: layout.v1.memory ? 'v1' : layout.unifiedControllers.includes('memory') ? 'v2' : undefined,
    });
    const cgroupsPath = spec.linux.cgroupsPath;
    if (context.systemdCgroup) assertSystemdCgroupSupported(layout);
    if (cgroupsPath) parseCgroupsPath(cgroupsPath, runtime.cgroups.parent, { systemd: context.systemdCgroup ?? false });
    const name = boxNameFor(id);
    const disabled = runtime.disabledPlugins();
    const config = {
      rootfs: spec.root.path,
      annotations: { [OCI_ID_ANNOTATION]: id, ...(cgroupsPath ? { [CGROUPS_PATH_ANNOTATION]: cgroupsPath } : {}) },
      ...(disabled.length > 0 ? { plugins: { disable: disabled } } : {}),
      ...(limits ? { limits } : {}),
    };
    const forgetCreate = runtime.driver.expectCreate(name, { id, bundle: bundle.dir, spec });
    const forgetLaunch = runtime.driver.expectLaunch(name, {
      caller: context.caller,
      ...(options.consoleSocket ? { consoleSocket: options.consoleSocket } : {}),
      ...(options.foreground ? { subreaper: true } : {}),
    });
    try {
      context.log.debug(`create ${id}: box ${name}, bundle ${bundle.dir}`);
      let box = await runtime.manager.create({ name, config });
      try {
        box = await runtime.manager.start(box.id);
        const hookContext = { driver: runtime.driver, box, warn: (message: string) => context.log.warn(message) };
        for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
          await runHooks(kind, hooksOf(spec, kind), hookState(box, 'created'), hookContext);
        }
        const init = (box.runtime as LinuxRuntimeFacts).init;
        if (options.pidFile && init) writePidFile(context, options.pidFile, init.pid);
        return box;
      } catch (error) {
        await runtime.manager.destroy(box.id, { force: true }).catch((cleanup: Error) => context.log.warn(`cleanup of ${id}: ${cleanup.message}`));
        runtime.forget(box);
        throw error;
      }
    } finally {
      forgetCreate();
      forgetLaunch();
    }
  });
}
