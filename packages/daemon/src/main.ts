/** The `nsboxd` executable. SIGTERM/SIGINT stop the API; the boxes keep running. */

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
  const daemon = await startDaemon(options);
  const where = [daemon.socketPath, daemon.tcpAddress].filter(Boolean).join(' and ');
  process.stderr.write(`nsboxd ${daemon.context.version}: serving ${daemon.stateDir} on ${where}; admin token in ${daemon.adminTokenFile}\n`);
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
