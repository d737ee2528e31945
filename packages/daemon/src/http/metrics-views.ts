/**
 * What `GET /metrics` serves, written per caller (the host's, each tenant's: they see other
 * boxes, under other names) and kept while it holds. A contribution that hands the same
 * samples again (tracking's between two of its rounds, as MetricsContribution allows) is not
 * written again: a thousand boxes are some 35,000 lines. One that says when its samples
 * change (`onChange`: tracking's sampler round, which ends once they are written) has them
 * written then, off any request, for each caller whose pace puts its next scrape before the
 * next change (a Prometheus scraping every 15 s, 1 min...): that scrape serves the bytes
 * already written, as a second scrape of the same round does. A caller that stopped
 * scraping, or scrapes by hand, costs the rounds nothing.
 */

import { type Box, type MetricSample, type MetricsContribution, metricsPoint } from '@nsbox/core';
import { shownBoxName } from '../boxes/box-names.js';
import type { DaemonContext } from '../context.js';
import { Exposition, type FamilyBlock, familyBlocks, labelText, sampleLine } from './prometheus-text.js';

/** What a contribution gave last time, written out as one caller sees it. */
interface Written {
  samples: readonly MetricSample[];
  /** The running boxes it was written for (their names and tenants). */
  boxes: string;
  blocks: FamilyBlock[];
}

/** One caller (null: the host's tokens; else a tenant): what was written for it, and its pace. */
interface Viewer {
  tenant: string | null;
  written: Map<MetricsContribution, Written>;
  /** When it last scraped, and the time between its last two scrapes (ms, monotonic). */
  lastScrape: number;
  gap?: number;
  /** The last body served, with what it was made of: served again while they are the same. */
  body?: { states: string; parts: (Written | undefined)[]; bytes: Buffer };
}

/** The running boxes a caller sees, as a key: the names and tenants its text was written for. */
interface Running {
  boxes: Box[];
  byName: Map<string, Box>;
  key: string;
}

/** Callers whose last scrapes are kept. */
const KEPT_VIEWERS = 16;

export class MetricsViews {
  private readonly viewers = new Map<string | null, Viewer>();
  /** Contributions whose changes are followed, with when each last changed and the time between its last two changes. */
  private readonly followed = new Map<MetricsContribution, { last?: number; gap?: number }>();
  /**
   * Samples share their labels objects (tracking's of one box): each is written once per
   * name it is shown under (the host's, its tenant's), not once per sample.
   */
  private readonly labelTexts = new WeakMap<Readonly<Record<string, string>>, { box: string; tenant: string; text: string }[]>();
  private readonly now = () => performance.now();

  constructor(private readonly context: DaemonContext) {}

  /**
   * The caller's scrape: every contribution's samples for its running boxes, and its boxes by
   * state. As bytes: the same body (2 MB at a thousand boxes) is not encoded again.
   */
  async scrape(tenant: string | null): Promise<Buffer> {
    const viewer = this.viewer(tenant);
    const now = this.now();
    if (viewer.lastScrape >= 0) viewer.gap = now - viewer.lastScrape;
    viewer.lastScrape = now;
    const visible = this.visible(tenant);
    const running = this.running(visible);
    const parts: (Written | undefined)[] = [];
    for (const contribution of this.contributions()) parts.push(await this.write(viewer, contribution, running));
    return this.body(viewer, visible, parts);
  }

  private contributions(): MetricsContribution[] {
    return this.context.host.plugins.contributions(metricsPoint);
  }

  /** The text of the boxes' states and the contributions' parts, as bytes: the last body again if they are the same. */
  private body(viewer: Viewer, visible: readonly Box[], parts: (Written | undefined)[]): Buffer {
    const counts = new Map<string, number>();
    for (const box of visible) counts.set(box.state, (counts.get(box.state) ?? 0) + 1);
    const states = [...counts].join(';');
    const last = viewer.body;
    if (last && last.states === states && last.parts.length === parts.length && last.parts.every((part, index) => part === parts[index])) return last.bytes;
    const out = new Exposition();
    const samples = [...counts].map(
      ([state, count]): MetricSample => ({ name: 'nsbox_boxes', help: 'boxes by state', type: 'gauge', labels: { state }, value: count }),
    );
    for (const block of familyBlocks(samples)) out.add(block);
    for (const part of parts) for (const block of part?.blocks ?? []) out.add(block);
    viewer.body = { states, parts, bytes: Buffer.from(out.text()) };
    return viewer.body.bytes;
  }

  private viewer(tenant: string | null): Viewer {
    let viewer = this.viewers.get(tenant);
    if (!viewer) {
      if (this.viewers.size >= KEPT_VIEWERS) this.viewers.delete(this.viewers.keys().next().value as string | null);
      viewer = { tenant, written: new Map(), lastScrape: -1 };
      this.viewers.set(tenant, viewer);
    }
    return viewer;
  }

  /** Host-wide callers see every box; a tenant only its own (as Scope.sees). */
  private visible(tenant: string | null): Box[] {
    const boxes = this.context.manager.list();
    return tenant === null ? boxes : boxes.filter((box) => box.owner === tenant);
  }

  private running(visible: readonly Box[]): Running {
    const boxes = visible.filter((box) => box.state === 'running');
    return { boxes, byName: new Map(boxes.map((box) => [box.name, box])), key: boxes.map((box) => `${box.name}/${box.owner ?? ''}`).join('\n') };
  }

  /** The contribution's samples for these boxes, written for the viewer (kept text while they are the same); undefined when it failed. */
  private async write(viewer: Viewer, contribution: MetricsContribution, running: Running): Promise<Written | undefined> {
    this.follow(contribution);
    let collected: MetricSample[];
    try {
      collected = running.boxes.length ? await contribution.collect(running.boxes) : [];
    } catch {
      return undefined; // one plugin's failure does not empty the scrape
    }
    const last = viewer.written.get(contribution);
    if (last && last.boxes === running.key && same(last.samples, collected)) return last;
    // A box's samples come one after the other with the same labels: looked up once.
    let labels: MetricSample['labels'] | undefined;
    let text: string | undefined;
    const lineOf = (sample: MetricSample) => {
      if (sample.labels !== labels) {
        labels = sample.labels;
        const box = labels['box'] === undefined ? undefined : running.byName.get(labels['box']);
        text = box && this.labelsOf(labels, shownBoxName(viewer.tenant, box.name), box.owner ?? '');
      }
      return text === undefined ? undefined : sampleLine(sample, text);
    };
    const written = { samples: collected.slice(), boxes: running.key, blocks: familyBlocks(collected, lineOf) };
    viewer.written.set(contribution, written);
    return written;
  }

  private labelsOf(labels: Readonly<Record<string, string>>, box: string, tenant: string): string {
    let known = this.labelTexts.get(labels);
    const hit = known?.find((entry) => entry.box === box && entry.tenant === tenant);
    if (hit) return hit.text;
    const text = labelText(labels, { box, tenant });
    if (!known) {
      known = [];
      this.labelTexts.set(labels, known);
    }
    if (known.length < 2) known.push({ box, tenant, text });
    return text;
  }

  private follow(contribution: MetricsContribution): void {
    if (this.followed.has(contribution) || !contribution.onChange) return;
    this.followed.set(contribution, {});
    contribution.onChange(() => this.changed(contribution));
  }

  /**
   * The contribution's samples changed: written now (the contribution waits: tracking's round
   * ends with them written) for each caller whose pace says it scrapes before the next change.
   */
  private async changed(contribution: MetricsContribution): Promise<void> {
    const now = this.now();
    const change = this.followed.get(contribution) ?? {};
    if (change.last !== undefined) change.gap = now - change.last;
    change.last = now;
    for (const viewer of [...this.viewers.values()]) {
      if (!scrapesBefore(viewer, now, change.gap ?? viewer.gap)) continue;
      // The body too, with what the other contributions gave last (the scrape asks them again).
      const visible = this.visible(viewer.tenant);
      const written = await this.write(viewer, contribution, this.running(visible));
      this.body(
        viewer,
        visible,
        this.contributions().map((other) => (other === contribution ? written : viewer.written.get(other))),
      );
    }
  }
}

/**
 * Whether the viewer's pace (the time between its last two scrapes) puts its next scrape
 * within `horizon` (ms: the time to the contribution's next change) of `now`, and it has not
 * missed that scrape by more than a horizon (it stopped, or scrapes by hand).
 */
function scrapesBefore(viewer: Viewer, now: number, horizon: number | undefined): boolean {
  if (viewer.gap === undefined || horizon === undefined) return false;
  const next = viewer.lastScrape + viewer.gap;
  return next <= now + horizon && now <= next + horizon;
}

/** The same samples, the same objects in the same order. */
function same(before: readonly MetricSample[], now: readonly MetricSample[]): boolean {
  if (before.length !== now.length) return false;
  for (let index = 0; index < now.length; index++) if (before[index] !== now[index]) return false;
  return true;
}
