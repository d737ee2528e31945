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
const NEEDS_ESCAPE = /[\\"\n]/;
const escapeValue = (text: string) => (NEEDS_ESCAPE.test(text) ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : text);

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

interface Family {
  help: string;
  type: MetricSample['type'];
  lines: string[];
}

/**
 * Samples of invalid names are dropped rather than break the whole scrape. A scrape of a
 * thousand boxes is some 45,000 samples: names are checked once each, not once per sample.
 */
export function exposition(samples: readonly MetricSample[]): string {
  // null: a name the format refuses.
  const families = new Map<string, Family | null>();
  const labelNames = new Map<string, boolean>();
  const validLabel = (name: string) => {
    let valid = labelNames.get(name);
    if (valid === undefined) {
      valid = LABEL_NAME.test(name) && !name.startsWith('__');
      labelNames.set(name, valid);
    }
    return valid;
  };
  for (const sample of samples) {
    let family = families.get(sample.name);
    if (family === undefined) {
      family = METRIC_NAME.test(sample.name) ? { help: sample.help, type: sample.type, lines: [] } : null;
      families.set(sample.name, family);
    }
    if (family === null || family.type !== sample.type) continue; // one family, one type: the first contributor's
    let labelText = '';
    for (const [name, value] of Object.entries(sample.labels)) {
      if (validLabel(name)) labelText += `${labelText === '' ? '' : ','}${name}="${escapeValue(value)}"`;
    }
    family.lines.push(`${sample.name}${labelText === '' ? '' : `{${labelText}}`} ${formatValue(sample.value)}`);
  }
  let text = '';
  for (const [name, family] of families) {
    if (family !== null) text += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n${family.lines.join('\n')}\n`;
  }
  return text;
}
