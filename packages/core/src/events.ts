/** The event bus: every transition and every plugin-reported event, persisted as history. */

import type { BoxEvent, BoxEventInput } from './box-event.js';
import type { HistoryRepository } from './ports.js';

export type { BoxEvent, BoxEventInput } from './box-event.js';

export interface EventFilter {
  boxId?: string;
  kind?: string;
}

type Listener = (event: BoxEvent) => void;

export class EventBus {
  private readonly listeners = new Set<{ filter: EventFilter; listener: Listener }>();

  constructor(
    private readonly history: HistoryRepository,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Persists the event first, so a listener never sees an event that history lacks. */
  publish(input: BoxEventInput): BoxEvent {
    const event = this.history.append({
      boxId: input.boxId,
      kind: input.kind,
      source: input.source,
      data: input.data ?? {},
      time: input.time ?? this.clock(),
    });
    for (const { filter, listener } of this.listeners) {
      if (matches(event, filter)) {
        try {
          listener(event);
        } catch {
          // A faulty listener must not break the operation that published the event.
        }
      }
    }
    return event;
  }

  subscribe(filter: EventFilter, listener: Listener): () => void {
    const entry = { filter, listener };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }
}

function matches(event: BoxEvent, filter: EventFilter): boolean {
  if (filter.boxId && event.boxId !== filter.boxId) return false;
  if (filter.kind && event.kind !== filter.kind && !event.kind.startsWith(`${filter.kind}.`)) return false;
  return true;
}
