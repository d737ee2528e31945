/** The plugin's one service: its settings, criu's prefix, the engine, the checker and the migration records. */

import type { OperationLog, PluginDatabases } from '@nsbox/core';
import type { TransferServices } from './box-transfer.js';
import { CriuChecker } from './criu-check.js';
import { CriuEngine } from './criu-engine.js';
import { criuPrefix } from './criu-install.js';
import type { IncomingSide } from './incoming.js';
import { MigrationRecords } from './migration-records.js';
import type { OutgoingSide } from './outgoing.js';
import type { MigrationSettings } from './settings.js';

/** The plugin's service, as its actions reach it (bound in its module). */
export const migrationServiceId = Symbol('migration service');

export class MigrationService {
  readonly prefix: string;
  readonly engine: CriuEngine;
  readonly checker: CriuChecker;
  readonly records: MigrationRecords;
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    readonly settings: MigrationSettings,
    databases?: PluginDatabases,
  ) {
    this.prefix = criuPrefix(settings.criuPrefix);
    this.engine = new CriuEngine(settings, this.prefix);
    this.checker = new CriuChecker(this.prefix, settings);
    this.records = new MigrationRecords(databases);
  }

  /** Runs body once whatever else this process does about the same migration has ended. */
  exclusive<T>(upload: string, body: () => Promise<T>): Promise<T> {
    const before = this.busy.get(upload) ?? Promise.resolve();
    const next = before.then(body, body);
    const tail = next.catch(() => undefined);
    this.busy.set(upload, tail);
    void tail.then(() => {
      if (this.busy.get(upload) === tail) this.busy.delete(upload);
    });
    return next;
  }

  incomingSide(transfer: TransferServices): IncomingSide {
    return { records: this.records, manager: transfer.manager, files: transfer.files, exclusive: (upload, body) => this.exclusive(upload, body) };
  }

  outgoingSide(transfer: TransferServices, log: OperationLog): OutgoingSide {
    return { ...this.incomingSide(transfer), log, engine: this.engine };
  }
}
