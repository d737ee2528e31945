import { readFileSync } from 'node:fs';
import { NsboxError } from '@nsbox/core/light';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'config validate',
  description: "validate a box config file (JSON) against the core and every installed plugin's section",
  arguments: [{ name: 'file', required: true }],
  async run(context, [file]) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file as string, 'utf8'));
    } catch (error) {
      throw new NsboxError('E_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { details: { file } });
    }
    const { config } = await (await context.api()).validateConfig(raw as Record<string, unknown>);
    return { valid: true, file, config };
  },
  render: (result) => `${(result as { file: string }).file}: valid`,
});
