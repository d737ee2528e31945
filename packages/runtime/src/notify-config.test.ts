import assert from 'node:assert/strict';
import type { OciSpec } from '@nsbox/core';
import { contributeLaunch, type OwnedNotifyRule } from '@nsbox/runtime-api';
import { mounts } from './layers/overlay-mount.js';
import { NO_IMAGE_REASON, notifyConfig, quotaDiskOf } from './notify-config.js';

const cgroup = { name: 'nsbox-test-notify', procsFiles: [], v1Dirs: {} };
const served: OwnedNotifyRule[] = [
  { syscall: 'quotactl', handler: 'quotactl', params: {}, owner: 'virtualisation' },
  { syscall: 'quotactl_fd', handler: 'quotactl_fd', params: {}, owner: 'virtualisation' },
];

/** The helper's config as [handler, KEY VALUE lines] pairs. */
function sections(text: string): [string, string[]][] {
  return text
    .split('handler ')
    .slice(1)
    .map((section) => {
      const [name, ...lines] = section.trim().split('\n');
      return [name as string, lines];
    });
}

describe('notify config: the quotactl handlers', () => {
  it('keeps a plugin’s refusal, and refuses a box without a disk image of its own, saying so', () => {
    const refused: OwnedNotifyRule[] = [{ syscall: 'quotactl', handler: 'quotactl', params: { reason: 'no quotas here' }, owner: 'virtualisation' }];
    assert.deepEqual(sections(notifyConfig(refused, cgroup, { quotaDisk: { mountPoint: '/' } })), [['quotactl', ['reason no quotas here']]]);
    assert.deepEqual(sections(notifyConfig(served, cgroup)), [
      ['quotactl', [`reason ${NO_IMAGE_REASON}`]],
      ['quotactl_fd', [`reason ${NO_IMAGE_REASON}`]],
    ]);
    assert.deepEqual(sections(notifyConfig(served.slice(0, 1), cgroup, { quotaDisk: { mountPoint: '/nonexistent/nsbox-test' } })), [
      ['quotactl', [`reason ${NO_IMAGE_REASON}`]],
    ]);
  });

  it('names the image’s device (the first mount at its mount point) and, for an idmapped root, the box’s maps', function () {
    // Any mount of a block device on this host stands for an image.
    const image = mounts().find((entry) => entry.source.startsWith('/dev/'));
    if (!image) this.skip();
    const point = (image as { point: string }).point;
    const device = mounts().find((entry) => entry.point === point)?.source as string;
    const spec = {
      annotations: {},
      linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 200000, size: 1000 }] },
    };
    contributeLaunch(spec, { diskImage: point });
    assert.deepEqual(sections(notifyConfig(served.slice(0, 1), cgroup, quotaDiskOf(spec as Pick<OciSpec, 'annotations' | 'linux'>))), [
      ['quotactl', [`device ${device}`]],
    ]);
    contributeLaunch(spec, { rootfsIdmap: true });
    assert.deepEqual(sections(notifyConfig(served.slice(1), cgroup, quotaDiskOf(spec as Pick<OciSpec, 'annotations' | 'linux'>))), [
      ['quotactl_fd', [`device ${device}`, 'disk-uid-map 0 100000 65536', 'disk-gid-map 0 200000 1000']],
    ]);
  });
});
