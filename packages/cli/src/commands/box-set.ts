/**
 * `nsbox set NAME --memory 512M --net-rate 10mbit --hostname web ...`: the plugins' set options
 * (setOptionPoint), all validated before any is applied, kept, and applied live to a running
 * box (BoxApi.set, `POST /boxes/{id}/set` through nsboxd). Each plugin renders its own part.
 */

import type { SetOptionContribution, SetOutcome } from '@nsbox/core';
import { collect } from '../box-helpers.js';
import { type CliCommand, defineCommand } from '../command.js';

/** The command with the plugins' options; without any (no host), it still parses and reports what is missing. */
export function setCommand(contributions: readonly SetOptionContribution[] = []): CliCommand {
  const fields = new Set<string>();
  const options = contributions.flatMap((contribution) =>
    Object.entries(contribution.options).flatMap(([field, option]) => {
      // A field two plugins claim is refused by the call itself, naming both.
      if (fields.has(field)) return [];
      fields.add(field);
      return [{ flags: option.flags, description: `${option.description} (${contribution.plugin})`, ...(option.repeatable ? { parse: collect } : {}) }];
    }),
  );
  return defineCommand({
    name: 'set',
    description: "change a box: each plugin's options, all checked before any is applied; a running box gets them at once, and they are kept",
    arguments: [{ name: 'name', required: true, description: 'the box (name or id)' }],
    options,
    async run(context, [name], given) {
      return (await context.api()).set(name as string, given);
    },
    render(result) {
      const outcome = result as SetOutcome & Record<string, unknown>;
      const parts = contributions.filter((contribution) => contribution.plugin in outcome);
      const lines = parts.map((contribution) => {
        const part = outcome[contribution.plugin];
        return contribution.render ? contribution.render(part, outcome) : `${contribution.plugin}: ${JSON.stringify(part)}`;
      });
      const live = outcome.state === 'running' || outcome.state === 'paused';
      return [`box ${outcome.box} (${outcome.state}): ${live ? `applied live in ${outcome.appliedInMs} ms` : 'kept for the next start'}`, ...lines].join('\n');
    },
  });
}

export default setCommand();
