/** The plugin's one service: its settings, criu's prefix, the engine and the checker made from them. */

import { CriuChecker } from './criu-check.js';
import { CriuEngine } from './criu-engine.js';
import { criuPrefix } from './criu-install.js';
import type { MigrationSettings } from './settings.js';

/** The plugin's service, as its actions reach it (bound in its module). */
export const migrationServiceId = Symbol('migration service');

export class MigrationService {
  readonly prefix: string;
  readonly engine: CriuEngine;
  readonly checker: CriuChecker;

  constructor(readonly settings: MigrationSettings) {
    this.prefix = criuPrefix(settings.criuPrefix);
    this.engine = new CriuEngine(settings, this.prefix);
    this.checker = new CriuChecker(this.prefix, settings);
  }
}
