/**
 * Merges the owners' declarations knob by knob (the rule is documented in runtime-api's
 * resources.ts): the strictest ceiling, the intersection of sets, one owner per choice.
 * Firm values first; an owner's `defaults` fill only the knobs no owner set firmly. Owners
 * are taken in name order, so the same declarations always merge to the same result.
 */

import { NsboxError } from '@nsbox/core';
import { formatCpuList, type KnobOwnership, parseCpuList, type ResourceDeclaration } from '@nsbox/runtime-api';
import { ceilingRank, type Knob, type KnobKind, type KnobValue, knobsOf } from './resource-knobs.js';

export interface MergedKnob {
  key: string;
  kind: KnobKind;
  value: KnobValue;
  ownership: KnobOwnership;
}

interface Entry {
  owner: string;
  knob: Knob;
}

function describeValue(value: KnobValue): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function combine(key: string, entries: Entry[], defaulted: boolean): MergedKnob {
  const first = entries[0] as Entry;
  const kind = first.knob.kind;
  const merged = (value: KnobValue, owners: string[]): MergedKnob => ({
    key,
    kind,
    value,
    ownership: { owners, ...(defaulted ? { defaulted: true } : {}) },
  });
  if (kind === 'choice') {
    if (entries.length > 1) {
      const who = entries.map((entry) => `'${entry.owner}' (${describeValue(entry.knob.value)})`).join(' and ');
      throw new NsboxError('E_INVALID_CONFIG', `resource ${key} is set by both ${who}: it has one owner, so one of them must leave it`, {
        details: { field: key, owners: entries.map((entry) => entry.owner) },
      });
    }
    return merged(first.knob.value, [first.owner]);
  }
  if (kind === 'set') {
    let common = new Set(parseCpuList(first.knob.value as string));
    for (const entry of entries.slice(1)) {
      const theirs = new Set(parseCpuList(entry.knob.value as string));
      common = new Set([...common].filter((id) => theirs.has(id)));
    }
    if (common.size === 0) {
      const who = entries.map((entry) => `'${entry.owner}' (${entry.knob.value})`).join(' and ');
      throw new NsboxError('E_INVALID_CONFIG', `resource ${key} is set by ${who}, which have nothing in common`, {
        details: { field: key, owners: entries.map((entry) => entry.owner) },
      });
    }
    const value = formatCpuList([...common]);
    // The owner whose set is the result is the strictest; otherwise each of them narrowed it.
    const exact = entries.find((entry) => entry.knob.value === value);
    return merged(value, exact ? [exact.owner] : entries.map((entry) => entry.owner));
  }
  let strictest = first;
  for (const entry of entries.slice(1)) {
    if (ceilingRank(key, entry.knob.value) < ceilingRank(key, strictest.knob.value)) strictest = entry;
  }
  return merged(strictest.knob.value, [strictest.owner]);
}

function collect(declarations: [string, ResourceDeclaration][], part: 'resources' | 'defaults'): Map<string, Entry[]> {
  const byKey = new Map<string, Entry[]>();
  for (const [owner, declaration] of declarations) {
    const resources = declaration[part];
    if (!resources) continue;
    for (const knob of knobsOf(resources, owner)) byKey.set(knob.key, [...(byKey.get(knob.key) ?? []), { owner, knob }]);
  }
  return byKey;
}

/** Every owner's declaration merged; throws E_INVALID_CONFIG on a conflict, naming the owners. */
export function mergeDeclarations(declarations: Record<string, ResourceDeclaration>): Map<string, MergedKnob> {
  const ordered = Object.entries(declarations).sort(([a], [b]) => a.localeCompare(b));
  const merged = new Map<string, MergedKnob>();
  for (const [key, entries] of collect(ordered, 'resources')) merged.set(key, combine(key, entries, false));
  for (const [key, entries] of collect(ordered, 'defaults')) if (!merged.has(key)) merged.set(key, combine(key, entries, true));
  return merged;
}
