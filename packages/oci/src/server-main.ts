/**
 * Entry of the nsbox-runc server (started by the native front, build/nsbox-runc):
 *   node server-main.js --root DIR [--fd N]
 */

import { RuncServer } from './server/server.js';

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const root = argument('--root') ?? '/run/nsbox-runc';
const fd = argument('--fd');
const idle = Number(process.env.NSBOX_RUNC_IDLE_SECONDS ?? 300);
const server = new RuncServer({ root, ...(Number.isFinite(idle) && idle > 0 ? { idleMs: idle * 1000 } : {}) });

process.on('unhandledRejection', (error) => process.stderr.write(`nsbox-runc server: unhandled: ${(error as Error)?.stack ?? error}\n`));

if (fd !== undefined) {
  await server.serveFd(Number(fd));
  await server.stop();
  process.exit(0);
} else if (!(await server.listen())) {
  process.exit(0); // another server serves this root
} else {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void server.stop().then(() => process.exit(0));
    });
  }
}
