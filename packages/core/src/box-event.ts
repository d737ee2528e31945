/** What the history holds: an event about a box (types only, shared by the bus and the ports). */

export interface BoxEventInput {
  boxId: string;
  /** Dotted kind: `state.running`, `hook.failed`, `limits.oom`, ... */
  kind: string;
  /** `core` or the name of the plugin that reported it. */
  source: string;
  data?: Record<string, unknown>;
  time?: number;
}

export interface BoxEvent extends Required<Omit<BoxEventInput, 'time'>> {
  id: number;
  time: number;
}
