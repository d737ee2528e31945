import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type NsboxError, validateBoxConfig } from '@nsbox/core';
import { limitsConfigSchema } from './config-schema.js';
import { limitsPlugin } from './limits-plugin.js';
import { mergeSpecRlimits, parseProcLimits, RLIM_INFINITY } from './rlimits.js';
import { version } from './version.js';

const MiB = 2 ** 20;

async function issues(limits: unknown): Promise<string[]> {
  try {
    await validateBoxConfig({ limits }, [limitsPlugin]);
    return [];
  } catch (error) {
    assert.equal((error as NsboxError).code, 'E_INVALID_CONFIG');
    return ((error as NsboxError).details['issues'] as { path: string; message: string }[]).map((issue) => `${issue.path}: ${issue.message}`);
  }
}

describe('limits: the config section', () => {
  it('turns human units into numbers the drivers write', async () => {
    const config = await validateBoxConfig(
      {
        limits: {
          cpus: '1.5',
          cpuset: '1,0',
          memory: '512M',
          memoryHigh: '256M',
          swap: 0,
          pids: '2k',
          rlimits: { nofile: { soft: 1024, hard: '4096' }, core: 0, stack: '8M', as: 'unlimited' },
          io: [{ device: '/dev/vda', writeBps: '10M', readIops: '1k' }],
          disk: '5G',
          inodes: '100k',
        },
      },
      [limitsPlugin],
    );
    assert.deepEqual(config['limits'], {
      cpus: 1.5,
      cpuset: '0-1',
      memory: 512 * MiB,
      memoryHigh: 256 * MiB,
      swap: 0,
      pids: 2000,
      rlimits: {
        nofile: { soft: 1024, hard: 4096 },
        core: { soft: 0, hard: 0 },
        stack: { soft: 8 * MiB, hard: 8 * MiB },
        as: { soft: 'unlimited', hard: 'unlimited' },
      },
      io: [{ device: '/dev/vda', writeBps: 10 * MiB, readIops: 1000 }],
      disk: 5 * 2 ** 30,
      inodes: 100_000,
    });
    // The stored (normalised) section validates again unchanged: updates merge into it.
    assert.deepEqual(limitsConfigSchema.parse(config['limits']), config['limits']);
  });

  it('names the field of every bad value', async () => {
    assert.deepEqual(await issues({ cpus: 0 }), ['limits.cpus: 0: a CPU limit must be more than 0 (leave it out for no limit)']);
    assert.deepEqual(await issues({ memory: '-5M', disk: 'big' }), [
      "limits.memory: '-5M' is negative: a size is 0 or more",
      "limits.disk: 'big' is not a size: use bytes or a number with K, M, G or T (512M, 1.5G)",
    ]);
    assert.deepEqual(await issues({ pids: 0 }), ['limits.pids: pids must be at least 1']);
    assert.deepEqual(await issues({ cpuset: '1-0' }), ["limits.cpuset: '1-0' in '1-0' is a range that runs backwards"]);
    assert.deepEqual(await issues({ rlimits: { files: 1, nofile: { soft: 10, hard: 5 } } }), [
      "limits.rlimits.files: unknown rlimit 'files' (one of: cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime)",
      'limits.rlimits.nofile: soft limit 10 is above the hard limit 5',
    ]);
    assert.deepEqual(await issues({ io: [{ device: 'sda', writeBps: '1M' }, { device: '/dev/vda' }] }), [
      "limits.io[0].device: must be a block device path such as /dev/vda, or 'major:minor' such as 254:0",
      'limits.io[1]: give at least one of readBps, writeBps, readIops, writeIops',
    ]);
    assert.deepEqual(await issues({ inodes: 1000 }), ['limits.inodes: an inode limit needs a disk limit (the box gets its own filesystem)']);
    assert.deepEqual(await issues({ memory: '1G', memoryHigh: '2G' }), ['limits.memoryHigh: memoryHigh above memory would never act: make it at most memory']);
    assert.deepEqual(await issues({ disk: '1M' }), ['limits.disk: disk must be at least 16777216']);
    assert.deepEqual(await issues({ cpu: 1 }), ['limits.cpu: unknown field']);
  });

  it('maps rlimits to the OCI spec, replacing entries of the same name', () => {
    const merged = mergeSpecRlimits(
      [
        { type: 'RLIMIT_NOFILE', soft: 1, hard: 1 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      ],
      {
        nofile: { soft: 1024, hard: 4096 },
        as: { soft: 'unlimited', hard: 'unlimited' },
      },
    );
    assert.deepEqual(merged, [
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_AS', soft: RLIM_INFINITY, hard: RLIM_INFINITY },
    ]);
    const limits = parseProcLimits(
      'Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 4096                 files\nMax core file size        unlimited            unlimited            bytes\n',
    );
    assert.deepEqual(limits.nofile, { soft: 1024, hard: 4096 });
    assert.deepEqual(limits.core, { soft: 'unlimited', hard: 'unlimited' });
  });

  it('has the version of its package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifest.version);
  });
});
