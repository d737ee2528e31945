/**
 * Typed wrapper of the addon's nftables call (`src/nftables.c`, glue in
 * `src/addon-nftables.c`): a batch run in process through libnftables — no `nft` spawned — in
 * one transaction, in any network namespace (a path; `undefined` is the caller's own), whose
 * socket a short-lived helper thread opens there as netlink's does. The context stays open
 * for 2 s after the last batch (closing one makes the kernel wait an RCU grace period, holding
 * the namespace's nf_tables lock), so a batch costs a fraction of a millisecond. The caller
 * decides what the batch names: nsbox's network plugin names only its own tables.
 */

import { native } from './index.js';

/** nft refused the batch (a bad rule, a missing table or element): nothing of it applied. */
export interface NftError extends Error {
  code: 'ENFT';
}

/** Runs nft's text commands (`add rule inet t c ...`, one a line); returns what nft printed. */
export function nft(netns: string | undefined, commands: string): string {
  return native().nft(netns ?? '', commands, false);
}

/**
 * Runs a JSON batch (`{ nftables: [...] }`, libnftables' JSON schema) and returns nft's JSON
 * output parsed (list commands), or undefined when it printed nothing.
 */
export function nftJson(netns: string | undefined, batch: { nftables: readonly unknown[] }): { nftables: Record<string, unknown>[] } | undefined {
  const output = native().nft(netns ?? '', JSON.stringify(batch), true);
  return output.trim() === '' ? undefined : (JSON.parse(output) as { nftables: Record<string, unknown>[] });
}

/** True for an error of nft refusing a batch (as opposed to one of entering the namespace). */
export function isNftError(error: unknown): error is NftError {
  return error instanceof Error && (error as NftError).code === 'ENFT';
}
