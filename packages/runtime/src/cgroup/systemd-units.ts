/**
 * systemd unit names for boxes: the cgroup parent becomes a slice ('nsbox' → nsbox.slice,
 * 'nsbox/web' → nsbox-web.slice, a dash meaning one level down), each box a scope in it. Names
 * are escaped as systemd-escape does, so a dash in a box or parent name stays a character
 * and never becomes a slice level.
 */
import { NsboxError } from '@nsbox/core';
import { parentSegments } from './cgroup-names.js';

// What systemd-escape leaves as is (a leading '.' aside).
const PLAIN = /^[A-Za-z0-9:_.]$/;

/** systemd-escape of one name: every other byte becomes \xNN. */
export function escapeUnitName(name: string): string {
  let escaped = '';
  for (const [index, char] of [...name].entries()) {
    if (PLAIN.test(char) && !(index === 0 && char === '.')) escaped += char;
    else for (const byte of Buffer.from(char, 'utf8')) escaped += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return escaped;
}

export function unescapeUnitName(escaped: string): string {
  const bytes: number[] = [];
  for (let index = 0; index < escaped.length; index++) {
    const hex = /^\\x([0-9a-f]{2})/.exec(escaped.slice(index));
    if (hex) {
      bytes.push(Number.parseInt(hex[1]!, 16));
      index += 3;
    } else bytes.push(...Buffer.from(escaped[index]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

export interface BoxUnits {
  /** The slices from the top down, e.g. ['nsbox.slice', 'nsbox-web.slice']: also their cgroup directories' names. */
  slices: string[];
  /** The prefix of every box scope of this parent: 'nsbox-web-' for 'nsbox/web' (may be empty). */
  scopePrefix: string;
}

export function boxUnits(parent: string): BoxUnits {
  const escaped = parentSegments(parent).map(escapeUnitName);
  return {
    slices: escaped.map((_, depth) => `${escaped.slice(0, depth + 1).join('-')}.slice`),
    scopePrefix: `${escaped.join('-')}-`,
  };
}

/** The slices a slice unit lies in, itself last: 'a-b.slice' → ['a.slice', 'a-b.slice'] ('-.slice', the root, → []). */
export function sliceChain(slice: string): string[] {
  if (!slice.endsWith('.slice')) throw new NsboxError('E_INVALID_ARGUMENT', `'${slice}' is not a slice unit name (name.slice)`, { details: { slice } });
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return [];
  if (name === '' || name.startsWith('-') || name.endsWith('-') || name.includes('--') || name.includes('/')) {
    throw new NsboxError('E_INVALID_ARGUMENT', `'${slice}' is not a valid slice unit name`, { details: { slice } });
  }
  const parts = name.split('-');
  return parts.map((_, depth) => `${parts.slice(0, depth + 1).join('-')}.slice`);
}

/**
 * The units of an OCI runtime's systemd cgroupsPath 'slice:prefix:name' (runc's form, podman's
 * default): scope 'prefix-name.scope' in the slice, system.slice when none is named.
 */
export function prefixedScopeUnits(slice: string, prefix: string): BoxUnits {
  return { slices: sliceChain(slice === '' ? 'system.slice' : slice), scopePrefix: prefix === '' ? '' : `${prefix}-` };
}

export function scopeUnit(units: BoxUnits, name: string): string {
  return `${units.scopePrefix}${escapeUnitName(name)}.scope`;
}

/** The box name of one of the parent's scopes; undefined for any other unit. */
export function boxOfScope(units: BoxUnits, unit: string): string | undefined {
  if (!unit.startsWith(units.scopePrefix) || !unit.endsWith('.scope')) return undefined;
  const escaped = unit.slice(units.scopePrefix.length, -'.scope'.length);
  // Another parent's scopes share the prefix only through an unescaped dash: 'nsbox-web-x' is not box 'web-x' of 'nsbox'.
  if (escaped === '' || escaped.includes('-')) return undefined;
  return unescapeUnitName(escaped);
}
