/** The limits plugin's actions: each a CLI command, an API route and an SDK call. */

import type { ActionTypes } from '@nsbox/core';
import { poolCreateAction, poolListAction, poolRemoveAction } from './pool-actions.js';
import { setAction } from './set-action.js';
import { showAction } from './show-action.js';

export const limitsActions = [setAction, showAction, poolCreateAction, poolListAction, poolRemoveAction] as const;

/** For typed SDK calls: `client.actions.plugin<LimitsActions>('limits').set({ box: 'web1', memory: '1G' })`. */
export type LimitsActions = ActionTypes<typeof limitsActions>;
