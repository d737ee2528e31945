/** The `nsboxd` executable. SIGTERM/SIGINT stop the API (or the lean agent); the boxes keep running. */

import { startAgent } from './agent/lean-agent.js';
import { parseDaemonArgs, usage } from './args.js';
import { startDaemon } from './daemon.js';

let options: ReturnType<typeof parseDaemonArgs>;
try {
  options = parseDaemonArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`nsboxd: ${(error as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

try {
  let daemon: { close(): Promise<void> };
  if (options.agentOnly) {
    const agent = await startAgent(options);
    process.stderr.write(`nsboxd --agent: watching the boxes of ${agent.stateDir} and running the plugins' host services (no API)\n`);
    daemon = agent;
  } else {
    const api = await startDaemon(options);
    const where = [api.socketPath, api.tcpAddress].filter(Boolean).join(' and ');
    process.stderr.write(`nsboxd ${api.context.version}: serving ${api.stateDir} on ${where}; admin token in ${api.adminTokenFile}\n`);
    daemon = api;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`nsboxd: ${signal}: stopping (boxes keep running)\n`);
    daemon.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`nsboxd: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (error) {
  process.stderr.write(`nsboxd: ${(error as Error).message}\n`);
  process.exit(1);
}
