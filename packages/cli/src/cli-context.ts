/** What every command gets: the global options and a lazily opened host. */

import type { ServiceIdentifier } from '@nsbox/core';
import { type NsboxHost, type OpenHostOptions, openHost } from '@nsbox/host';
import type { RemoteTarget } from './remote-daemon.js';

export interface GlobalOptions {
  stateDir?: string;
  hostConfig?: string;
  pluginPath?: string[];
  json?: boolean;
  debug?: boolean;
  /** Work on the state directory even when nsboxd serves it. */
  local?: boolean;
}

export type DriverFactory = OpenHostOptions['driver'];

export class CliContext {
  private opened: Promise<NsboxHost> | undefined;

  constructor(
    readonly options: GlobalOptions,
    private readonly driver?: DriverFactory,
    /** The nsboxd that serves the state directory: box commands go through it. */
    readonly remote?: RemoteTarget,
  ) {}

  host(): Promise<NsboxHost> {
    this.opened ??= openHost({
      ...(this.options.stateDir ? { stateDir: this.options.stateDir } : {}),
      ...(this.options.hostConfig ? { hostConfigFile: this.options.hostConfig } : {}),
      ...(this.options.pluginPath ? { pluginPaths: this.options.pluginPath } : {}),
      ...(this.driver ? { driver: this.driver } : {}),
    }).then(async (host) => {
      // Every face repairs what a killed process left before it acts (cheap when nothing is);
      // when nsboxd serves the state directory, repairing is its job.
      if (!this.remote) await host.manager.reconcile();
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
    this.remote?.client.close();
    if (this.opened) (await this.opened.catch(() => undefined))?.close();
  }
}
