/**
 * The `isolation` section of a box config. Every field has a safe default: a box that says
 * nothing gets a user namespace with its own uid range, an idmapped rootfs, Docker's
 * capabilities, no_new_privs, the default seccomp profile, the device allowlist and a
 * private network namespace. Conflicts between fields are refused here, with their path,
 * so `nsbox config validate` finds them too.
 */

import { z } from '@nsbox/core';
import { isKnownCapability } from './capabilities.js';
import { knownSyscalls } from './syscall-names.js';

const absolutePath = z
  .string()
  .startsWith('/', 'must be an absolute path')
  .refine((path) => !path.split('/').includes('..'), 'must not contain ..');

const capabilityName = z.string().refine(isKnownCapability, { error: (issue) => `unknown capability '${String(issue.input)}'` });
const syscallName = z.string().refine((name) => knownSyscalls.has(name), { error: (issue) => `unknown syscall '${String(issue.input)}'` });

const idMapping = z.strictObject({
  containerID: z.number().int().min(0).max(0xfffffffe),
  hostID: z.number().int().min(1, 'must not map host root (uid/gid 0): that is a privileged box').max(0xfffffffe),
  size: z.number().int().min(1).max(0xffffffff),
});

const deviceNumber = z.union([z.number().int().min(0).max(0xfffff), z.literal('*')]);

/** A device the box may use: a host device node (bound into the box), or a rule by number. */
const deviceEntry = z.union([
  z.strictObject({
    path: absolutePath.startsWith('/dev/', 'must be a device under /dev'),
    access: z
      .string()
      .regex(/^[rwm]{1,3}$/, 'must be letters of rwm')
      .default('rwm'),
  }),
  z.strictObject({
    type: z.enum(['c', 'b', 'a']),
    major: deviceNumber.default('*'),
    minor: deviceNumber.default('*'),
    access: z
      .string()
      .regex(/^[rwm]{1,3}$/, 'must be letters of rwm')
      .default('rwm'),
  }),
]);

export const mountOptions = [
  'ro',
  'rw',
  'rro',
  'nosuid',
  'nodev',
  'noexec',
  'bind',
  'rbind',
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
] as const;

const bindMount = z.strictObject({
  source: absolutePath,
  destination: absolutePath.refine((path) => path.replace(/\/+$/, '') !== '', 'must not be /'),
  /** Recursive by default (rbind), as Docker's `--mount type=bind` does. */
  options: z.array(z.enum(mountOptions)).default([]),
  /** Show the host files owned by uid/gid 0.. as owned by the box's root.. (the box's own range). */
  idmap: z.boolean().default(false),
});

const hidepid = z.enum(['off', 'noaccess', 'invisible']);

export const isolationConfigSchema = z
  .strictObject({
    /** No user namespace: the box's root is the host's root. An explicit, per-box opt-in. */
    privileged: z.boolean().default(false),
    /** Explicit maps instead of a range from the allocator (the admin then owns their uniqueness). */
    uidMappings: z.array(idMapping).min(1).optional(),
    gidMappings: z.array(idMapping).min(1).optional(),
    capabilities: z
      .strictObject({
        add: z.array(capabilityName).default([]),
        drop: z.array(capabilityName).default([]),
      })
      .prefault({}),
    noNewPrivileges: z.boolean().default(true),
    seccomp: z
      .strictObject({
        /** `default`: nsbox's profile (Docker's, stricter); `unconfined`: no filter at all. */
        profile: z.enum(['default', 'unconfined']).default('default'),
        allow: z.array(syscallName).default([]),
        deny: z.array(syscallName).default([]),
      })
      .prefault({}),
    /** Additions to the device allowlist. */
    devices: z.array(deviceEntry).default([]),
    mounts: z.array(bindMount).default([]),
    readonlyRoot: z.boolean().default(false),
    procfs: z
      .strictObject({
        /** hidepid inside the box: `invisible` hides other users' processes from each other. */
        hidepid: hidepid.default('off'),
        /** subset=pid: /proc shows process directories only (an allowlist; many tools need more). */
        subsetPid: z.boolean().default(false),
      })
      .prefault({}),
    namespaces: z
      .strictObject({
        /** `host` shares the host's network stack (the network plugin's mode `shared` then confines it to its addresses). */
        network: z.enum(['private', 'host']).default('private'),
      })
      .prefault({}),
  })
  .superRefine((config, context) => {
    if (config.privileged) {
      for (const field of ['uidMappings', 'gidMappings'] as const) {
        if (config[field]) context.addIssue({ code: 'custom', path: [field], message: 'a privileged box has no user namespace: it takes no id mappings' });
      }
      config.mounts.forEach((mount, index) => {
        if (mount.idmap)
          context.addIssue({ code: 'custom', path: ['mounts', index, 'idmap'], message: 'a privileged box has no user namespace to idmap a mount with' });
      });
    }
    if (Boolean(config.uidMappings) !== Boolean(config.gidMappings)) {
      context.addIssue({ code: 'custom', path: [config.uidMappings ? 'gidMappings' : 'uidMappings'], message: 'uidMappings and gidMappings go together' });
    }
    for (const field of ['uidMappings', 'gidMappings'] as const) {
      const mappings = config[field];
      if (mappings && !mappings.some((mapping) => mapping.containerID === 0)) {
        context.addIssue({ code: 'custom', path: [field], message: "must map the box's root (containerID 0)" });
      }
    }
    config.seccomp.allow.forEach((name, index) => {
      if (config.seccomp.deny.includes(name))
        context.addIssue({ code: 'custom', path: ['seccomp', 'allow', index], message: `'${name}' is both allowed and denied` });
    });
    if (config.seccomp.profile === 'unconfined' && (config.seccomp.allow.length > 0 || config.seccomp.deny.length > 0)) {
      context.addIssue({ code: 'custom', path: ['seccomp', 'profile'], message: 'unconfined takes no allow or deny list' });
    }
  });

export type IsolationConfig = z.output<typeof isolationConfigSchema>;
export type BindMountConfig = IsolationConfig['mounts'][number];
export type DeviceConfig = IsolationConfig['devices'][number];

/** The section as the plugin applies it when a box config says nothing about isolation. */
export function defaultIsolationConfig(): IsolationConfig {
  return isolationConfigSchema.parse({});
}
