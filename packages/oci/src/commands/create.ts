/**
 * `create`: the box is built and its init waits, held by the launcher, until `start`. The
 * core does the work (validate, define, plugins' spec and prepare hooks, driver start) with
 * the bundle's config.json as the spec; the prestart, createRuntime and createContainer
 * hooks run in the launcher at their moments. A failure at any step leaves nothing behind.
 */

import { type Box, NsboxError, operationContext, type RestoreOptions } from '@nsbox/core';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { assertSystemdCgroupSupported, parseCgroupsPath } from '../box/cgroup-paths.js';
import { inheritedFds, withVariables } from '../box/inherited-fds.js';
import { ociBundleInput, ociLaunchInput } from '../box/oci-driver.js';
import { loadBundle } from '../bundle/load-bundle.js';
import { checkResources, translateResources } from '../bundle/resources.js';
import { boxNameFor, CGROUPS_PATH_ANNOTATION, checkId, OCI_ID_ANNOTATION } from '../oci-runtime.js';
import { type CommandContext, writePidFile } from './context.js';

export interface CreateOptions {
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  /** `run` without --detach: the caller stays and waits for the init (and can relay a tty). */
  foreground?: boolean;
  /** crun's --config: config.json's path, relative to the bundle. */
  config?: string;
  /** `restore`: the init comes back from these images, running, instead of being launched and held. */
  restore?: RestoreOptions;
}

export async function createContainer(context: CommandContext, id: string, options: CreateOptions): Promise<Box> {
  checkId(id);
  const { runtime } = context;
  const fds = inheritedFds(context.caller.request, options.preserveFds ?? 0);
  return runtime.locks.with(id, async () => {
    if (runtime.find(id)) throw new NsboxError('E_ALREADY_EXISTS', `container with id exists: ${id}`, { details: { id } });
    const bundle = loadBundle(options.bundle ?? context.cwd, context.cwd, options.config);
    const { spec } = bundle;
    if (fds.env.length > 0) spec.process.env = withVariables(spec.process.env, fds.env);
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
    // Applied by the runtime's cgroup manager when the box starts (owner 'oci'); refused now if this host cannot.
    const resources = translateResources(spec.linux.resources);
    checkResources(runtime.driver.resources, resources);
    for (const field of resources.ignored) context.log.warn(`${field} is ignored: kernel memory limits are gone from cgroup v2 and deprecated on v1`);
    const cgroupsPath = spec.linux.cgroupsPath;
    if (context.systemdCgroup) assertSystemdCgroupSupported(runtime.cgroups.layout);
    if (cgroupsPath) parseCgroupsPath(cgroupsPath, runtime.cgroups.parent, { systemd: context.systemdCgroup ?? false });
    const name = boxNameFor(id);
    const disabled = runtime.disabledPlugins();
    const config = {
      rootfs: spec.root.path,
      annotations: { [OCI_ID_ANNOTATION]: id, ...(cgroupsPath ? { [CGROUPS_PATH_ANNOTATION]: cgroupsPath } : {}) },
      ...(disabled.length > 0 ? { plugins: { disable: disabled } } : {}),
    };
    // The bundle and the caller travel with the operation to the driver's create and start.
    const withBundle = ociBundleInput.with(operationContext(), { id, bundle: bundle.dir, spec });
    const operation = ociLaunchInput.with(withBundle, {
      caller: context.caller,
      env: context.caller.request.env,
      preserveFds: fds.count,
      ...(options.consoleSocket ? { consoleSocket: options.consoleSocket } : {}),
      ...(options.foreground ? { subreaper: true } : {}),
    });
    context.log.debug(`create ${id}: box ${name}, bundle ${bundle.dir}`);
    let box = await runtime.manager.create({ name, config }, operation);
    try {
      box = options.restore ? await runtime.manager.restore(box.id, options.restore, operation) : await runtime.manager.start(box.id, operation);
      const init = (box.runtime as LinuxRuntimeFacts).init;
      if (options.pidFile && init) writePidFile(context, options.pidFile, init.pid);
      return box;
    } catch (error) {
      await runtime.manager.destroy(box.id, { force: true }).catch((cleanup: Error) => context.log.warn(`cleanup of ${id}: ${cleanup.message}`));
      runtime.forget(box);
      throw error;
    }
  });
}
