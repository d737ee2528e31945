/**
 * `exec`: one more process in a running box, through the launcher's join mode, started by
 * the caller (so that conmon reaps it). The launcher stays as the process's supervisor and
 * exits with its status: with --detach, its pid is the one written to --pid-file; it
 * forwards the signals it gets to the process.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NsboxError, type OciSpec } from '@nsbox/core';
import { compileJoinProgram, encodeProgram, launcherPath } from '@nsbox/runtime';
import { inheritedFds, withVariables } from '../box/inherited-fds.js';
import { listenerOps } from '../box/launch-ops.js';
import { launcherError, type OciRuntimeFacts } from '../box/oci-driver.js';
import { hookState, ociStatus } from '../box/oci-state.js';
import { checkProcessSpec } from '../bundle/spec-support.js';
import { type CommandContext, writePidFile } from './context.js';

export interface ExecOptions {
  process?: string;
  tty?: boolean;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: string[];
  cap?: string[];
  noNewPrivs?: boolean;
  processLabel?: string;
  apparmor?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
}

function parseUser(text: string): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!match) throw new NsboxError('E_INVALID_ARGUMENT', `--user '${text}': give UID[:GID] as numbers`, { details: { field: '--user' } });
  return { uid: Number(match[1]), gid: Number(match[2] ?? 0) };
}

/** The process to run: --process, else the box's process with the command line's changes. */
function execProcess(context: CommandContext, spec: OciSpec, args: string[], options: ExecOptions): OciSpec['process'] {
  if (options.process) {
    let raw: unknown;
    const file = resolve(context.cwd, options.process);
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new NsboxError('E_INVALID_ARGUMENT', `--process ${file}: ${(error as Error).message}`, { details: { field: '--process' } });
    }
    const process = checkProcessSpec(raw);
    return { ...process, ...(options.tty ? { terminal: true } : {}) };
  }
  if (args.length === 0) throw new NsboxError('E_INVALID_ARGUMENT', 'exec needs a command to run (or --process)', { details: { field: 'command' } });
  const process = structuredClone(spec.process);
  process.args = args;
  process.terminal = options.tty ?? false;
  if (options.cwd) process.cwd = options.cwd;
  if (options.env?.length) {
    const keys = new Set(options.env.map((entry) => entry.split('=')[0]));
    process.env = [...(process.env ?? []).filter((entry) => !keys.has(entry.split('=')[0])), ...options.env];
  }
  if (options.user) process.user = { ...process.user, ...parseUser(options.user) };
  if (options.additionalGids?.length) process.user.additionalGids = options.additionalGids.map(Number);
  if (options.cap?.length) {
    const caps = process.capabilities ?? {};
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...new Set([...(caps[set] ?? []), ...options.cap])];
    process.capabilities = caps;
  }
  if (options.noNewPrivs) process.noNewPrivileges = true;
  return process;
}

export async function execInContainer(context: CommandContext, id: string, args: string[], options: ExecOptions): Promise<number> {
  const { runtime } = context;
  if (options.processLabel)
    throw new NsboxError('E_UNSUPPORTED', '--process-label is not supported: SELinux is not enabled on this host', { details: { field: '--process-label' } });
  if (options.apparmor)
    throw new NsboxError('E_UNSUPPORTED', '--apparmor is not supported: AppArmor is not enabled on this host', { details: { field: '--apparmor' } });
  const fds = inheritedFds(context.caller.request, options.preserveFds ?? 0);
  const box = await runtime.get(id);
  const status = ociStatus(box);
  if (status === 'stopped' || status === 'creating') throw new NsboxError('E_INVALID_STATE', 'cannot exec in a stopped container', { details: { id, status } });
  if (status === 'paused' && !options.ignorePaused) throw new NsboxError('E_INVALID_STATE', 'cannot exec in a paused container', { details: { id, status } });
  const facts = box.runtime as unknown as OciRuntimeFacts;
  const spec = facts.spec ?? facts.oci.spec;
  const joined = execProcess(context, spec, args, options);
  if (fds.env.length > 0) joined.env = withVariables(joined.env, fds.env);
  const tty = joined.terminal ?? false;
  if (tty && options.detach && !options.consoleSocket) {
    throw new NsboxError('E_INVALID_ARGUMENT', 'cannot allocate tty if runc will detach without setting console socket', { details: { field: '--tty' } });
  }
  if (!tty && options.consoleSocket) {
    throw new NsboxError('E_INVALID_ARGUMENT', 'cannot use console socket if runc will not detach or allocate tty', { details: { field: '--console-socket' } });
  }
  const init = facts.init;
  if (!init) throw new NsboxError('E_INVALID_STATE', 'container not running', { details: { id } });
  const program = compileJoinProgram(
    { ...spec, process: joined },
    { initPid: init.pid, args: joined.args, env: joined.env ?? [], cwd: joined.cwd, user: joined.user, tty },
    runtime.driver.joinContext(box),
  );
  if (fds.count > 0) program.push(['preserve_fds', String(fds.count)]);
  // The exec'd process gets its own listener; the agent gets it too, as runc sends it.
  const { pid: _pid, ...state } = hookState(box, 'running');
  program.push(...listenerOps(spec, JSON.stringify(state)));
  const programFile = join(runtime.driver.files(box).dir, `exec-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(programFile, encodeProgram(program), { mode: 0o600 });
  let answer: Awaited<ReturnType<typeof context.caller.spawn>>;
  try {
    answer = await context.caller.spawn({
      launcher: launcherPath,
      program: programFile,
      join: true,
      ...(options.consoleSocket ? { tty: true, consoleSocket: options.consoleSocket } : {}),
      ...(fds.count > 0 ? { preserveFds: fds.count } : {}),
    });
  } finally {
    rmSync(programFile, { force: true });
  }
  if (answer.line) throw launcherError(answer.line);
  if (options.pidFile) writePidFile(context, options.pidFile, answer.launcher);
  if (options.detach) return 0;
  const exited = await context.caller.wait(answer.launcher);
  return exited.status < 0 ? 1 : exited.status;
}
