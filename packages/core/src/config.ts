/**
 * Box config = the core's fields + one section per plugin, each validated by the schema of
 * the plugin that owns it. Unknown sections and unknown fields are refused with their path,
 * whatever schema library (or strictness) a plugin author chose.
 */

import { z } from 'zod';
import type { BoxConfig } from './box.js';
import { dnsName } from './dns-name.js';
import { NsboxError } from './errors.js';
import type { AnyPlugin } from './plugin.js';
import type { StandardIssue, StandardSchemaV1 } from './standard-schema.js';

export const coreConfigSchema = z.strictObject({
  rootfs: z.string().startsWith('/', 'must be an absolute path').optional(),
  template: z.string().min(1).optional(),
  process: z
    .strictObject({
      args: z.array(z.string()).min(1, 'needs at least the program to run').optional(),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'invalid variable name'), z.string()).optional(),
      cwd: z.string().startsWith('/', 'must be an absolute path').optional(),
      user: z.strictObject({ uid: z.number().int().min(0), gid: z.number().int().min(0) }).optional(),
      terminal: z.boolean().optional(),
    })
    .optional(),
  /** The box's host name, RFC 1123 (its name when unset). */
  hostname: dnsName.optional(),
  plugins: z.strictObject({ disable: z.array(z.string()).optional() }).optional(),
  /**
   * What happens when the init ends by itself: `no` (stay stopped), `on-failure` (start again
   * after a non-zero exit or a signal), `always`. A reboot asked from inside the box always
   * starts it again; a halt never does.
   */
  restart: z.enum(['no', 'on-failure', 'always']).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export interface ConfigIssue {
  path: string;
  message: string;
}

function pathText(path: readonly (PropertyKey | { key: PropertyKey })[] | undefined): string {
  if (!path || path.length === 0) return '(root)';
  return path
    .map((part) => (typeof part === 'object' ? part.key : part))
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** zod reports unknown keys once per object; nsbox reports each one at its own path. */
function issuesOf(prefix: string[], issues: readonly StandardIssue[]): ConfigIssue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...(issue.path ?? [])];
    const { code, keys } = issue as { code?: string; keys?: string[] };
    if (code === 'unrecognized_keys' && Array.isArray(keys)) return keys.map((key) => ({ path: pathText([...path, key]), message: 'unknown field' }));
    return [{ path: pathText(path), message: issue.message }];
  });
}

/** Keys present in the input but absent from the parsed output: fields a schema stripped. */
function strippedKeys(input: unknown, output: unknown, path: string[]): ConfigIssue[] {
  if (!isPlainObject(input) || !isPlainObject(output)) {
    if (Array.isArray(input) && Array.isArray(output)) {
      return input.flatMap((item, index) => strippedKeys(item, output[index], [...path, String(index)]));
    }
    return [];
  }
  return Object.keys(input).flatMap((key) =>
    key in output ? strippedKeys(input[key], output[key], [...path, key]) : [{ path: [...path, key].join('.'), message: 'unknown field' }],
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function validateSection(schema: StandardSchemaV1, value: unknown, section: string): Promise<{ value?: unknown; issues: ConfigIssue[] }> {
  const result = await schema['~standard'].validate(value);
  if (result.issues) return { issues: issuesOf([section], result.issues) };
  return { value: result.value, issues: strippedKeys(value, result.value, [section]) };
}

/**
 * Validates a whole box config against the core schema and the sections of the enabled
 * plugins. Returns the normalised config (defaults applied) or throws E_INVALID_CONFIG
 * listing every issue with its path.
 */
export async function validateBoxConfig(input: unknown, plugins: readonly AnyPlugin[]): Promise<BoxConfig> {
  if (!isPlainObject(input)) {
    throw new NsboxError('E_INVALID_CONFIG', 'box config must be an object', { details: { issues: [{ path: '(root)', message: 'must be an object' }] } });
  }
  const sections = new Map(plugins.map((plugin) => [plugin.name, plugin]));
  const issues: ConfigIssue[] = [];
  const coreInput: Record<string, unknown> = {};
  const output: Record<string, unknown> = {};

  for (const [key, value] of Object.entries(input)) {
    if (key in coreConfigSchema.shape) {
      coreInput[key] = value;
      continue;
    }
    const plugin = sections.get(key);
    if (!plugin) {
      issues.push({ path: key, message: `unknown section (no enabled plugin named '${key}')` });
      continue;
    }
    if (!plugin.config) {
      issues.push({ path: key, message: `plugin '${key}' takes no config` });
      continue;
    }
    const result = await validateSection(plugin.config, value, key);
    issues.push(...result.issues);
    output[key] = result.value;
  }

  const core = coreConfigSchema.safeParse(coreInput);
  if (!core.success) issues.push(...issuesOf([], core.error.issues));
  else Object.assign(output, core.data);

  const disabled = (isPlainObject(input.plugins) && Array.isArray(input.plugins.disable) ? input.plugins.disable : []) as string[];
  for (const name of disabled) {
    if (!sections.has(name)) issues.push({ path: 'plugins.disable', message: `no installed plugin named '${name}'` });
    else if (name in input) issues.push({ path: name, message: `section of plugin '${name}', which this box disables` });
  }

  if (issues.length > 0) {
    const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw new NsboxError('E_INVALID_CONFIG', `invalid box config: ${summary}`, { details: { issues } });
  }
  return output as BoxConfig;
}
