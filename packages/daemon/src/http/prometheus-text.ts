/**
 * Prometheus' text exposition format (version 0.0.4): one `# HELP` and one `# TYPE` line per
 * metric family, then its samples, families never split; label values and help escaped as
 * the format says. Samples of names the format refuses are dropped rather than break the
 * whole scrape, and so are labels of such names.
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

/**
 * Names are few (some 50 metrics, a handful of labels) and samples many (45,000 in a scrape of
 * a thousand boxes): each name is checked once per process.
 */
function memoized(check: (name: string) => boolean): (name: string) => boolean {
  const known = new Map<string, boolean>();
  return (name) => {
    let valid = known.get(name);
    if (valid === undefined) {
      valid = check(name);
      known.set(name, valid);
    }
    return valid;
  };
}
const validMetric = memoized((name) => METRIC_NAME.test(name));
const validLabel = memoized((name) => LABEL_NAME.test(name) && !name.startsWith('__'));

/**
 * A sample's labels as the line writes them, `{name="value",...}` ('' for none). `override`
 * replaces the values of some labels (and adds those the sample lacks, last).
 */
export function labelText(labels: Readonly<Record<string, string>>, override?: Readonly<Record<string, string>>): string {
  const pairs: string[] = [];
  for (const name in labels) {
    if (validLabel(name)) pairs.push(`${name}="${escapeValue(override?.[name] ?? (labels[name] as string))}"`);
  }
  if (override) {
    for (const name in override) if (!(name in labels) && validLabel(name)) pairs.push(`${name}="${escapeValue(override[name] as string)}"`);
  }
  // A flat string (join), not a rope: every line of the labels copies it.
  return pairs.length === 0 ? '' : ['{', pairs.join(','), '}'].join('');
}

/** One sample's line, without its newline; `labels`: its labelText when the caller has it. */
export function sampleLine(sample: MetricSample, labels = labelText(sample.labels)): string {
  return `${sample.name}${labels} ${formatValue(sample.value)}`;
}

/** The lines of one family, as one block of text (lines joined by newlines, no final one). */
export interface FamilyBlock {
  name: string;
  help: string;
  type: MetricSample['type'];
  lines: string;
}

/**
 * Samples grouped by family, families in the order of their first sample. `lineOf` writes a
 * sample, or drops it (undefined). A sample whose type is not its family's is dropped.
 */
export function familyBlocks(
  samples: readonly MetricSample[],
  lineOf: (sample: MetricSample) => string | undefined = (sample) => sampleLine(sample),
): FamilyBlock[] {
  const families = new Map<string, { help: string; type: MetricSample['type']; lines: string[] }>();
  for (const sample of samples) {
    if (!validMetric(sample.name)) continue;
    let family = families.get(sample.name);
    if (family === undefined) {
      family = { help: sample.help, type: sample.type, lines: [] };
      families.set(sample.name, family);
    }
    if (family.type !== sample.type) continue;
    const line = lineOf(sample);
    if (line !== undefined) family.lines.push(line);
  }
  return [...families].flatMap(([name, { help, type, lines }]) => (lines.length === 0 ? [] : [{ name, help, type, lines: lines.join('\n') }]));
}

/** A scrape's text: blocks of several sources, a family's blocks together under one header. */
export class Exposition {
  private readonly families = new Map<string, { help: string; type: MetricSample['type']; blocks: string[] }>();

  /** One family, one type: a block of another type than the family's first is dropped. */
  add(block: FamilyBlock): void {
    const family = this.families.get(block.name);
    if (family === undefined) this.families.set(block.name, { help: block.help, type: block.type, blocks: [block.lines] });
    else if (family.type === block.type) family.blocks.push(block.lines);
  }

  text(): string {
    const parts: string[] = [];
    for (const [name, family] of this.families) parts.push(`# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}`, ...family.blocks);
    return parts.length === 0 ? '' : `${parts.join('\n')}\n`;
  }
}

export function exposition(samples: readonly MetricSample[]): string {
  const out = new Exposition();
  for (const block of familyBlocks(samples)) out.add(block);
  return out.text();
}
