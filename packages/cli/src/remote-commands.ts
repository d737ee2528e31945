/**
 * The built-in commands as they run when nsboxd serves the state directory: same names,
 * arguments, options and rendering, and the same `--json` results, but every box operation
 * goes through the API (so the daemon's tenants, quotas and audit log see it too).
 */

import { readFileSync } from 'node:fs';
import { type Box as ApiBox, isNsboxApiError, type NsboxClient } from '@nsbox/client';
import { type Box, type ErrorCode, errorCatalog, NsboxError } from '@nsbox/core';
import { exitStatus } from '@nsbox/runtime';
import { parseEnv, parseSignal, summarize } from './box-helpers.js';
import { boxInfoView } from './box-info-view.js';
import type { CliCommand } from './command.js';
import { boxConfigFromOptions } from './commands/box-options.js';
import type { RemoteTarget } from './remote-daemon.js';

type RemoteRun = (client: NsboxClient, args: string[], options: Record<string, unknown>, json: boolean) => Promise<unknown>;

const asBox = (box: ApiBox) => box as unknown as Box;

/** An API error as the CLI reports local ones: same code, message and exit code. */
function localError(error: unknown): unknown {
  if (!isNsboxApiError(error)) return error;
  const code = (Object.hasOwn(errorCatalog, error.code) ? error.code : 'E_INTERNAL') as ErrorCode;
  return new NsboxError(code, error.message, { details: error.details });
}

function timeoutSeconds(value: unknown): number {
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : 10;
}

/** A session on the caller's terminal: raw mode and window size with a pty, stdin forwarded. */
async function attach(client: NsboxClient, name: string, input: Parameters<NsboxClient['boxes']['console']>[1] & { tty: boolean }) {
  const session = await client.boxes.console(name, {
    ...input,
    ...(input.tty && process.stdout.rows ? { rows: process.stdout.rows, cols: process.stdout.columns } : {}),
  });
  session.stdout.pipe(process.stdout, { end: false });
  session.stderr.pipe(process.stderr, { end: false });
  const raw = input.tty && process.stdin.isTTY;
  if (raw) process.stdin.setRawMode(true);
  const onData = (chunk: Buffer) => session.write(chunk);
  const onEnd = () => session.end();
  const onResize = () => session.resize(process.stdout.rows, process.stdout.columns);
  process.stdin.on('data', onData).on('end', onEnd);
  if (input.tty) process.stdout.on('resize', onResize);
  try {
    return { exitCode: await session.exited, stdout: '', stderr: '' };
  } finally {
    if (raw) process.stdin.setRawMode(false);
    process.stdin.off('data', onData).off('end', onEnd);
    process.stdout.off('resize', onResize);
    process.stdin.destroy();
  }
}

function userOption(value: unknown): { uid: number; gid: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const [uid, gid] = value.split(':').map(Number);
  return { uid: uid ?? 0, gid: gid ?? uid ?? 0 };
}

const runs: Record<string, RemoteRun> = {
  async create(client, [name, ...command], options) {
    const operation = await client.boxes.create({
      name: name as string,
      config: boxConfigFromOptions(options, command),
      ...(options.owner ? { owner: options.owner as string } : {}),
    });
    return summarize(asBox(await operation.wait()));
  },
  start: async (client, [name]) => summarize(asBox(await client.boxes.start(name as string))),
  stop: async (client, [name], options) => summarize(asBox(await client.boxes.stop(name as string, { timeout: timeoutSeconds(options.timeout) }))),
  restart: async (client, [name], options) => summarize(asBox(await client.boxes.restart(name as string, { timeout: timeoutSeconds(options.timeout) }))),
  async kill(client, [name, signal]) {
    const number = parseSignal(signal);
    await client.boxes.kill(name as string, number);
    return { name, signal: number };
  },
  async destroy(client, [name], options) {
    await client.boxes.destroy(name as string, { force: Boolean(options.force) });
    return { name, destroyed: true };
  },
  async list(client, _args, options) {
    const boxes = await client.boxes.list({
      ...(options.owner ? { owner: options.owner as string } : {}),
      ...(options.state ? { state: options.state as ApiBox['state'] } : {}),
    });
    return boxes.map((box) => summarize(asBox(box)));
  },
  async info(client, [name]) {
    const box = asBox(await client.boxes.get(name as string));
    const disabled = new Set(box.config.plugins?.disable ?? []);
    const plugins = (await client.plugins.list()).filter((plugin) => plugin.enabled && !disabled.has(plugin.name));
    const { lastExit: _lastExit, ...runtime } = box.runtime;
    return boxInfoView({
      box: { ...box, runtime },
      plugins,
      details: await client.boxes.details(box.id),
      recentEvents: await client.boxes.history(box.id, { last: 10 }),
    });
  },
  async exec(client, [name, ...command], options, json) {
    const env = parseEnv(options.env);
    const user = userOption(options.user);
    const request = { command, ...(env ? { env } : {}), ...(options.cwd ? { cwd: options.cwd as string } : {}), ...(user ? { user } : {}) };
    if (json) return client.boxes.exec(name as string, request);
    return attach(client, name as string, { ...request, tty: Boolean(options.tty) });
  },
  enter: (client, [name], options) => attach(client, name as string, { command: [options.shell as string, '-l'], tty: Boolean(process.stdin.isTTY) }),
  async logs(client, [name], options, json) {
    if (json) {
      const box = await client.boxes.get(name as string);
      return { name: box.name, log: await client.boxes.logs(box.id) };
    }
    if (!options.follow) process.stdout.write(await client.boxes.logs(name as string));
    else for await (const chunk of client.boxes.followLogs(name as string)) process.stdout.write(chunk);
    return undefined;
  },
  async run(client, [name, ...command], options, json) {
    const boxName = name as string;
    let created = false;
    let output = '';
    try {
      await (
        await client.boxes.create({
          name: boxName,
          config: boxConfigFromOptions(options, command),
          start: true,
          ...(options.owner ? { owner: options.owner as string } : {}),
        })
      ).wait();
      created = true;
      for await (const chunk of client.boxes.followLogs(boxName)) {
        if (json) output += chunk.toString('utf8');
        else process.stdout.write(chunk);
      }
      const box = await client.boxes.get(boxName);
      const exit = box.runtime.lastExit;
      return { name: boxName, exitCode: exitStatus(exit) ?? 0, exit, state: box.state, ...(json ? { output } : {}) };
    } finally {
      if (options.rm && created) await client.boxes.destroy(boxName, { force: true });
    }
  },
  plugins: (client) => client.plugins.list(),
  async 'config validate'(client, [file]) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file as string, 'utf8'));
    } catch (error) {
      throw new NsboxError('E_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { details: { file } });
    }
    const result = await client.validateConfig(raw as Record<string, unknown>);
    return { valid: true, file, config: result.config };
  },
};

/** The command as it runs through nsboxd; commands the API does not cover stay local. */
export function remoteCommand(command: CliCommand, remote: RemoteTarget): CliCommand {
  const run = runs[command.name];
  if (!run) return command;
  return {
    ...command,
    run: async (context, args, options) => {
      try {
        return await run(remote.client, args, options, Boolean(context.options.json));
      } catch (error) {
        throw localError(error);
      }
    },
  };
}
