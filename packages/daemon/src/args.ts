/** nsboxd's command line. */

import { parseArgs } from 'node:util';
import type { LeanAgentOptions } from './agent/lean-agent.js';
import type { DaemonOptions } from './daemon.js';

export const usage = `usage: nsboxd [options]

  --socket PATH         unix socket (default /run/nsbox/nsbox.sock; mode 0660, group nsbox)
  --socket-group NAME   group of the socket (default nsbox, created when missing)
  --no-socket           serve on TCP only
  --state-dir DIR       state directory (default $NSBOX_STATE_DIR or /var/lib/nsbox)
  --host-config FILE    host config (default <state-dir>/host.json)
  --plugin-path DIR     extra node_modules folder to search for plugins (repeatable)
  --tcp HOST:PORT       also listen on TCP, with TLS:
  --tls-cert FILE       PEM certificate
  --tls-key FILE        PEM private key
  --tcp-insecure        TCP without TLS (loopback tests and benchmarks only)
  --log-level LEVEL     fatal, error, warn, info (default), debug, trace, silent
  --agent               the resident agent alone: box watcher and plugins' host
                        services, no API (no socket, no TCP, no token)
  -h, --help            this text

On first start nsboxd writes an admin token to <state-dir>/admin.token (mode 0600).
One agent (nsboxd or nsboxd --agent) runs per state dir; a second one refuses to start.`;

/** What nsboxd was asked to run: the API with the agent, or the agent alone. */
export type DaemonInvocation = (DaemonOptions & { agentOnly?: false }) | (LeanAgentOptions & { agentOnly: true });

/** Options that configure the API, which --agent does not serve. */
const apiOptions = ['socket', 'socket-group', 'no-socket', 'tcp', 'tls-cert', 'tls-key', 'tcp-insecure'] as const;

export function parseDaemonArgs(argv: string[]): DaemonInvocation | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      'socket-group': { type: 'string' },
      'no-socket': { type: 'boolean' },
      'state-dir': { type: 'string' },
      'host-config': { type: 'string' },
      'plugin-path': { type: 'string', multiple: true },
      tcp: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tcp-insecure': { type: 'boolean' },
      'log-level': { type: 'string' },
      agent: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.agent) {
    const given = apiOptions.filter((name) => values[name] !== undefined);
    if (given.length > 0) throw new Error(`--agent serves no API: ${given.map((name) => `--${name}`).join(', ')} cannot be used with it`);
    const agent: LeanAgentOptions & { agentOnly: true } = { agentOnly: true, logLevel: values['log-level'] ?? 'info' };
    if (values['state-dir']) agent.stateDir = values['state-dir'];
    if (values['host-config']) agent.hostConfigFile = values['host-config'];
    if (values['plugin-path']) agent.pluginPaths = values['plugin-path'];
    return agent;
  }
  const options: DaemonOptions = { logLevel: values['log-level'] ?? 'info' };
  if (values['state-dir']) options.stateDir = values['state-dir'];
  if (values['no-socket']) options.socket = false;
  else if (values.socket) options.socket = values.socket;
  if (values['socket-group']) options.socketGroup = values['socket-group'];
  if (values['host-config']) options.hostConfigFile = values['host-config'];
  if (values['plugin-path']) options.pluginPaths = values['plugin-path'];
  if (values.tcp) {
    const match = /^(.*):(\d+)$/.exec(values.tcp);
    if (!match) throw new Error(`--tcp wants HOST:PORT, not '${values.tcp}'`);
    options.tcp = {
      host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'),
      port: Number(match[2]),
      ...(values['tls-cert'] ? { cert: values['tls-cert'] } : {}),
      ...(values['tls-key'] ? { key: values['tls-key'] } : {}),
      ...(values['tcp-insecure'] ? { insecure: true } : {}),
    };
  }
  return options;
}
