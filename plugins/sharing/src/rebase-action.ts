/**
 * `nsbox rebase BOX [--version V] [--dry-run]` (and `POST /plugins/sharing/actions/rebase`):
 * moves a stopped box made on a shared template onto the template's current version (or the
 * one named), keeping its own changes. The dry run lists the conflicts — paths the box changed
 * that also changed between the versions, where the box's version will stay — and changes nothing.
 */

import { defineAction, NsboxError, z } from '@nsbox/core';
import { runtimeRefs, type TemplateLayer } from '@nsbox/runtime-api';

export const rebaseAction = defineAction({
  name: 'rebase',
  description: "move a stopped box onto its template's current version (or --version), keeping its changes; --dry-run lists the conflicts",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    version: z.string().min(1).optional().describe('the template version to move to (default: the current one)'),
    dryRun: z.boolean().optional().describe('only list what would change and the conflicts'),
  }),
  box: true,
  role: 'admin',
  cli: {
    command: 'rebase',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: '--version <version>', description: 'the template version to move to (default: the current one)' },
      { flags: '--dry-run', description: 'only list what would change and the conflicts' },
    ],
  },
  async run({ version, dryRun }, { box, services, operation }) {
    const current = box as NonNullable<typeof box>;
    const layers = services.get(runtimeRefs.rootfsLayers);
    const view = layers.of(current);
    const top = view?.lowers[0];
    if (!view || !top) throw new NsboxError('E_INVALID_STATE', `box '${current.name}' does not run on a shared template`, { details: { box: current.name } });
    let target: TemplateLayer | undefined;
    if (version === undefined) target = await layers.templateLayer(top.template, operation);
    else target = layers.versions().find((layer) => layer.template === top.template && layer.version === version);
    if (!target) {
      throw new NsboxError('E_NOT_FOUND', `template ${top.template} has no version ${version}`, { details: { field: 'version', template: top.template } });
    }
    const plan = layers.rebase(current, [target], { dryRun: dryRun === true });
    return { box: current.name, template: top.template, from: top.version, to: target.version, conflicts: plan.conflicts, applied: plan.applied };
  },
  render: (result) => {
    const head =
      result.from === result.to
        ? `box ${result.box} is on ${result.template}@${result.to} already`
        : `box ${result.box}: ${result.template}@${result.from} → @${result.to}${result.applied ? '' : ' (dry run: nothing changed)'}`;
    const conflicts =
      result.conflicts.length === 0
        ? 'no conflicts'
        : `${result.conflicts.length} conflict(s), the box's version stays:\n${result.conflicts.map((path) => `  /${path}`).join('\n')}`;
    return `${head}\n${conflicts}`;
  },
});
