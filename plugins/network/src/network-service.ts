/** The plugin's parts put together: pools, claims, the host side and the box wiring. */

import { type Box, type MetricSample, NsboxError, type OciSpec, type PluginStateStore } from '@nsbox/core';
import { listLinks } from '@nsbox/native';
import { boxRoot, type CgroupDriver, runtimeFacts } from '@nsbox/runtime-api';
import type { PoolView } from './actions.js';
import type { WiredBox } from './anti-spoof.js';
import { BoxAddresses, sectionOf } from './box-addresses.js';
import { BoxWiring, hostNameservers, type WireInput } from './box-wiring.js';
import { Claims } from './claims.js';
import type { NetworkConfig } from './config-schema.js';
import { type AllowRule, FirewallRules, formatAllow, parseAllow } from './firewall.js';
import { type Forward, Forwards, formatForward, parseForward } from './forwards.js';
import { HostSide } from './host-side.js';
import { hostIdOf, hostLinkName } from './link-names.js';
import type { ForwardRule } from './nat.js';
import { checkConfiguredPools, type Pool, Pools, STATE_NAMESPACE } from './pools.js';
import { RuleTables } from './rule-tables.js';
import { type NetworkSettings, networkSettingsSchema } from './settings.js';
import { parseRate, type Rates, Shaper } from './shaping.js';
import { checkSharedHost, confineToAddresses, sharedAddresses } from './shared-stack.js';

/** The rates a network section asks for, in bytes per second. */
export function ratesOf(section: NetworkConfig | undefined): Rates {
  return {
    egress: section?.rate === undefined ? undefined : parseRate(section.rate),
    ingress: section?.ingressRate === undefined ? undefined : parseRate(section.ingressRate),
  };
}

/** State key of a box whose veth is wired now (its anti-spoofing rules are written from these). */
const WIRED_KEY = 'wired:';

export class NetworkService {
  readonly settings: NetworkSettings;
  readonly pools: Pools;
  readonly addresses: BoxAddresses;
  readonly host: HostSide;
  readonly wiring: BoxWiring;
  readonly forwards: Forwards;
  readonly firewall: FirewallRules;
  readonly shaper: Shaper;
  readonly tables: RuleTables;
  private hostId: string | undefined;

  constructor(
    private readonly state: PluginStateStore,
    rawSettings: unknown,
    private readonly cgroups?: CgroupDriver,
  ) {
    const parsed = networkSettingsSchema.safeParse(rawSettings ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = `settings.network${issue?.path.length ? `.${issue.path.join('.')}` : ''}`;
      throw new NsboxError('E_INVALID_CONFIG', `${field}: ${issue?.message}`, { details: { field } });
    }
    this.settings = parsed.data;
    checkConfiguredPools(this.settings.pools);
    this.pools = new Pools(state, this.settings.pools);
    this.addresses = new BoxAddresses(this.settings, this.pools, new Claims(state));
    this.host = new HostSide(this.settings, state);
    this.wiring = new BoxWiring(this.host);
    this.forwards = new Forwards(state);
    this.firewall = new FirewallRules(state);
    this.shaper = new Shaper(() => this.settings.netns);
    this.tables = new RuleTables(() => this.settings.netns, {
      natPools: () => (this.settings.nat ? this.pools.list() : []),
      forwards: () => this.forwardRules(),
      wired: () => this.wiredBoxes(),
      firewalled: (wired) => ({ box: wired.box, link: wired.link, addresses: wired.addresses, rules: this.firewall.list(wired.box) }),
    });
  }

  private view(pool: Pool): PoolView {
    return {
      name: pool.name,
      subnet: pool.subnet,
      gateway: pool.gateway,
      source: pool.source,
      used: this.addresses.claims.countIn(pool),
      ...(pool.tenant ? { tenant: pool.tenant } : {}),
    };
  }

  createPool(input: { name: string; subnet: string; gateway?: string | undefined; tenant?: string | undefined }): PoolView {
    return this.view(
      this.pools.create({
        name: input.name,
        subnet: input.subnet,
        ...(input.gateway ? { gateway: input.gateway } : {}),
        ...(input.tenant ? { tenant: input.tenant } : {}),
      }),
    );
  }

  listPools(): PoolView[] {
    return this.pools.list().map((pool) => this.view(pool));
  }

  removePool(name: string): void {
    this.pools.remove(name, (pool) => this.addresses.claims.countIn(pool));
  }

  /**
   * The host end of a box's veth: the one its wired record names (a box wired by an older
   * nsbox keeps its old-style name until it stops), else this host's name for it.
   */
  linkOf(boxId: string): string {
    return this.wiredRecord(boxId)?.link ?? this.newLinkName(boxId);
  }

  /** This host's name for a box's host end (link-names.ts). */
  private newLinkName(boxId: string): string {
    this.hostId ??= hostIdOf(this.state);
    return hostLinkName(this.hostId, boxId);
  }

  /** At the wire moment: the bridge and NAT, then the box's veth, addresses, routes and files. */
  wire(box: Box, hostname: string): void {
    const init = runtimeFacts(box).init;
    if (!init) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no init to wire`, { details: { box: box.name } });
    const claims = this.addresses.assign(box);
    const routed = this.addresses.modeOf(box) === 'routed';
    const pools = this.pools.list();
    if (routed) this.host.ensureForwarding(pools);
    else this.host.ensure(pools);
    // A record left by a crash (its link perhaps of an older nsbox's naming) is undone first.
    if (this.wiredRecord(box.id)) this.unwire(box);
    const link = this.newLinkName(box.id);
    const input: WireInput = {
      routed,
      boxId: box.id,
      hostLink: link,
      hostname,
      initPid: init.pid,
      rootfs: boxRoot(box),
      claims,
      nameservers: this.settings.nameservers ?? hostNameservers(),
    };
    try {
      this.wiring.wire(input);
    } catch (error) {
      if (routed || !this.host.trusted) throw error;
      // The bridge this process made sure of may have gone since (deleted by hand): look again, once.
      this.host.forget();
      this.host.ensure(pools);
      this.wiring.wire(input);
    }
    // The box's init is still held: its anti-spoofing rules are in place before it sends anything.
    const wired: WiredBox = { box: box.id, link, addresses: claims.map(({ family, address }) => ({ family, address })), routed };
    this.state.set(STATE_NAMESPACE, `${WIRED_KEY}${box.id}`, JSON.stringify(wired));
    try {
      this.shaper.apply(box.id, link, ratesOf(sectionOf(box)));
      this.writeBoxRules(wired);
    } catch (error) {
      this.unwire(box);
      throw error;
    }
  }

  /**
   * A running box's section changed (`nsbox net set`, PATCH /boxes/:id): rates change live;
   * its mode and addresses are fixed while it runs (stop it to change them).
   */
  update(box: Box, previous: NetworkConfig | undefined): void {
    const next = sectionOf(box);
    for (const field of ['mode', 'ip'] as const) {
      if (JSON.stringify(next[field]) !== JSON.stringify(previous?.[field])) {
        throw new NsboxError('E_INVALID_STATE', `network.${field} of a running box cannot change: stop box '${box.name}' first`, {
          details: { field: `network.${field}` },
        });
      }
    }
    if (!this.addresses.wired(box)) return;
    this.shaper.apply(box.id, this.linkOf(box.id), ratesOf(next), ratesOf(previous));
  }

  /** The box's anti-spoofing and firewall chains, written while its init is held. */
  private writeBoxRules(wired: WiredBox): void {
    this.tables.wire(wired);
  }

  /** The host end goes (and the pair with it), and the box's rules. Idempotent. */
  unwire(box: Pick<Box, 'id'>): void {
    const link = this.linkOf(box.id);
    this.wiring.unwire(link);
    this.shaper.removeIfb(link);
    const key = `${WIRED_KEY}${box.id}`;
    const record = this.state.get(STATE_NAMESPACE, key);
    if (record === undefined) return;
    // The rules go before the record: a crash between leaves a record that the next unwire uses.
    this.tables.unwire(JSON.parse(record) as WiredBox);
    this.state.delete(STATE_NAMESPACE, key);
  }

  /** The record of a box wired now. */
  private wiredRecord(boxId: string): WiredBox | undefined {
    const record = this.state.get(STATE_NAMESPACE, `${WIRED_KEY}${boxId}`);
    return record === undefined ? undefined : (JSON.parse(record) as WiredBox);
  }

  /** A box's firewall chain rewritten from its rules, when it is wired now. */
  private refreshFirewall(boxId: string): void {
    const wired = this.wiredRecord(boxId);
    if (wired) this.tables.refreshFirewall(wired);
  }

  private wiredBoxes(): WiredBox[] {
    return this.state.list(STATE_NAMESPACE, WIRED_KEY).map((entry) => JSON.parse(entry.value) as WiredBox);
  }

  /** Each forward with the box address it goes to, one per family the box has. */
  private forwardRules(): ForwardRule[] {
    const pools = this.pools.list();
    return this.forwards.list().flatMap((forward) => {
      const firstOfFamily = new Map(
        this.addresses.claims
          .of(forward.box, pools)
          .map((claim) => [claim.family, claim.address] as const)
          .reverse(),
      );
      return [...firstOfFamily].map(([family, address]) => ({ ...forward, family, address }));
    });
  }

  /**
   * Mode `host`: the box shares the host's network stack. Isolation owns the namespaces, so
   * the box must say so there too; the network plugin then adds nothing (no veth, address,
   * rule or rate: those belong to a stack of the box's own).
   */
  private checkHostMode(spec: OciSpec): void {
    if (spec.linux?.namespaces?.some((namespace) => namespace.type === 'network')) {
      throw new NsboxError('E_INVALID_CONFIG', "network mode 'host' shares the host's network stack: set isolation.namespaces.network to 'host' as well", {
        details: { field: 'network.mode' },
      });
    }
  }

  /** Checks a box's section at create and start: its addresses, and for `shared` a host that can confine. */
  validate(box: Box): void {
    this.addresses.validate(box);
    if (this.addresses.modeOf(box) === 'shared') checkSharedHost(this.cgroups);
  }

  /**
   * Before the launch, after every plugin's spec edits: mode `host` checks the box is on the
   * host's stack; mode `shared` confines it there to its addresses (shared-stack.ts).
   */
  prepare(box: Box, spec: OciSpec): void {
    const mode = this.addresses.modeOf(box);
    if (mode === 'host') this.checkHostMode(spec);
    if (mode === 'shared') confineToAddresses(spec, sharedAddresses(sectionOf(box).ip));
  }

  /** Adds an inbound allow rule (live when the box runs); a box with rules drops other new inbound connections. */
  allow(box: Box, text: string): string {
    if (!this.addresses.wired(box)) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no network of nsbox's to firewall (mode ${this.addresses.modeOf(box)})`, {
        details: { field: 'box' },
      });
    }
    const rule = parseAllow(text);
    if (!this.firewall.add(box.id, rule)) {
      throw new NsboxError('E_ALREADY_EXISTS', `box '${box.name}' already allows ${formatAllow(rule)}`, { details: { field: 'rule' } });
    }
    try {
      this.refreshFirewall(box.id);
    } catch (error) {
      this.firewall.remove(box.id, rule);
      throw error;
    }
    return formatAllow(rule);
  }

  /** Takes an allow rule back; the box's last rule gone, it is open again. */
  deny(box: Box, text: string): string {
    const rule: AllowRule = parseAllow(text);
    this.firewall.remove(box.id, rule);
    this.refreshFirewall(box.id);
    return formatAllow(rule);
  }

  listAllowed(box: Box): string[] {
    return this.firewall.list(box.id).map(formatAllow);
  }

  /** Forwards a host port to the box (live, and at every start); refused when the port is taken. */
  addForward(box: Box, text: string): Forward & { spec: string } {
    if (!this.addresses.wired(box) || this.addresses.held(box).length === 0) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no bridged address to forward to`, { details: { field: 'box' } });
    }
    const forward = { box: box.id, ...parseForward(text) };
    this.forwards.add(forward);
    try {
      this.tables.refreshNat();
    } catch (error) {
      // Nothing half-made: the port is free again when its rule could not be written.
      this.forwards.remove(box.id, forward);
      throw error;
    }
    return { ...forward, spec: formatForward(forward) };
  }

  removeForward(box: Box, text: string): void {
    this.forwards.remove(box.id, parseForward(text));
    this.tables.refreshNat();
  }

  listForwards(box: Box): string[] {
    return this.forwards.list(box.id).map(formatForward);
  }

  /** At destroy: the box's addresses and forwards go, and its rules with them. */
  release(box: Box): void {
    this.unwire(box);
    const forwarded = this.forwards.release(box.id);
    this.firewall.release(box.id);
    this.addresses.release(box);
    if (forwarded > 0) this.tables.refreshNat();
  }

  describe(box: Box): Record<string, unknown> {
    const mode = this.addresses.modeOf(box);
    if (mode === 'shared') return { mode, addresses: sharedAddresses(sectionOf(box).ip) };
    if (!this.addresses.wired(box)) return { mode };
    const claims = this.addresses.held(box);
    return {
      mode,
      ...(mode === 'bridge' ? { bridge: this.host.bridge } : {}),
      interface: box.state === 'running' ? this.linkOf(box.id) : undefined,
      addresses: claims.map((claim) => `${claim.address}/${claim.prefix}`),
      gateways: [...new Set(claims.map((claim) => claim.gateway))],
      forwards: this.listForwards(box),
      allow: this.listAllowed(box),
      ...(sectionOf(box).rate ? { rate: sectionOf(box).rate } : {}),
      ...(sectionOf(box).ingressRate ? { ingressRate: sectionOf(box).ingressRate } : {}),
    };
  }

  /** Per-box counters of the host end of its veth (what the box sent is what the host end received). */
  metrics(boxes: readonly Box[]): MetricSample[] {
    const bridged = boxes.filter((box) => box.state === 'running' && this.addresses.wired(box));
    if (bridged.length === 0) return [];
    const links = new Map(listLinks(this.host.netns).map((link) => [link.name, link]));
    return bridged.flatMap((box) => {
      const link = links.get(this.linkOf(box.id));
      if (!link) return [];
      const labels = { box: box.name, interface: 'eth0' };
      const counter = (name: string, help: string, value: number): MetricSample => ({ name, help, type: 'counter', labels, value });
      return [
        counter('nsbox_box_network_transmit_bytes_total', 'bytes the box sent', link.rxBytes),
        counter('nsbox_box_network_receive_bytes_total', 'bytes the box received', link.txBytes),
        counter('nsbox_box_network_transmit_packets_total', 'packets the box sent', link.rxPackets),
        counter('nsbox_box_network_receive_packets_total', 'packets the box received', link.txPackets),
        counter('nsbox_box_network_drops_total', 'packets dropped on the box link', link.rxDropped + link.txDropped),
      ];
    });
  }
}
