import assert from 'node:assert/strict';
import { z } from 'zod';
import { validateBoxConfig } from './config.js';
import { NsboxError } from './errors.js';
import { definePlugin } from './plugin.js';

// A non-strict zod object on purpose: the core must still refuse fields it would strip.
const limits = definePlugin({
  name: 'limits',
  version: '1.0.0',
  core: '^1.0.0',
  config: z.object({
    memory: z.string().regex(/^\d+[KMG]?$/, 'must be a size like 512M'),
    pids: z.number().int().positive().optional(),
    io: z.array(z.object({ device: z.string() })).optional(),
  }),
});
const network = definePlugin({ name: 'network', version: '1.0.0', core: '^1.0.0', config: z.strictObject({ ip: z.string().default('10.0.0.2') }) });

async function issuesOf(config: unknown): Promise<{ path: string; message: string }[]> {
  try {
    await validateBoxConfig(config, [limits, network]);
  } catch (error) {
    assert.ok(error instanceof NsboxError);
    assert.equal(error.code, 'E_INVALID_CONFIG');
    return error.details.issues as { path: string; message: string }[];
  }
  assert.fail('expected the config to be refused');
}

describe('box config validation', () => {
  it('accepts a valid config and applies section defaults', async () => {
    const config = await validateBoxConfig({ rootfs: '/srv/box', process: { args: ['/bin/sh'] }, limits: { memory: '512M' }, network: {} }, [limits, network]);
    assert.deepEqual(config.network, { ip: '10.0.0.2' });
    assert.deepEqual(config.limits, { memory: '512M' });
  });

  it('takes a hostname only as RFC 1123 spells it, as nsbox set does', async () => {
    const config = await validateBoxConfig({ hostname: 'web-1.example.org', limits: { memory: '1M' } }, [limits]);
    assert.equal(config.hostname, 'web-1.example.org');
    for (const [hostname, why] of [
      ['bad_name', /label 'bad_name' is not an RFC 1123 label/],
      ['-web', /label '-web'/],
      ['web-', /label 'web-'/],
      ['a..b', /empty label/],
      ['x'.repeat(65), /at most 64 characters/],
    ] as const) {
      const issues = await issuesOf({ hostname, limits: { memory: '1M' } });
      assert.equal(issues.length, 1, hostname);
      assert.equal(issues[0]?.path, 'hostname');
      assert.match(issues[0]?.message ?? '', why, hostname);
    }
  });

  it('names the exact field of a plugin section that is wrong', async () => {
    const issues = await issuesOf({ limits: { memory: 'lots' } });
    assert.deepEqual(issues, [{ path: 'limits.memory', message: 'must be a size like 512M' }]);
  });

  it('refuses unknown fields inside a section, even with a non-strict schema', async () => {
    const issues = await issuesOf({ limits: { memory: '1G', io: [{ device: 'sda', weight: 5 }], swapiness: 3 } });
    assert.deepEqual(issues.map((issue) => issue.path).sort(), ['limits.io.0.weight', 'limits.swapiness']);
  });

  it('refuses an unknown section and unknown core fields', async () => {
    const issues = await issuesOf({ limtis: { memory: '1G' }, process: { argz: [] } });
    assert.deepEqual(issues.map((issue) => issue.path).sort(), ['limtis', 'process.argz']);
    assert.match(issues.find((issue) => issue.path === 'limtis')?.message ?? '', /unknown section/);
  });

  it('refuses a section of a plugin the box disables', async () => {
    const issues = await issuesOf({ plugins: { disable: ['network', 'nope'] }, network: {} });
    assert.deepEqual(issues.map((issue) => issue.path).sort(), ['network', 'plugins.disable']);
  });

  it('reports core field types with their path', async () => {
    const issues = await issuesOf({ rootfs: 'relative/path', process: { args: [] } });
    assert.deepEqual(issues.map((issue) => issue.path).sort(), ['process.args', 'rootfs']);
  });
});
