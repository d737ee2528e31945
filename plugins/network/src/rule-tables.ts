/**
 * nsbox's nft tables kept as the store says, one small transaction per change: a box's start
 * writes its own chains and map elements, its stop removes them, an allow rule rewrites that
 * box's firewall chain, a forward the NAT chains — never the other boxes' rules, so a change
 * costs the same with 1 or 500 boxes wired (in process through libnftables, no `nft` spawned).
 *
 * The layout (tables, maps, dispatch rules) is written once; a process checks it at its first
 * change, and when it is missing or of another shape — a host rebooted, a daemon restarted
 * after a crash, tables deleted by hand — rebuilds both tables whole from the store in one
 * transaction (a crash-restarted daemon so repairs what it finds). A small change that nft
 * refuses (the tables went meanwhile) is retried as such a rebuild.
 */

import { isNftError } from '@nsbox/native';
import { antiSpoofBase, antiSpoofUnwire, antiSpoofWire, type WiredBox } from './anti-spoof.js';
import { type FirewalledBox, firewallBase, firewallUnwire, firewallWire } from './firewall.js';
import { type ForwardRule, natBase, natRules, runBatch } from './nat.js';
import { dropTables, type NftCommand, TABLE } from './nft-commands.js';
import type { Pool } from './pools.js';

/** What the tables are made from, read from the store at each change. */
export interface RuleSource {
  /** The pools NAT masquerades (none when NAT is off). */
  natPools(): Pool[];
  forwards(): ForwardRule[];
  wired(): WiredBox[];
  /** A wired box with its firewall rules. */
  firewalled(box: WiredBox): FirewalledBox;
}

export class RuleTables {
  /** The layout was found or written by this process. */
  private layoutKnown = false;
  /** The NAT rules this process last wrote (a change elsewhere shows as a difference). */
  private natWritten: string | undefined;

  constructor(
    private readonly netns: () => string | undefined,
    private readonly source: RuleSource,
  ) {}

  /** A box's anti-spoofing and firewall chains, written before its init runs. */
  wire(box: WiredBox): void {
    this.change([...antiSpoofWire(box), ...firewallWire(this.source.firewalled(box))]);
  }

  /** A box's chains gone (idempotent: nothing there is nothing to do). */
  unwire(box: WiredBox): void {
    this.change([...antiSpoofUnwire(box), ...firewallUnwire(this.source.firewalled(box))], box.box);
  }

  /** A wired box's firewall chain rewritten from its rules. */
  refreshFirewall(box: WiredBox): void {
    this.change(firewallWire(this.source.firewalled(box)));
  }

  /** The NAT chains rewritten (pools or forwards changed). */
  refreshNat(): void {
    this.natWritten = undefined;
    this.change([]);
  }

  /** Both tables rebuilt whole from the store, in one transaction (`without`: a box being unwired). */
  rebuild(without?: string): void {
    const nat = this.natCommands();
    const wired = this.source.wired().filter((box) => box.box !== without);
    runBatch(this.netns(), [
      ...dropTables(),
      ...natBase(),
      ...antiSpoofBase(),
      ...firewallBase(),
      ...nat.commands,
      ...wired.flatMap((box) => [...antiSpoofWire(box), ...firewallWire(this.source.firewalled(box))]),
    ]);
    this.layoutKnown = true;
    this.natWritten = nat.key;
  }

  private natCommands(): { key: string; commands: NftCommand[] } {
    const [pools, forwards] = [this.source.natPools(), this.source.forwards()];
    return { key: JSON.stringify([pools.map((pool) => pool.subnet), forwards]), commands: natRules(pools, forwards) };
  }

  /** The layout of this version is there: its last-made objects exist in both tables. */
  private layoutPresent(): boolean {
    try {
      runBatch(this.netns(), [
        { list: { map: { family: 'bridge', table: TABLE, name: 'spoof' } } },
        { list: { map: { family: 'inet', table: TABLE, name: 'guard6' } } },
      ]);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a box's change, with the NAT chains when they differ from what this process wrote. */
  private change(commands: NftCommand[], without?: string): void {
    if (!this.layoutKnown && !this.layoutPresent()) {
      this.rebuild(without);
      return;
    }
    this.layoutKnown = true;
    const nat = this.natCommands();
    const withNat = nat.key === this.natWritten ? commands : [...natBase(), ...nat.commands, ...commands];
    if (withNat.length === 0) return;
    try {
      runBatch(this.netns(), withNat);
      this.natWritten = nat.key;
    } catch (error) {
      // The tables went or were changed under us: rebuild them from the store (the change is in it).
      if (!isNftError((error as Error).cause)) throw error;
      this.rebuild(without);
    }
  }
}
