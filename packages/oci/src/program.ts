/**
 * The runc command line (runc's commands, flags and exit behaviour), parsed per call. Errors
 * are reported the runc way (log.ts) and end the call with exit status 1.
 */

import { resolve } from 'node:path';
import { isNsboxError, NsboxError } from '@nsbox/core';
import { Command, CommanderError, Option } from 'commander';
import { checkpointContainer, restoreContainer } from './commands/checkpoint.js';
import type { CommandContext } from './commands/context.js';
import { createContainer } from './commands/create.js';
import { deleteContainer } from './commands/delete.js';
import { streamEvents } from './commands/events.js';
import { execInContainer } from './commands/exec.js';
import { showFeatures } from './commands/features.js';
import { killContainer } from './commands/kill.js';
import { listContainers } from './commands/list.js';
import { pauseContainer, resumeContainer } from './commands/pause.js';
import { psContainer } from './commands/ps.js';
import { runContainer } from './commands/run.js';
import { writeExampleSpec } from './commands/spec.js';
import { startContainer } from './commands/start.js';
import { showState } from './commands/state.js';
import { updateContainer } from './commands/update.js';
import { type LogFormat, RuncLog } from './log.js';
import type { OciRuntime } from './oci-runtime.js';
import type { CallerPort } from './server/front-session.js';

export interface GlobalFlags {
  root?: string;
  log?: string;
  logFormat: string;
  debug?: boolean;
  systemdCgroup?: boolean;
  criu?: string;
  rootless?: string;
  cgroupManager?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const count = (value: string) => {
  if (!/^\d+$/.test(value)) throw new NsboxError('E_INVALID_ARGUMENT', `'${value}' is not a number`);
  return Number(value);
};

/** Global flags, read before the command runs (a --log must receive the command's errors). */
function scanGlobals(argv: string[]): GlobalFlags {
  const flags: GlobalFlags = { logFormat: 'text' };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (!arg.startsWith('-')) break;
    const [flag, inline] = arg.includes('=') ? (arg.split(/=(.*)/s, 2) as [string, string]) : [arg, undefined];
    const value = () => inline ?? argv[++index];
    const name = flag.replace(/^--?/, '');
    if (name === 'root') flags.root = value();
    else if (name === 'log') flags.log = value();
    else if (name === 'log-format') flags.logFormat = value() ?? 'text';
    else if (name === 'criu') flags.criu = value();
    else if (name === 'rootless') flags.rootless = value();
    else if (name === 'debug') flags.debug = true;
    else if (name === 'systemd-cgroup') flags.systemdCgroup = true;
    else if (name === 'cgroup-manager') flags.cgroupManager = value();
  }
  return flags;
}

/** Flags of runc's that take a value (the word after them is not the container id). */
const VALUE_FLAGS = new Set([
  'root',
  'cgroup-manager',
  'config',
  'log',
  'log-format',
  'criu',
  'rootless',
  'bundle',
  'b',
  'pid-file',
  'console-socket',
  'preserve-fds',
  'process',
  'p',
  'cwd',
  'env',
  'e',
  'user',
  'u',
  'additional-gids',
  'g',
  'cap',
  'c',
  'process-label',
  'apparmor',
  'format',
  'f',
  'resources',
  'r',
  'interval',
  'memory',
  'memory-reservation',
  'memory-swap',
  'cpu-share',
  'cpu-quota',
  'cpu-period',
  'cpuset-cpus',
  'cpuset-mems',
  'pids-limit',
  'blkio-weight',
  'kernel-memory',
  'kernel-memory-tcp',
  'cpu-rt-period',
  'cpu-rt-runtime',
  'l3-cache-schema',
  'mem-bw-schema',
]);

/**
 * runc takes long flags with one dash too (`-root`, `-bundle`); commander wants two. Only
 * runc's own flags are rewritten: the global ones, and the command's up to its first
 * positional word (what follows the id of `exec` or `ps` belongs to the box's program).
 */
function normaliseDashes(argv: string[]): string[] {
  const result: string[] = [];
  let positionals = 0;
  let expectValue = false;
  for (const arg of argv) {
    if (positionals >= 2 || arg === '--') {
      positionals = 2;
      result.push(arg);
      continue;
    }
    if (expectValue) {
      expectValue = false;
      result.push(arg);
      continue;
    }
    if (arg.startsWith('-')) {
      const long = /^-[a-z][a-z-]+(=.*)?$/.test(arg) ? `-${arg}` : arg;
      const name = long.replace(/^--?/, '').split('=')[0] as string;
      expectValue = !long.includes('=') && VALUE_FLAGS.has(name);
      result.push(long);
      continue;
    }
    positionals++; // the command, then its first positional (the id)
    result.push(arg);
  }
  return result;
}

export async function runRuncCommand(argv: string[], caller: CallerPort, runtime: () => Promise<OciRuntime>): Promise<number> {
  const args = normaliseDashes(argv);
  const globals = scanGlobals(args);
  const format: LogFormat = globals.logFormat === 'json' ? 'json' : 'text';
  const log = new RuncLog({
    ...(globals.log ? { file: resolve(caller.request.cwd, globals.log) } : {}),
    format,
    debug: globals.debug ?? false,
    stderr: (text) => caller.out(2, text),
    stderrIsTty: caller.request.tty[2],
  });
  const unusableLog = log.checkFile();
  if (unusableLog) {
    caller.out(2, `nsbox-runc: ${unusableLog}\n`);
    return 1;
  }
  let exitCode = 0;
  const context = async (): Promise<CommandContext> => ({
    runtime: await runtime(),
    caller,
    log,
    cwd: caller.request.cwd,
    // crun's --cgroup-manager systemd is runc's --systemd-cgroup.
    systemdCgroup: (globals.systemdCgroup ?? false) || globals.cgroupManager === 'systemd',
  });

  const program = new Command('nsbox-runc')
    .description('nsbox-runc: an OCI runtime (runc command line) on nsbox')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (text) => caller.out(1, text), writeErr: (text) => caller.out(2, text), outputError: () => undefined })
    .option('--root <dir>', 'state directory', '/run/nsbox-runc')
    .option('--log <file>', 'log file (errors also go to stderr)')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'debug lines in the log')
    .option('--systemd-cgroup', "cgroupsPath is systemd's slice:prefix:name: each container a scope, made through systemd")
    .option('--criu <path>', "accepted: criu is nsbox's own (the migration plugin's private prefix)")
    .option('--rootless <value>', 'false or auto (nsbox-runc runs as root)')
    .option('--cgroup-manager <manager>', "crun's flag: cgroupfs, or systemd (as --systemd-cgroup)")
    .version('nsbox-runc 0.1.0\nspec: 1.2.0', '-v, --version');

  program.hook('preAction', () => {
    if (globals.rootless === 'true')
      throw new NsboxError('E_UNSUPPORTED', '--rootless true is not supported: nsbox-runc runs as root', { details: { field: '--rootless' } });
    if (globals.cgroupManager !== undefined && globals.cgroupManager !== 'cgroupfs' && globals.cgroupManager !== 'systemd') {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `--cgroup-manager ${globals.cgroupManager} is not supported: nsbox-runc manages cgroupfs paths or systemd scopes (its boxes always get a cgroup)`,
        { details: { field: '--cgroup-manager' } },
      );
    }
  });

  const createFlags = (command: Command) =>
    command
      .option('-b, --bundle <dir>', 'path to the bundle (default: the working directory)')
      .option('--pid-file <file>', 'file to write the init pid to')
      .option('--console-socket <path>', 'unix socket that receives the pty master')
      .option('--no-pivot', 'accepted: the launcher always uses pivot_root')
      .option('--no-new-keyring', 'accepted: boxes keep the session keyring they inherit')
      .option('--preserve-fds <n>', 'pass fds 3 … 2+N on to the box', count, 0)
      .option('--config <file>', "crun's flag: config.json's path in the bundle", 'config.json');

  createFlags(program.command('create').description('create a container').argument('<id>')).action(async (id: string, options) => {
    await createContainer(await context(), id, createOptions(options));
  });
  program
    .command('start')
    .description('run the user process of a created container')
    .argument('<id>')
    .action(async (id: string) => startContainer(await context(), id));
  program
    .command('state')
    .description('output the state of a container')
    .argument('<id>')
    .action(async (id: string) => showState(await context(), id));
  program
    .command('kill')
    .description('send a signal to the init process (default SIGTERM)')
    .argument('<id>')
    .argument('[signal]')
    .option('-a, --all', 'send to every process of the container')
    .action(async (id: string, signal: string | undefined, options: { all?: boolean }) => killContainer(await context(), id, signal, options.all ?? false));
  program
    .command('delete')
    .description('delete a container and what it holds on the host')
    .argument('<id>')
    .option('-f, --force', 'kill it first if it runs')
    .action(async (id: string, options: { force?: boolean }) => deleteContainer(await context(), id, options.force ?? false));
  createFlags(program.command('run').description('create and start a container').argument('<id>'))
    .option('-d, --detach', 'do not wait for the container')
    .option('--keep', 'do not delete the container when it exits')
    .action(async (id: string, options) => {
      exitCode = await runContainer(await context(), id, { ...createOptions(options), detach: options.detach, keep: options.keep });
    });
  program
    .command('exec')
    .description('run a process in a running container')
    .argument('<id>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-p, --process <file>', 'process.json of the process to run')
    .option('-t, --tty', 'allocate a terminal')
    .option('-d, --detach', 'do not wait for the process')
    .option('--pid-file <file>', 'file to write the process pid to')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <var>', 'KEY=VALUE (repeatable)', collect)
    .option('-u, --user <uid[:gid]>', 'user to run as')
    .option('-g, --additional-gids <gid>', 'supplementary group (repeatable)', collect)
    .option('-c, --cap <cap>', 'capability to add (repeatable)', collect)
    .option('--no-new-privs', 'set no_new_privs')
    .option('--process-label <label>', 'refused: no SELinux')
    .option('--apparmor <profile>', 'refused: no AppArmor')
    .option('--preserve-fds <n>', 'pass fds 3 … 2+N on to the process', count, 0)
    .option('--ignore-paused', 'exec into a paused container')
    .action(async (id: string, command: string[], options) => {
      exitCode = await execInContainer(await context(), id, command, {
        ...options,
        noNewPrivs: options.newPrivs === false,
      });
    });
  program
    .command('ps')
    .description('processes of a container')
    .argument('<id>')
    .argument('[ps-args...]')
    .passThroughOptions()
    .option('-f, --format <format>', 'table or json', 'table')
    .action(async (id: string, psArgs: string[], options: { format: string }) => psContainer(await context(), id, options.format, psArgs));
  program
    .command('list')
    .alias('ls')
    .description('containers of this --root')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'ids only')
    .action(async (options: { format: string; quiet?: boolean }) => listContainers(await context(), options.format, options.quiet ?? false));
  program
    .command('pause')
    .description('freeze every process of a container')
    .argument('<id>')
    .action(async (id: string) => pauseContainer(await context(), id));
  program
    .command('resume')
    .description('thaw a paused container')
    .argument('<id>')
    .action(async (id: string) => resumeContainer(await context(), id));
  program
    .command('update')
    .description('change the resources of a container (live)')
    .argument('<id>')
    .option('-r, --resources <file>', "LinuxResources JSON ('-': stdin)")
    .option('--memory <size>')
    .option('--memory-reservation <size>')
    .option('--memory-swap <size>')
    .option('--cpu-share <n>')
    .option('--cpu-quota <n>')
    .option('--cpu-period <n>')
    .option('--cpuset-cpus <list>')
    .option('--cpuset-mems <list>')
    .option('--pids-limit <n>')
    .option('--blkio-weight <n>', 'IO weight, 10-1000 (needs the BFQ scheduler)')
    .option('--kernel-memory <size>', 'accepted and ignored, as runc does')
    .option('--kernel-memory-tcp <size>', 'refused')
    .option('--cpu-rt-period <n>', 'realtime period in µs (cgroup v1)')
    .option('--cpu-rt-runtime <n>', 'realtime runtime in µs (cgroup v1)')
    .option('--l3-cache-schema <schema>', 'refused')
    .option('--mem-bw-schema <schema>', 'refused')
    .action(async (id: string, options) => updateContainer(await context(), id, options));
  program
    .command('events')
    .description('stream stats and OOM events of a container')
    .argument('<id>')
    .option('--stats', 'print the stats once and exit')
    .option('--interval <duration>', 'stats interval', '5s')
    .action(async (id: string, options: { stats?: boolean; interval: string }) => streamEvents(await context(), id, options));
  program
    .command('spec')
    .description('write an example config.json')
    .option('-b, --bundle <dir>', 'bundle directory', '.')
    .option('--rootless', 'a spec for a user namespace, as runc makes it')
    .action(async (options: { bundle: string; rootless?: boolean }) =>
      writeExampleSpec({ runtime: undefined as never, caller, log, cwd: caller.request.cwd }, options.bundle, options.rootless ?? false),
    );
  program
    .command('features')
    .description('what this runtime implements (JSON)')
    .action(() => showFeatures({ runtime: undefined as never, caller, log, cwd: caller.request.cwd }));
  // runc's checkpoint and restore flags; those of criu features nsbox does not use are accepted
  // and left alone (podman passes some of them), those it cannot honour are refused by name.
  const criuFlags = (command: Command) =>
    command
      .option('--image-path <dir>', "criu's images (default ./checkpoint)")
      .option('--work-path <dir>', "where criu's log is left (dump.log, restore.log)")
      .option('--tcp-established', 'keep established TCP connections')
      .option('--ext-unix-sk', 'accepted')
      .option('--shell-job', 'accepted')
      .option('--file-locks', 'accepted')
      .option('--manage-cgroups-mode <mode>', 'accepted: the runtime makes the cgroup and criu puts the tasks back (soft)')
      .option('--empty-ns <ns>', 'accepted')
      .option('--auto-dedup', 'accepted')
      .option('--lsm-profile <profile>', 'accepted: no LSM here')
      .option('--lsm-mount-context <context>', 'accepted: no LSM here');
  criuFlags(program.command('checkpoint').description('save a running container with criu').argument('<id>'))
    .option('--leave-running', 'keep the container running after the dump')
    .option('--pre-dump', 'refused: no dirty memory tracking')
    .option('--lazy-pages', 'refused')
    .option('--page-server <address>', 'refused')
    .option('--parent-path <dir>', 'refused')
    .option('--status-fd <fd>', 'accepted')
    .action(async (id: string, options) => checkpointContainer(await context(), id, options));
  criuFlags(createFlags(program.command('restore').description('restore a container from its checkpoint').argument('<id>')))
    .option('-d, --detach', 'do not wait for the container (always: it runs once restore returns)')
    .option('--no-subreaper', 'accepted')
    .action(async (id: string, options) =>
      restoreContainer(await context(), id, {
        ...createOptions(options),
        imagePath: options.imagePath,
        workPath: options.workPath,
        tcpEstablished: options.tcpEstablished,
      }),
    );

  try {
    await program.parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      log.error(error.message.replace(/^error: /, ''));
      return 1;
    }
    const message = isNsboxError(error) ? error.message : error instanceof Error ? error.message : String(error);
    log.error(message);
    if (globals.debug && error instanceof Error && !isNsboxError(error)) log.debug(error.stack ?? '');
    return 1;
  }
}

function createOptions(options: Record<string, unknown>) {
  return {
    ...(options.bundle ? { bundle: options.bundle as string } : {}),
    ...(options.pidFile ? { pidFile: options.pidFile as string } : {}),
    ...(options.consoleSocket ? { consoleSocket: options.consoleSocket as string } : {}),
    preserveFds: (options.preserveFds as number | undefined) ?? 0,
    ...(options.config && options.config !== 'config.json' ? { config: options.config as string } : {}),
  };
}
