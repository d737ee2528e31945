/**
 * The host side of box networking, in the host-side namespace (the host's own, or the one
 * `settings.network.netns` names): the bridge with a gateway address per pool, forwarding.
 * nsbox changes no interface but its bridge and its veths.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { isNetlinkError, listLinks, netlink, setNetSysctl } from '@nsbox/native';
import { randomMacAddress } from './mac.js';
import { type Pool, STATE_NAMESPACE } from './pools.js';
import type { NetworkSettings } from './settings.js';

export class HostSide {
  /** What this process last made sure of (bridge and gateways; forwarding): a box's start then skips it. */
  private bridgeEnsured: string | undefined;
  private forwardingEnsured: string | undefined;

  constructor(
    private readonly settings: NetworkSettings,
    private readonly state: PluginStateStore,
  ) {}

  get netns(): string | undefined {
    return this.settings.netns;
  }

  get bridge(): string {
    return this.settings.bridge;
  }

  /** Whose bridge a name is: nsbox records the bridges it made (per namespace). */
  private bridgeKey(): string {
    return `bridge:${this.settings.netns ?? 'host'}:${this.settings.bridge}`;
  }

  /**
   * Makes the bridge (or finds the one nsbox made), gives it each pool's gateway address and
   * turns forwarding on (the nft tables are the service's: rule-tables.ts). A link of that
   * name that nsbox did not make is refused: nsbox never takes over an interface of the host.
   * Done once per process and set of pools: later starts trust it (see {@link trusted}).
   */
  ensure(pools: readonly Pool[]): void {
    const key = JSON.stringify([this.settings.bridge, pools.map((pool) => `${pool.gateway}/${pool.prefix}`)]);
    if (this.bridgeEnsured === key) return;
    this.bridgeEnsured = undefined;
    this.ensureBridge(pools);
    this.bridgeEnsured = key;
  }

  /**
   * Whether the last ensure was taken on trust: a step that then fails on the host side (the
   * bridge deleted by hand meanwhile) is worth one more try after {@link forget}.
   */
  get trusted(): boolean {
    return this.bridgeEnsured !== undefined;
  }

  /** The next ensure looks again. */
  forget(): void {
    this.bridgeEnsured = undefined;
    this.forwardingEnsured = undefined;
  }

  private ensureBridge(pools: readonly Pool[]): void {
    const ns = this.settings.netns;
    const name = this.settings.bridge;
    const existing = listLinks(ns).find((link) => link.name === name);
    if (existing && (existing.kind !== 'bridge' || this.state.get(STATE_NAMESPACE, this.bridgeKey()) === undefined)) {
      throw new NsboxError('E_ALREADY_EXISTS', `link '${name}' exists and is not a bridge nsbox made; choose another settings.network.bridge`, {
        details: { field: 'settings.network.bridge' },
      });
    }
    if (!existing) {
      // A MAC of its own: a bridge without one takes its ports' lowest, and so changes as boxes
      // come and go — and every box's neighbour entry for its gateway goes wrong each time.
      netlink(ns, [{ op: 'bridge-add', name, address: randomMacAddress() }]);
      this.state.set(STATE_NAMESPACE, this.bridgeKey(), JSON.stringify({ createdAt: Date.now() }));
    }
    for (const pool of pools) {
      try {
        netlink(ns, [{ op: 'addr-add', dev: name, address: pool.gateway, prefix: pool.prefix }]);
      } catch (error) {
        if (!isNetlinkError(error, 'EEXIST')) throw error;
      }
    }
    netlink(ns, [{ op: 'link-up', name }]);
    this.ensureForwarding(pools);
  }

  /** Forwarding on in the host-side namespace for the pools' families (bridged and routed boxes). */
  ensureForwarding(pools: readonly Pool[]): void {
    const key = [...new Set(pools.map((pool) => pool.family))].sort().join();
    if (this.forwardingEnsured === key) return;
    if (pools.some((pool) => pool.family === 4)) setNetSysctl(this.settings.netns, 'net.ipv4.ip_forward', '1');
    if (pools.some((pool) => pool.family === 6)) setNetSysctl(this.settings.netns, 'net.ipv6.conf.all.forwarding', '1');
    this.forwardingEnsured = key;
  }

  /** Deletes a host-side link, nothing when it is gone already (its box's namespace took it along). */
  removeLink(name: string): boolean {
    try {
      netlink(this.settings.netns, [{ op: 'link-del', name }]);
      return true;
    } catch (error) {
      if (isNetlinkError(error, 'ENODEV')) return false;
      throw error;
    }
  }
}
