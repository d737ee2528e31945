/**
 * The tenant policy, deny by default: a tenant may set a config field only when the owner of
 * that field declared it tenant-safe (the core for its own fields, a plugin for its section)
 * or the host admin granted it. Everything else is refused with its path, including every
 * field of a plugin that declares nothing and of a section no installed plugin owns, so a new
 * plugin's fields stay out of tenants' reach until the plugin (or the admin) says otherwise.
 *
 * Pure: no I/O, no Linux. The face (nsboxd) supplies the tenant's grants and refuses the
 * request when the list of refusals is not empty.
 */

import type { AnyPlugin } from './plugin.js';

/**
 * How a declared field is safe. `true`: any value the owner's schema accepts. A rule narrows it:
 * `values` lists the safe values, `check` says why a value is not safe, and `capped` makes the
 * field safe only up to a cap the admin grants (without a cap it is refused); it turns the
 * value into the number compared with the cap.
 */
export type TenantSafeRule =
  | true
  | {
      values?: readonly (string | number | boolean)[];
      check?: (value: unknown) => string | undefined;
      capped?: (value: unknown) => number;
    };

/**
 * Field paths (relative to the section) → rule. A path names a field and everything below it:
 * `readonlyRoot`, `procfs`, `namespaces.network`, `capabilities.drop` (the whole list),
 * `rlimits.*` (each key of a record), `io[].readBps` (a field of each item of a list).
 */
export type TenantSafeFields = Readonly<Record<string, TenantSafeRule>>;

/** What the admin grants a tenant beyond the baseline: a field (and all below it), or a cap on one. */
export interface TenantGrant {
  /** Full path from the config root: `isolation.mounts`, `limits.rlimits.nofile`. */
  path: string;
  /** A cap: the value (as the owner measures it) must be at most this. */
  max?: number;
}

export interface TenantRefusal {
  /** The concrete path of the refused value: `isolation.mounts[0].source`. */
  path: string;
  reason: string;
}

/** Core's own fields a tenant may set: what runs in the box and as whom, inside the box. */
export const coreTenantSafeFields: TenantSafeFields = {
  // By name only: a path would be a host directory.
  template: { check: (value) => (typeof value === 'string' && value.startsWith('/') ? 'a tenant picks a template by name, not a host path' : undefined) },
  'process.args': true,
  'process.env': true,
  'process.cwd': true,
  'process.user': true,
  'process.terminal': true,
  hostname: true,
  restart: true,
};

/** Annotations the plugins read: set by the host admin (or by an explicit grant of that very key). */
const RESERVED_ANNOTATION_PREFIX = 'org.nsbox.';

type Segment = string | number;
type PatternSegment = { key: string } | { any: 'key' } | { any: 'index' };

const SIMPLE_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `a.b[0]["x.y"]` for a concrete path. */
export function formatFieldPath(path: readonly Segment[]): string {
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (!SIMPLE_KEY.test(segment)) return `[${JSON.stringify(segment)}]`;
      return index === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/**
 * Parses a path pattern: keys separated by `.`, `*` for any key, `[]` for any item, `[3]` for
 * one item, `["org.nsbox.x"]` for a key with dots. Throws on anything else.
 */
export function parseFieldPattern(text: string): PatternSegment[] {
  const segments: PatternSegment[] = [];
  let rest = text.trim();
  const forms: [RegExp, (match: RegExpExecArray) => PatternSegment][] = [
    [/^\[\]/, () => ({ any: 'index' })],
    [/^\[(\d+)\]/, (match) => ({ key: String(Number(match[1])) })],
    [/^\["((?:[^"\\]|\\.)+)"\]/, (match) => ({ key: JSON.parse(`"${match[1]}"`) as string })],
  ];
  while (rest.length > 0) {
    const key = (segments.length === 0 ? /^(\*|[A-Za-z_$][\w$-]*)/ : /^\.(\*|[A-Za-z_$][\w$-]*)/).exec(rest);
    let match: RegExpExecArray | null = key;
    let segment: PatternSegment | undefined = key ? (key[1] === '*' ? { any: 'key' } : { key: key[1] as string }) : undefined;
    for (const [form, make] of forms) {
      if (segment) break;
      match = form.exec(rest);
      if (match) segment = make(match);
    }
    if (!segment || !match) throw new Error(`'${text}' is not a field path (keys joined by '.', '*' for any key, '[]' for any item)`);
    segments.push(segment);
    rest = rest.slice(match[0].length);
  }
  if (segments.length === 0) throw new Error('a field path must not be empty');
  return segments;
}

function matches(pattern: readonly PatternSegment[], path: readonly Segment[]): boolean {
  if (pattern.length !== path.length) return false;
  return pattern.every((part, index) => {
    const segment = path[index] as Segment;
    if ('key' in part) return String(segment) === part.key;
    return part.any === 'index' ? typeof segment === 'number' : typeof segment === 'string';
  });
}

interface CompiledRule {
  pattern: PatternSegment[];
  rule: TenantSafeRule;
}

/** The declared rules of the core and of each installed plugin, as full paths. */
function compileRules(plugins: readonly AnyPlugin[]): CompiledRule[] {
  const rules: CompiledRule[] = Object.entries(coreTenantSafeFields).map(([path, rule]) => ({ pattern: parseFieldPattern(path), rule }));
  for (const plugin of plugins) {
    for (const [path, rule] of Object.entries(plugin.tenantSafe ?? {})) {
      rules.push({ pattern: [{ key: plugin.name }, ...parseFieldPattern(path)], rule });
    }
  }
  return rules;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (typeof segment === 'number' ? !Array.isArray(value) : !isPlainObject(value)) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

const sameValue = (a: unknown, b: unknown) => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

function isReservedAnnotation(path: readonly Segment[]): boolean {
  return path.length === 2 && path[0] === 'annotations' && typeof path[1] === 'string' && path[1].startsWith(RESERVED_ANNOTATION_PREFIX);
}

export interface TenantPolicyInput {
  /** The config the box would have (validated: the owners' rules see normalised values). */
  config: Record<string, unknown>;
  /**
   * Each section as its plugin fills it when it is given empty (sectionDefaults). A value equal
   * to its plugin's default is what the box gets with the section left out: not the tenant's
   * choice, so not judged. (A plugin adding a defaulted field does not lock tenants out.)
   */
  defaults?: Record<string, unknown> | undefined;
  /** For a change: the config before it. Values the change leaves as they were are not judged again. */
  previous?: Record<string, unknown> | undefined;
  grants: readonly TenantGrant[];
  /** The host's installed plugins (their `tenantSafe` declarations). */
  plugins: readonly AnyPlugin[];
}

/** Every value of `config` the tenant may not set, with the reason; empty when all of it is allowed. */
export function tenantPolicyRefusals(input: TenantPolicyInput): TenantRefusal[] {
  const rules = compileRules(input.plugins);
  const fieldGrants = input.grants.filter((grant) => grant.max === undefined).map((grant) => parseFieldPattern(grant.path));
  const caps = input.grants.filter((grant) => grant.max !== undefined).map((grant) => ({ pattern: parseFieldPattern(grant.path), max: grant.max as number }));
  const refusals: TenantRefusal[] = [];

  const visit = (value: unknown, path: Segment[], allowed: boolean): void => {
    if (input.previous !== undefined && sameValue(value, valueAt(input.previous, path))) return;
    if (input.defaults !== undefined && path.length > 1 && !isPlainObject(value) && sameValue(value, valueAt(input.defaults, path))) return;
    const text = formatFieldPath(path);
    const granted = fieldGrants.some((pattern) => matches(pattern, path));
    // A broad grant (`annotations`) does not reach the plugins' own annotations: those need their key named.
    if (isReservedAnnotation(path) && !granted) {
      refusals.push({ path: text, reason: `annotations under ${RESERVED_ANNOTATION_PREFIX} are set by the host admin` });
      return;
    }
    const declared = rules.find((candidate) => matches(candidate.pattern, path))?.rule;
    const cap = caps
      .filter((candidate) => matches(candidate.pattern, path))
      .reduce<number | undefined>((most, candidate) => Math.max(most ?? -Infinity, candidate.max), undefined);
    if (cap !== undefined) {
      const measure = declared !== undefined && declared !== true ? declared.capped : undefined;
      const amount = measure ? measure(value) : typeof value === 'number' ? value : Number.NaN;
      if (Number.isNaN(amount)) refusals.push({ path: text, reason: 'the admin caps this field, and its value is not a number to compare with the cap' });
      else if (amount > cap) refusals.push({ path: text, reason: `${amount} is above the admin's cap of ${cap}` });
      if (Number.isNaN(amount) || amount > cap) return;
    }
    let covered = allowed || granted;
    if (!covered && declared !== undefined) {
      const problem = judge(declared, value, cap !== undefined);
      if (problem) {
        refusals.push({ path: text, reason: problem });
        return;
      }
      covered = true;
    }
    // An empty list or object sets nothing: only what is in it is judged.
    if (isPlainObject(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, [...path, key], covered);
      return;
    }
    if (Array.isArray(value)) {
      for (const [index, child] of value.entries()) visit(child, [...path, index], covered);
      return;
    }
    if (!covered) refusals.push({ path: text, reason: reasonForUndeclared(path, input.plugins) });
  };

  for (const [key, value] of Object.entries(input.config)) visit(value, [key], false);
  return refusals;
}

/** Each plugin's section as its schema fills an empty one (sections that need a value are left out). */
export async function sectionDefaults(plugins: readonly AnyPlugin[]): Promise<Record<string, unknown>> {
  const defaults: Record<string, unknown> = {};
  for (const plugin of plugins) {
    if (!plugin.config) continue;
    const result = await plugin.config['~standard'].validate({});
    if (!result.issues) defaults[plugin.name] = result.value;
  }
  return defaults;
}

function judge(rule: TenantSafeRule, value: unknown, capped: boolean): string | undefined {
  if (rule === true) return undefined;
  if (rule.values && !rule.values.some((safe) => safe === value)) {
    return `only ${rule.values.map((safe) => JSON.stringify(safe)).join(', ')} may be set by a tenant`;
  }
  const problem = rule.check?.(value);
  if (problem) return problem;
  if (rule.capped && !capped) return 'a tenant may set this only within a cap the admin grants';
  return undefined;
}

function reasonForUndeclared(path: readonly Segment[], plugins: readonly AnyPlugin[]): string {
  const section = String(path[0]);
  if (section in coreTenantSafeFields || ['rootfs', 'process', 'plugins', 'annotations'].includes(section)) {
    return 'not tenant-safe: only the host admin may set it (or grant it to the tenant)';
  }
  const plugin = plugins.find((candidate) => candidate.name === section);
  if (!plugin) return `no installed plugin owns section '${section}'`;
  return `plugin '${section}' does not declare this field tenant-safe: only the host admin may set it (or grant it to the tenant)`;
}
