/**
 * `nsbox set NAME ...` (`POST /boxes/{id}/set`, the SDK's `boxes.set`): one command to which
 * each plugin contributes its options (setOptionPoint) and applies its own part. Every part's
 * values are validated before anything changes; the parts' config changes then go as one
 * change through the caller's BoxApi (so the schemas, the tenant policy, the quotas and each
 * plugin's `update` hook judge and apply them together, rolled back together); last, the
 * parts' live steps for what no update hook covers. A bad value of any part changes nothing.
 */

import {
  type Box,
  type BoxApi,
  NsboxError,
  type PluginHost,
  type SetOptionContribution,
  type SetResult,
  type StandardIssue,
  setOptionPoint,
} from '@nsbox/core';

export interface SetScope {
  /** The caller's BoxApi: the change is judged as the caller's own. */
  api: BoxApi;
  /** The stored box after the change (its plugins' sections as they keep them). */
  stored(id: string): Box;
}

function issuePath(issue: StandardIssue): string {
  const first = issue.path?.[0];
  return String(typeof first === 'object' ? first.key : (first ?? '(input)'));
}

/** The contributions that apply to the box, by input field; a field two plugins claim is refused. */
export function setOptionsFor(plugins: PluginHost, box: Pick<Box, 'name' | 'config'>): Map<string, SetOptionContribution> {
  const applying = new Set(plugins.pluginsFor(box).map((plugin) => plugin.definition.name));
  const byField = new Map<string, SetOptionContribution>();
  for (const contribution of plugins.contributions(setOptionPoint)) {
    if (!applying.has(contribution.plugin)) continue;
    for (const field of Object.keys(contribution.options)) {
      const other = byField.get(field);
      if (other) {
        throw new NsboxError('E_PLUGIN_INVALID', `plugins '${other.plugin}' and '${contribution.plugin}' both contribute the set option '${field}'`, {
          details: { field, plugins: [other.plugin, contribution.plugin] },
        });
      }
      byField.set(field, contribution);
    }
  }
  return byField;
}

/** The given values split by contribution, each part validated by its schema; every bad field is named at once. */
async function validatedParts(
  byField: Map<string, SetOptionContribution>,
  box: Box,
  options: Record<string, unknown>,
): Promise<Map<SetOptionContribution, Record<string, unknown>>> {
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const unknown = given.map(([field]) => field).filter((field) => !byField.has(field));
  if (unknown.length > 0) {
    throw new NsboxError('E_INVALID_ARGUMENT', `set: ${unknown.map((field) => `${field}: no plugin of box '${box.name}' has this option`).join('; ')}`, {
      details: { field: unknown[0], issues: unknown.map((field) => ({ path: field, message: 'unknown option' })), options: [...byField.keys()] },
    });
  }
  if (given.length === 0) {
    throw new NsboxError('E_INVALID_ARGUMENT', `set: nothing to change for box '${box.name}' (options: ${[...byField.keys()].join(', ')})`, {
      details: { field: 'options' },
    });
  }
  const raw = new Map<SetOptionContribution, Record<string, unknown>>();
  for (const [field, value] of given) {
    const contribution = byField.get(field) as SetOptionContribution;
    raw.set(contribution, { ...raw.get(contribution), [field]: value });
  }
  const parts = new Map<SetOptionContribution, Record<string, unknown>>();
  const issues: { path: string; message: string }[] = [];
  for (const [contribution, values] of raw) {
    const result = await contribution.input['~standard'].validate(values);
    if (result.issues) issues.push(...result.issues.map((issue) => ({ path: issuePath(issue), message: issue.message })));
    else parts.set(contribution, result.value as Record<string, unknown>);
  }
  if (issues.length > 0) {
    throw new NsboxError('E_INVALID_ARGUMENT', `set: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, {
      details: { field: issues[0]?.path, issues },
    });
  }
  return parts;
}

export async function setBox(plugins: PluginHost, scope: SetScope, box: Box, options: Record<string, unknown>): Promise<SetResult> {
  const parts = await validatedParts(setOptionsFor(plugins, box), box, options);
  const changes: Record<string, unknown> = {};
  for (const [contribution, values] of parts) Object.assign(changes, contribution.changes(box, values));
  const started = Date.now();
  const updated = await scope.api.update(box.id, changes);
  const stored = scope.stored(box.id);
  const live = stored.state === 'running' || stored.state === 'paused';
  const liveResults = new Map<SetOptionContribution, unknown>();
  for (const [contribution, values] of parts) {
    if (live && contribution.applyLive) liveResults.set(contribution, await contribution.applyLive(stored, values, box));
  }
  const result: SetResult = { box: updated.name, state: updated.state, appliedInMs: Date.now() - started };
  for (const contribution of parts.keys()) result[contribution.plugin] = contribution.report?.(stored, liveResults.get(contribution)) ?? {};
  return result;
}
