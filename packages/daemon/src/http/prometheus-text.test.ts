import assert from 'node:assert/strict';
import { exposition } from './prometheus-text.js';

describe("Prometheus' text format", () => {
  it('writes one HELP and TYPE per family, keeps a family together, and escapes labels and help', () => {
    const text = exposition([
      { name: 'nsbox_box_cpu_seconds_total', help: 'cpu\\time\nused', type: 'counter', labels: { box: 'a' }, value: 1.5 },
      { name: 'nsbox_box_processes', help: 'processes', type: 'gauge', labels: { box: 'a' }, value: 3 },
      { name: 'nsbox_box_cpu_seconds_total', help: 'ignored', type: 'counter', labels: { box: 'say "hi"\\\n' }, value: 2 },
      { name: 'nsbox_box_processes', help: 'processes', type: 'counter', labels: { box: 'b' }, value: 9 },
      { name: 'bad-name', help: 'x', type: 'gauge', labels: {}, value: 1 },
      { name: 'nsbox_box_ratio', help: 'r', type: 'gauge', labels: { 'bad-label': 'x', __reserved: 'y' }, value: Number.NaN },
    ]);
    assert.equal(
      text,
      [
        '# HELP nsbox_box_cpu_seconds_total cpu\\\\time\\nused',
        '# TYPE nsbox_box_cpu_seconds_total counter',
        'nsbox_box_cpu_seconds_total{box="a"} 1.5',
        'nsbox_box_cpu_seconds_total{box="say \\"hi\\"\\\\\\n"} 2',
        '# HELP nsbox_box_processes processes',
        '# TYPE nsbox_box_processes gauge',
        'nsbox_box_processes{box="a"} 3',
        '# HELP nsbox_box_ratio r',
        '# TYPE nsbox_box_ratio gauge',
        'nsbox_box_ratio NaN',
        '',
      ].join('\n'),
    );
  });
});
