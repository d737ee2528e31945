import { definePlugin } from '@nsbox/core';

/** Placeholder until the plugin lands: installed, valid, and does nothing yet. */
export const limitsPlugin = definePlugin({ name: 'limits', version: '0.1.0', core: '^1.0.0' });
