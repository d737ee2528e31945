import assert from 'node:assert/strict';
import type { OciSpec } from '@nsbox/core';
import { allowRebootFromInside } from './reboot-capability.js';

function spec(namespaces: string[], seccomp = true): OciSpec {
  return {
    ociVersion: '1.2.0',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['/sbin/init'],
      cwd: '/',
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
    },
    root: { path: '/' },
    mounts: [],
    linux: {
      namespaces: namespaces.map((type) => ({ type })),
      ...(seccomp ? { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] } } : {}),
    },
  } as OciSpec;
}

describe('virtualisation: reboot from inside', () => {
  it('gives a box with its own pid and user namespaces CAP_SYS_BOOT and reboot(2) in its filter, once', () => {
    const edited = spec(['pid', 'user', 'mount']);
    assert.equal(allowRebootFromInside(edited, {}), true);
    assert.equal(allowRebootFromInside(edited, {}), true);
    assert.deepEqual(edited.process.capabilities?.bounding, ['CAP_KILL', 'CAP_SYS_BOOT']);
    assert.deepEqual(edited.process.capabilities?.effective, ['CAP_KILL', 'CAP_SYS_BOOT']);
    assert.deepEqual(
      edited.linux.seccomp?.syscalls?.filter((rule) => rule.names.includes('reboot')),
      [{ names: ['reboot'], action: 'SCMP_ACT_ALLOW' }],
    );
  });

  it("leaves a privileged box (the host's CAP_SYS_BOOT), a box in the host's pid namespace and an explicit refusal alone", () => {
    for (const [namespaces, config] of [
      [['pid', 'mount'], {}],
      [['user', 'mount'], {}],
      [['pid', 'user'], { isolation: { capabilities: { drop: ['SYS_BOOT'] } } }],
      [['pid', 'user'], { isolation: { capabilities: { drop: ['ALL'] } } }],
      [['pid', 'user'], { isolation: { seccomp: { deny: ['reboot'] } } }],
    ] as const) {
      const untouched = spec([...namespaces]);
      assert.equal(allowRebootFromInside(untouched, config), false, JSON.stringify([namespaces, config]));
      assert.deepEqual(untouched, spec([...namespaces]));
    }
  });
});
