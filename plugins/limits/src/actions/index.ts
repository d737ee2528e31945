/** The limits plugin's actions: each a CLI command, an API route and an SDK call. */

import type { ActionTypes } from '@nsbox/core';
import { poolCreateAction, poolListAction, poolRemoveAction } from './pool-actions.js';
import { showAction } from './show-action.js';

export const limitsActions = [showAction, poolCreateAction, poolListAction, poolRemoveAction] as const;

/** For typed SDK calls: `client.actions.plugin<LimitsActions>('limits').show({ box: 'web1' })`; its set options are the core's `boxes.set`. */
export type LimitsActions = ActionTypes<typeof limitsActions>;
