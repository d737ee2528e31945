/**
 * Builders of libnftables JSON commands in nsbox's own tables (`inet nsbox`, `bridge nsbox`):
 * every command made here names table `nsbox`, so no table of the host's is ever read or
 * changed. A per-box chain is written whole (added, flushed, filled) and removed with an
 * idempotent add-then-delete in one transaction, so a stop that runs twice, or after a crash
 * that left half of it, needs no look at what is there first.
 */

export type NftCommand = Record<string, unknown>;
export type NftFamily = 'inet' | 'bridge';

export const TABLE = 'nsbox';

export function addRule(family: NftFamily, chain: string, expr: unknown[], comment?: string): NftCommand {
  return { add: { rule: { family, table: TABLE, chain, ...(comment ? { comment } : {}), expr } } };
}

/** A regular chain made (when missing) and emptied, for its rules to follow. */
export function addChain(family: NftFamily, name: string): NftCommand[] {
  return [{ add: { chain: { family, table: TABLE, name } } }, { flush: { chain: { family, table: TABLE, name } } }];
}

export function addElement(family: NftFamily, map: string, element: [unknown, unknown]): NftCommand {
  return { add: { element: { family, table: TABLE, name: map, elem: [element] } } };
}

/**
 * A chain and the map elements that jump to it, gone; added first in the same transaction so
 * that the deletes find them whether they were there or not.
 */
export function removeChainAndElements(family: NftFamily, chain: string, elements: readonly { map: string; key: unknown }[]): NftCommand[] {
  const named = { family, table: TABLE };
  return [
    { add: { chain: { ...named, name: chain } } },
    ...elements.map(({ map, key }) => addElement(family, map, [key, { jump: { target: chain } }])),
    ...elements.map(({ map, key }) => ({ delete: { element: { ...named, name: map, elem: [key] } } })),
    { flush: { chain: { ...named, name: chain } } },
    { delete: { chain: { ...named, name: chain } } },
  ];
}

/** Both tables gone (nothing when missing), to be written again in the same transaction. */
export function dropTables(): NftCommand[] {
  return (['inet', 'bridge'] as const).flatMap((family) => [{ add: { table: { family, name: TABLE } } }, { delete: { table: { family, name: TABLE } } }]);
}
