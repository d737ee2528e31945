/** The built-in commands. Adding one: a file in this folder and a line here. */

import type { CliCommand } from '../command.js';
import consoleCommand from './box-console.js';
import create from './box-create.js';
import destroy from './box-destroy.js';
import enter from './box-enter.js';
import exec from './box-exec.js';
import info from './box-info.js';
import kill from './box-kill.js';
import list from './box-list.js';
import logs from './box-logs.js';
import restart from './box-restart.js';
import run from './box-run.js';
import set from './box-set.js';
import start from './box-start.js';
import stop from './box-stop.js';
import configValidate from './config-validate.js';
import plugins from './plugins.js';

export const builtinCommands: CliCommand[] = [
  create,
  start,
  stop,
  restart,
  set,
  kill,
  destroy,
  list,
  info,
  exec,
  enter,
  consoleCommand,
  logs,
  run,
  plugins,
  configValidate,
];
