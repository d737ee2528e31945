/** What every command gets: the global options and a lazily opened host. */

import type { ServiceIdentifier } from '@nsbox/core';
import { type NsboxHost, type OpenHostOptions, openHost } from '@nsbox/host';

export interface GlobalOptions {
  stateDir?: string;
  hostConfig?: string;
  pluginPath?: string[];
  json?: boolean;
  debug?: boolean;
}

export type DriverFactory = OpenHostOptions['driver'];

export class CliContext {
  private opened: Promise<NsboxHost> | undefined;

  constructor(
    readonly options: GlobalOptions,
    private readonly driver?: DriverFactory,
  ) {}

  host(): Promise<NsboxHost> {
    this.opened ??= openHost({
      ...(this.options.stateDir ? { stateDir: this.options.stateDir } : {}),
      ...(this.options.hostConfig ? { hostConfigFile: this.options.hostConfig } : {}),
      ...(this.options.pluginPath ? { pluginPaths: this.options.pluginPath } : {}),
      ...(this.driver ? { driver: this.driver } : {}),
    }).then(async (host) => {
      // Every face repairs what a killed process left before it acts (cheap when nothing is).
      await host.manager.reconcile();
      return host;
    });
    return this.opened;
  }

  /** The services view handed to plugin commands. */
  async services(): Promise<{ get<T>(id: ServiceIdentifier<T>): T }> {
    const host = await this.host();
    return { get: <T>(id: ServiceIdentifier<T>) => host.plugins.get<T>(id) };
  }

  async close(): Promise<void> {
    if (this.opened) (await this.opened.catch(() => undefined))?.close();
  }
}
