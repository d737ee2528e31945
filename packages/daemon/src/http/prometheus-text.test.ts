import assert from 'node:assert/strict';
import { Exposition, exposition, familyBlocks, labelText, sampleLine } from './prometheus-text.js';

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

describe('family blocks of several sources', () => {
  it('keeps a family under one header across sources, drops a block of another type and the samples a writer refuses', () => {
    const first = familyBlocks(
      [
        { name: 'nsbox_box_processes', help: 'processes', type: 'gauge', labels: { box: 'a' }, value: 1 },
        { name: 'nsbox_box_cpu_seconds_total', help: 'cpu', type: 'counter', labels: { box: 'a' }, value: 2 },
        { name: 'nsbox_box_processes', help: 'processes', type: 'gauge', labels: { box: 'hidden' }, value: 9 },
      ],
      (sample) => (sample.labels['box'] === 'hidden' ? undefined : sampleLine(sample, labelText(sample.labels, { tenant: 't' }))),
    );
    const second = familyBlocks([
      { name: 'nsbox_box_processes', help: 'other help', type: 'gauge', labels: { box: 'b' }, value: 3 },
      { name: 'nsbox_box_cpu_seconds_total', help: 'cpu', type: 'gauge', labels: { box: 'b' }, value: 4 },
    ]);
    const out = new Exposition();
    for (const block of [...first, ...second]) out.add(block);
    assert.equal(
      out.text(),
      [
        '# HELP nsbox_box_processes processes',
        '# TYPE nsbox_box_processes gauge',
        'nsbox_box_processes{box="a",tenant="t"} 1',
        'nsbox_box_processes{box="b"} 3',
        '# HELP nsbox_box_cpu_seconds_total cpu',
        '# TYPE nsbox_box_cpu_seconds_total counter',
        'nsbox_box_cpu_seconds_total{box="a",tenant="t"} 2',
        '',
      ].join('\n'),
    );
  });
});
