import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { OciSpec } from '@nsbox/core';
import { addTimeNamespace } from './time-namespace.js';

describe('virtualisation: the time namespace of a box', () => {
  it('adds a time namespace once, with offsets that bring both clocks to about zero as the kernel takes them', () => {
    const spec = { linux: { namespaces: [{ type: 'pid' }] } } as unknown as OciSpec;
    const before = Number.parseFloat(readFileSync('/proc/uptime', 'utf8'));
    addTimeNamespace(spec);
    addTimeNamespace(spec);
    assert.deepEqual(
      spec.linux.namespaces.map((namespace) => namespace.type),
      ['pid', 'time'],
    );
    const after = Number.parseFloat(readFileSync('/proc/uptime', 'utf8'));
    for (const clock of ['boottime', 'monotonic'] as const) {
      const offset = spec.linux.timeOffsets?.[clock] as { secs: number; nanosecs: number };
      assert.ok(Number.isInteger(offset.secs) && offset.secs <= 0, `${clock}: whole seconds, not positive`);
      assert.ok(Number.isInteger(offset.nanosecs) && offset.nanosecs >= 0 && offset.nanosecs < 1e9, `${clock}: 0 <= nanosecs < 1e9`);
    }
    const boottime = spec.linux.timeOffsets?.boottime as { secs: number; nanosecs: number };
    const seconds = -(boottime.secs + boottime.nanosecs / 1e9);
    assert.ok(seconds <= after + 0.01 && seconds >= before - 0.01, `minus the host's uptime (${seconds} s, host ${before}-${after} s)`);
  });
});
