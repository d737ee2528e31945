/**
 * What every command gets: the global options, a lazily opened host, and the BoxApi — the
 * in-process one over that host, or the one over nsboxd's API when a daemon serves the state
 * directory (podman's `abi` and `tunnel`). Commands are written once against it.
 *
 * The host, the runtime and the plugins are imported when a command first needs the host:
 * a command that nsboxd serves never loads them (most of a command's start-up otherwise).
 */

import { RemoteBoxApi } from '@nsbox/client';
import type { AnyPlugin, BoxApi, BoxOptionContribution, ServiceIdentifier, SetOptionContribution } from '@nsbox/core';
import type { NsboxHost, OpenHostOptions } from '@nsbox/host';
import type { RemoteTarget } from './remote-daemon.js';
import { type BoxTerminal, remoteTerminal } from './terminal.js';

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
  private local: Promise<BoxApi> | undefined;
  /** Plugins' options of `create` and `run` (boxOptionPoint), known once the host opened. */
  boxOptions: readonly BoxOptionContribution[] = [];
  /** Plugins' options of `set` (setOptionPoint), known once the host opened. */
  setOptions: readonly SetOptionContribution[] = [];

  constructor(
    readonly options: GlobalOptions,
    private readonly driver?: DriverFactory,
    /** The nsboxd that serves the state directory: box commands go through it. */
    readonly remote?: RemoteTarget,
  ) {}

  host(): Promise<NsboxHost> {
    this.opened ??= this.openHost();
    return this.opened;
  }

  /** The plugins' definitions, imported and checked as the host would, none of them set up. */
  async plugins(): Promise<AnyPlugin[]> {
    const { findPlugins } = await import('@nsbox/host');
    return findPlugins(this.hostOptions());
  }

  private hostOptions() {
    return {
      ...(this.options.stateDir ? { stateDir: this.options.stateDir } : {}),
      ...(this.options.hostConfig ? { hostConfigFile: this.options.hostConfig } : {}),
      ...(this.options.pluginPath ? { pluginPaths: this.options.pluginPath } : {}),
    };
  }

  private async openHost(): Promise<NsboxHost> {
    const { openHost } = await import('@nsbox/host');
    const host = await openHost({ ...this.hostOptions(), ...(this.driver ? { driver: this.driver } : {}) });
    // Every face repairs what a killed process left before it acts (cheap when nothing is);
    // when nsboxd serves the state directory, repairing is its job.
    if (!this.remote) {
      await host.manager.reconcile();
      const { settleHostServices } = await import('./settle-services.js');
      await settleHostServices(host);
    }
    return host;
  }

  /** The application layer: through nsboxd when it serves the state directory, in-process otherwise. */
  async api(): Promise<BoxApi> {
    // The compiler holds the SDK to the same interface as the in-process BoxApi.
    if (this.remote) return new RemoteBoxApi(this.remote.client) satisfies BoxApi;
    this.local ??= this.localApi();
    return this.local;
  }

  private async localApi(): Promise<BoxApi> {
    const host = await this.host();
    const [{ LocalBoxApi }, { LinuxBoxDriver }, { linuxBoxIo }] = await Promise.all([
      import('@nsbox/host'),
      import('@nsbox/runtime'),
      import('./linux-box-io.js'),
    ]);
    return new LocalBoxApi(host, host.driver instanceof LinuxBoxDriver ? linuxBoxIo(host.driver) : undefined);
  }

  /** Commands on this process's terminal (exec, enter). */
  async terminal(): Promise<BoxTerminal> {
    if (this.remote) return remoteTerminal(this.remote.client);
    const { localTerminal } = await import('./local-terminal.js');
    return localTerminal(await this.host());
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
