import assert from 'node:assert/strict';
import { hostBinds, parseMountinfo, viewMounts } from './mountinfo.js';

// A box as the launcher builds it: an idmapped root, its own proc/tmpfs/devpts, host device
// nodes bound from devtmpfs, masks bound from /dev/null, a volume with a space in its name.
const box = `106 83 254:0 /tmp/rootfs / rw,nosuid,nodev,relatime,idmapped - ext4 /dev/vda rw
108 106 0:47 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
109 106 0:48 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
114 109 0:6 /null /dev/null rw,relatime - devtmpfs devtmpfs rw,mode=755
56 108 0:6 /null /proc/keys rw,relatime - devtmpfs devtmpfs rw,mode=755
59 108 0:47 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
70 106 254:0 /srv/my\\040data /data rw,relatime - ext4 /dev/vda rw`;

const host = `25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755
31 25 0:20 / /proc rw - proc proc rw`;

describe('migration: which of a box mounts are the host files', () => {
  it('names host binds with their host path, and leaves the root and the box own filesystems to criu', () => {
    assert.deepEqual(hostBinds(parseMountinfo(box), parseMountinfo(host)), [
      { destination: '/dev/null', source: '/dev/null' },
      { destination: '/proc/keys', source: '/dev/null' },
      { destination: '/data', source: '/srv/my data' },
    ]);
  });

  it('finds the host path through a host mount whose root is a sub-directory', () => {
    const bound = parseMountinfo('40 25 254:1 /volumes /mnt/vol rw - ext4 /dev/vdb rw');
    const inBox = parseMountinfo('106 83 254:0 /r / rw - ext4 /dev/vda rw\n90 106 254:1 /volumes/app /app rw - ext4 /dev/vdb rw');
    assert.deepEqual(hostBinds(inBox, bound), [{ destination: '/app', source: '/mnt/vol/app' }]);
  });

  it("takes the /proc and /sys views (FUSE mounts of the shim's connection) back as the host's own files, and leaves /dev/kmsg's", () => {
    const views = parseMountinfo(
      [
        '120 108 0:60 /meminfo /proc/meminfo rw,nosuid,nodev - fuse.nsbox-proc-view nsbox rw',
        '121 106 0:60 /cpu-online /sys/devices/system/cpu/online rw - fuse nsbox rw',
        '122 109 0:61 /kmsg /dev/kmsg rw - fuse.nsbox-proc-view nsbox rw',
      ].join('\n'),
    );
    assert.deepEqual(viewMounts([...parseMountinfo(box), ...views]), [
      { destination: '/proc/meminfo', source: '/proc/meminfo' },
      { destination: '/sys/devices/system/cpu/online', source: '/sys/devices/system/cpu/online' },
    ]);
  });
});
