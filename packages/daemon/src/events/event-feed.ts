/**
 * The event stream is a tail of the store's history table: ids are monotonic, so a client
 * resumes from the last id it saw, and events written by other processes (a local `nsbox`
 * next to nsboxd) arrive too. The in-process event bus only wakes the tail up early.
 */

import type { BoxEvent, EventBus, HistoryQuery } from '@nsbox/core';

export interface FeedFilter {
  boxId?: string;
  kind?: string;
  /** Only events of this tenant's boxes. */
  tenant?: string;
}

export interface HistorySource {
  query(query: HistoryQuery): BoxEvent[];
}

/** How often a tail looks for events of other processes when the bus stays quiet. */
const POLL_MS = 250;
const PAGE = 500;

export class EventFeed {
  private readonly owners = new Map<string, string | null>();

  constructor(
    private readonly history: HistorySource,
    private readonly bus: EventBus,
    /** The owner of a box that exists now; undefined when it does not. */
    private readonly currentOwner: (boxId: string) => string | null | undefined,
    /** The id of the newest event: where a stream that asks for no history starts. */
    readonly latestId: () => number,
  ) {}

  /** Events after `afterId` that pass the filter, at most `limit`. */
  page(filter: FeedFilter, afterId: number, limit: number): { events: BoxEvent[]; lastId: number } {
    const events: BoxEvent[] = [];
    let last = afterId;
    while (events.length < limit) {
      const batch = this.history.query({
        afterId: last,
        limit: PAGE,
        ...(filter.boxId ? { boxId: filter.boxId } : {}),
        ...(filter.kind ? { kind: filter.kind } : {}),
      });
      for (const event of batch) {
        last = event.id;
        if (filter.tenant === undefined || this.ownerOf(event) === filter.tenant) events.push(event);
        if (events.length >= limit) break;
      }
      if (batch.length < PAGE) break;
    }
    return { events, lastId: last };
  }

  /** Calls `onEvent` for every matching event after `afterId`, then for new ones, until `signal` aborts. */
  async follow(filter: FeedFilter, afterId: number, onEvent: (event: BoxEvent) => void, signal: AbortSignal): Promise<void> {
    let last = afterId;
    let wake: (() => void) | undefined;
    const unsubscribe = this.bus.subscribe({}, () => wake?.());
    try {
      while (!signal.aborted) {
        const { events, lastId } = this.page(filter, last, PAGE);
        last = lastId;
        for (const event of events) onEvent(event);
        if (events.length === PAGE) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, POLL_MS);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          }
          wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }

  /** Whose box an event is about; remembered, since the box may be gone by now. */
  ownerOf(event: BoxEvent): string | null {
    const cached = this.owners.get(event.boxId);
    if (cached !== undefined) return cached;
    let owner = this.currentOwner(event.boxId);
    if (owner === undefined) {
      // A destroyed box: its first event (box.defined) recorded the owner.
      const defined = this.history.query({ boxId: event.boxId, kind: 'box.defined', limit: 1 })[0];
      owner = (defined?.data.owner as string | null | undefined) ?? null;
    }
    this.owners.set(event.boxId, owner);
    return owner;
  }
}
