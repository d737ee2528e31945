import assert from 'node:assert/strict';
import { type AnyPlugin, type NsboxError, validateBoxConfig } from '@nsbox/core';
import { defaultIsolationConfig } from './config-schema.js';
import { isolationPlugin } from './index.js';

const validate = (isolation: unknown) => validateBoxConfig({ isolation }, [isolationPlugin as AnyPlugin]);

async function issuesOf(isolation: unknown): Promise<string[]> {
  try {
    await validate(isolation);
  } catch (error) {
    return ((error as NsboxError).details.issues as { path: string; message: string }[]).map((issue) => `${issue.path}: ${issue.message}`);
  }
  return [];
}

describe('the isolation config section', () => {
  it('defaults to an unprivileged box with every protection on', () => {
    const config = defaultIsolationConfig();
    assert.equal(config.privileged, false);
    assert.equal(config.noNewPrivileges, true);
    assert.equal(config.seccomp.profile, 'default');
    assert.equal(config.namespaces.network, 'private');
    assert.deepEqual(config.capabilities, { add: [], drop: [] });
  });

  it('accepts capability names with or without CAP_, in any case', async () => {
    const config = await validate({ capabilities: { add: ['net_admin', 'CAP_SYS_TIME'], drop: ['ALL'] } });
    assert.deepEqual((config.isolation as { capabilities: unknown }).capabilities, { add: ['net_admin', 'CAP_SYS_TIME'], drop: ['ALL'] });
  });

  it('names the field of every mistake', async () => {
    assert.deepEqual(await issuesOf({ capabilities: { drop: ['CAP_TELEPORT'] } }), ["isolation.capabilities.drop[0]: unknown capability 'CAP_TELEPORT'"]);
    assert.deepEqual(await issuesOf({ seccomp: { allow: ['mount', 'nope'] } }), ["isolation.seccomp.allow[1]: unknown syscall 'nope'"]);
    assert.deepEqual(await issuesOf({ seccomp: { allow: ['mount'], deny: ['mount'] } }), ["isolation.seccomp.allow[0]: 'mount' is both allowed and denied"]);
    assert.deepEqual(await issuesOf({ mounts: [{ source: 'relative', destination: '/x' }] }), ['isolation.mounts[0].source: must be an absolute path']);
    assert.deepEqual(await issuesOf({ mounts: [{ source: '/a', destination: '/' }] }), ['isolation.mounts[0].destination: must not be /']);
    assert.deepEqual(await issuesOf({ mounts: [{ source: '/a', destination: '/x/../../etc' }] }), ['isolation.mounts[0].destination: must not contain ..']);
    assert.deepEqual(await issuesOf({ devices: [{ path: '/etc/passwd' }] }), ['isolation.devices[0].path: must be a device under /dev']);
    assert.deepEqual(await issuesOf({ flavour: 'strict' }), ['isolation.flavour: unknown field']);
  });

  it('refuses conflicting options, and takes a read-only root with a writable bind inside it', async () => {
    const map = [{ containerID: 0, hostID: 200000, size: 65536 }];
    assert.deepEqual(await issuesOf({ privileged: true, uidMappings: map, gidMappings: map }), [
      'isolation.uidMappings: a privileged box has no user namespace: it takes no id mappings',
      'isolation.gidMappings: a privileged box has no user namespace: it takes no id mappings',
    ]);
    assert.deepEqual(await issuesOf({ privileged: true, mounts: [{ source: '/srv', destination: '/srv', idmap: true }] }), [
      'isolation.mounts[0].idmap: a privileged box has no user namespace to idmap a mount with',
    ]);
    assert.deepEqual(await issuesOf({ uidMappings: map }), ['isolation.gidMappings: uidMappings and gidMappings go together']);
    assert.deepEqual(await issuesOf({ uidMappings: [{ containerID: 1, hostID: 200000, size: 10 }], gidMappings: map }), [
      "isolation.uidMappings: must map the box's root (containerID 0)",
    ]);
    assert.deepEqual(await issuesOf({ seccomp: { profile: 'unconfined', deny: ['mount'] } }), [
      'isolation.seccomp.profile: unconfined takes no allow or deny list',
    ]);
    assert.deepEqual(await issuesOf({ readonlyRoot: true, mounts: [{ source: '/srv', destination: '/srv', options: ['rw'] }] }), []);
  });
});
