/**
 * The plugin's lifecycle hooks: check what the schema cannot (files on the host), edit the
 * spec, write the v1 device rules before the box's first process exists, record what was
 * applied, and give the box's uid range back when it is destroyed.
 */

import { readFileSync, statSync } from 'node:fs';
import { type HookContext, inject, injectable, type LifecycleHooks, NsboxError, optional } from '@nsbox/core';
import { type CgroupDriver, runtimeRefs } from '@nsbox/runtime-api';
import { defaultIsolationConfig, type IsolationConfig } from './config-schema.js';
import { deviceAllowlist, v1RuleText } from './devices.js';
import { reachableByOthers } from './host-reach.js';
import type { IsolationHostSettings } from './host-settings.js';
import { applyIsolation } from './isolation-spec.js';
import { IsolationTokens } from './tokens.js';
import type { UidAllocator } from './uid-allocator.js';

type Context = HookContext<IsolationConfig>;

function configOf(context: Context): IsolationConfig {
  // A box config without an `isolation` section gets every default.
  return context.config ?? defaultIsolationConfig();
}

function invalid(field: string, message: string): NsboxError {
  return new NsboxError('E_INVALID_CONFIG', `${field}: ${message}`, { details: { field, issues: [{ path: field, message }] } });
}

/** Mount points of the host (this process's mount namespace). */
function hostMountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
}

/** A box whose root may remount its binds (and so make a read-only one writable). */
function mayRemount(config: IsolationConfig): boolean {
  return config.capabilities.add.some((cap) => ['SYS_ADMIN', 'CAP_SYS_ADMIN', 'ALL', 'CAP_ALL'].includes(cap.toUpperCase()));
}

@injectable()
export class IsolationHooks implements LifecycleHooks<IsolationConfig> {
  constructor(
    @inject(IsolationTokens.UidAllocator) private readonly allocator: UidAllocator,
    @inject(IsolationTokens.HostSettings) private readonly settings: IsolationHostSettings,
    @inject(runtimeRefs.cgroups.token) @optional() private readonly cgroups?: CgroupDriver,
  ) {}

  /**
   * Refuses a path the box writes into that other host users can reach (host-reach.ts),
   * unless the admin allows it (`settings.isolation.reachableSources`).
   */
  private refuseReachable(field: string, what: string, path: string): void {
    if (this.settings.reachableSources) return;
    const reason = reachableByOthers(path);
    if (reason === undefined) return;
    throw invalid(
      field,
      `${what} '${path}' is reachable by other host users (${reason}): files the box makes there, setuid ones too, would be theirs to run. ` +
        'Put it below a root-owned directory of mode 0700, or let the host allow it (settings.isolation.reachableSources in host.json)',
    );
  }

  /** Runs at create (nothing exists yet) and before every start. */
  validate(context: Context): void {
    const config = configOf(context);
    config.mounts.forEach((mount, index) => {
      const field = `isolation.mounts[${index}].source`;
      try {
        statSync(mount.source);
      } catch {
        throw invalid(field, `bind source '${mount.source}' does not exist on the host`);
      }
      // A read-only bind plants nothing, unless the box may remount it.
      const readonly = mount.options.includes('ro') || mount.options.includes('rro');
      if (!readonly || mayRemount(config)) this.refuseReachable(field, 'bind source', mount.source);
      // The kernel refuses, in a user namespace, a plain bind of a tree with mounts below
      // it (that would uncover what they hide): say so now, with the way out.
      const recursive = !mount.options.includes('bind') || mount.options.includes('rbind') || mount.options.includes('rro');
      if (!recursive && !config.privileged) {
        const below = hostMountPoints().find((point) => point.startsWith(`${mount.source.replace(/\/+$/, '')}/`));
        if (below)
          throw invalid(
            `isolation.mounts[${index}].options`,
            `'bind' of '${mount.source}' would hide the mount at '${below}' below it, which a user namespace may not do: use 'rbind'`,
          );
      }
    });
    const rootfs = (context.box.config as { rootfs?: string }).rootfs;
    if (rootfs) this.refuseReachable('rootfs', 'the rootfs', rootfs);
    deviceAllowlist(config.devices);
  }

  spec(context: Context): void {
    const config = configOf(context);
    const explicit = config.uidMappings !== undefined;
    // Also a rootfs the driver made (from a template): wherever it lies, host users must not reach it.
    this.refuseReachable('rootfs', 'the rootfs', context.spec.root.path);
    const ranges = config.privileged || explicit ? undefined : this.allocator.allocate(context.box.id);
    applyIsolation(context.spec, config, { ...(ranges ? { ranges } : {}), devices: deviceAllowlist(config.devices), settings: this.settings });
  }

  /**
   * The v1 devices controller, where the host has one: at `configure` the runtime has made
   * the box's cgroup and nothing runs in it yet, so the rules are in place before the launcher
   * puts the box's first process in it. cgroup2 gets the same rules as a BPF program from the
   * launcher. The runtime alone creates and removes the cgroup.
   */
  configure(context: Context): void {
    const cgroups = this.cgroups;
    if (!cgroups?.layout.v1.devices) return;
    const rules = deviceAllowlist(configOf(context).devices).rules;
    for (const rule of rules) cgroups.write(context.box.id, 'devices', rule.allow ? 'devices.allow' : 'devices.deny', v1RuleText(rule));
  }

  started(context: Context): void {
    const spec = context.spec;
    const uidMap = spec.linux.uidMappings?.map((mapping) => `${mapping.containerID} ${mapping.hostID} ${mapping.size}`).join(', ');
    context.report('applied', {
      privileged: uidMap === undefined,
      ...(uidMap ? { uidMap } : {}),
      namespaces: spec.linux.namespaces.map((namespace) => namespace.type),
      capabilities: spec.process.capabilities?.bounding?.length ?? 0,
      seccomp: spec.linux.seccomp ? `${spec.linux.seccomp.syscalls?.[0]?.names.length ?? 0} syscalls allowed, others EPERM` : 'unconfined',
      noNewPrivileges: spec.process.noNewPrivileges ?? false,
    });
  }

  /** Namespaces, mounts and filters are set when a box starts: a change waits for the next start. */
  update(context: Context): void {
    context.report('restart-required', { reason: 'isolation settings apply when the box next starts' });
  }

  destroy(context: Context): void {
    const freed = this.allocator.free(context.box.id);
    if (freed) context.report('range-freed', { uid: freed.uid.hostID, gid: freed.gid.hostID, size: freed.uid.size });
  }
}
