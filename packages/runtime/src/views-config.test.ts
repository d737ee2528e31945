import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NsboxError, OciSpec } from '@nsbox/core';
import { type BoxCgroup, contributeProcViews, procViews } from '@nsbox/runtime-api';
import { viewsConfig } from './views-config.js';

describe('the /proc views handoff (contributeProcViews) and nsbox-proc-view’s config', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsbox-views-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('carries the views in the spec, one owner, and refuses an unknown file naming the field', () => {
    const spec = { annotations: {} } as Pick<OciSpec, 'annotations'>;
    assert.equal(procViews(spec), undefined, 'none asked: none');
    contributeProcViews(spec, 'virt', ['meminfo', 'kmsg', 'meminfo']);
    assert.deepEqual(procViews(spec), { owner: 'virt', files: ['meminfo', 'kmsg'] });
    assert.throws(
      () => contributeProcViews(spec, 'other', ['stat']),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /procViews: the \/proc views are plugin 'virt''s already/.test(error.message),
    );
    assert.throws(
      () => contributeProcViews(spec, 'virt', ['meminfo', 'passwd' as never]),
      (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && /procViews.files: no view of 'passwd'/.test(error.message),
    );
    contributeProcViews(spec, 'virt', []);
    assert.equal(procViews(spec), undefined, 'an empty list: none');
  });

  it('fills in the box’s v1 cgroup files that exist, and its cgroup name', () => {
    const v1: Record<string, string> = {};
    for (const [controller, files] of Object.entries({
      memory: ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'memory.stat'],
      cpu: ['cpu.cfs_quota_us', 'cpu.cfs_period_us'],
      cpuacct: ['cpuacct.stat'],
      cpuset: ['cpuset.cpus'],
      pids: ['tasks'],
    })) {
      v1[controller] = join(dir, controller, 'box');
      mkdirSync(v1[controller] as string, { recursive: true });
      for (const file of files) writeFileSync(join(v1[controller] as string, file), '0');
    }
    const cgroup: BoxCgroup = { name: 'box-1', procsFiles: [], v1Dirs: v1 } as unknown as BoxCgroup;
    const text = viewsConfig({ owner: 'virt', files: ['meminfo', 'loadavg'] }, cgroup);
    const lines = text.trim().split('\n').slice(1);
    assert.deepEqual(lines, [
      'file meminfo',
      'file loadavg',
      'cgroup.name box-1',
      `memory.limit ${join(v1.memory as string, 'memory.limit_in_bytes')}`,
      `memory.usage ${join(v1.memory as string, 'memory.usage_in_bytes')}`,
      `memory.stat ${join(v1.memory as string, 'memory.stat')}`,
      `cpuset.cpus ${join(v1.cpuset as string, 'cpuset.cpus')}`,
      `cpu.quota ${join(v1.cpu as string, 'cpu.cfs_quota_us')}`,
      `cpu.period ${join(v1.cpu as string, 'cpu.cfs_period_us')}`,
      `cpu.usage-v1 ${join(v1.cpuacct as string, 'cpuacct.stat')}`,
      `tasks ${join(v1.pids as string, 'tasks')}`,
    ]);
    assert.doesNotMatch(text, /swap/, 'no memsw files (swapaccount=0): no swap keys, the host’s swap stays');
  });
});
