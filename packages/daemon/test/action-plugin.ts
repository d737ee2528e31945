/**
 * A third-party plugin that declares actions, as a panel vendor writes one: `stamp` (about a
 * box, audited) and `peek` (about a box, read-only). nsboxd gets the definition in code; a
 * CLI process loads this file through the host config, as a user's host would name it.
 */

import { type ActionTypes, defineAction, definePlugin, z } from '@nsbox/core';

export const ACTION_PLUGIN = 'notes';

const stamp = defineAction({
  name: 'stamp',
  description: 'stamps a note on a box',
  input: z.strictObject({ box: z.string().min(1), note: z.string().min(1).max(20) }),
  box: true,
  cli: {
    arguments: [{ name: 'box', required: true }],
    options: [{ flags: '--note <text>', description: 'the note' }],
  },
  // The box as the caller knows it, through the caller's own BoxApi.
  async run(input, { api, tenant }) {
    const shown = await api.get(input.box);
    return { box: shown.name, state: shown.state, note: input.note, tenant };
  },
  render: (result) => `stamped ${result.box}: ${result.note}`,
});

const peek = defineAction({
  name: 'peek',
  description: "a box's state, as its caller sees it",
  input: z.strictObject({ box: z.string().min(1) }),
  box: true,
  readOnly: true,
  async run(input, { api }) {
    const shown = await api.get(input.box);
    return { box: shown.name, state: shown.state };
  },
});

export const noteActions = [stamp, peek] as const;
export type NoteActions = ActionTypes<typeof noteActions>;

export const actionPlugin = definePlugin({ name: ACTION_PLUGIN, version: '1.0.0', core: '^1.0.0', actions: noteActions });
