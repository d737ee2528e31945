/**
 * Prometheus' text exposition format (version 0.0.4): one `# HELP` and one `# TYPE` line per
 * metric family, then its samples, families never split; label values and help escaped as
 * the format says.
 */

import type { MetricSample } from '@nsbox/core';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeValue = (text: string) => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Samples of invalid names are dropped rather than break the whole scrape. */
export function exposition(samples: readonly MetricSample[]): string {
  const families = new Map<string, { help: string; type: MetricSample['type']; lines: string[] }>();
  for (const sample of samples) {
    if (!METRIC_NAME.test(sample.name)) continue;
    const labels = Object.entries(sample.labels).filter(([name]) => LABEL_NAME.test(name) && !name.startsWith('__'));
    const family = families.get(sample.name) ?? { help: sample.help, type: sample.type, lines: [] };
    families.set(sample.name, family);
    if (family.type !== sample.type) continue; // one family, one type: the first contributor's
    const labelText = labels.length ? `{${labels.map(([name, value]) => `${name}="${escapeValue(value)}"`).join(',')}}` : '';
    family.lines.push(`${sample.name}${labelText} ${formatValue(sample.value)}`);
  }
  let text = '';
  for (const [name, family] of families) {
    text += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n${family.lines.join('\n')}\n`;
  }
  return text;
}
