import { NsboxError } from '@nsbox/core';
import { attachConsole } from '@nsbox/runtime';
import { linuxDriver } from '../box-helpers.js';
import { defineCommand } from '../command.js';

/** Ctrl-]: the byte that detaches (telnet's and virsh console's); never sent to the box. */
const DETACH = 0x1d;

export default defineCommand({
  name: 'console',
  description: "attach to a running box's console (its login prompt on a systemd box); Ctrl-] detaches",
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    if (context.remote) {
      throw new NsboxError('E_UNSUPPORTED', 'nsbox console works on the local host only for now (not through nsboxd)', { details: { box: name } });
    }
    const host = await context.host();
    const socket = await attachConsole(linuxDriver(host), await host.manager.sync(name as string));
    const raw = Boolean(process.stdin.isTTY);
    if (raw) process.stdin.setRawMode(true);
    process.stderr.write(`attached to the console of ${name}: Ctrl-] detaches\r\n`);
    socket.pipe(process.stdout, { end: false });
    const detached = new Promise<'detached' | 'ended'>((resolve) => {
      const onData = (chunk: Buffer) => {
        const at = chunk.indexOf(DETACH);
        if (at < 0) return void socket.write(chunk);
        if (at > 0) socket.write(chunk.subarray(0, at));
        resolve('detached');
      };
      process.stdin.on('data', onData);
      process.stdin.once('end', () => resolve('detached'));
      socket.once('close', () => resolve('ended'));
    });
    try {
      const how = await detached;
      process.stderr.write(how === 'detached' ? '\r\ndetached\r\n' : '\r\nthe console closed (the box ended, or another client holds it)\r\n');
      return { box: name, how };
    } finally {
      if (raw) process.stdin.setRawMode(false);
      socket.destroy();
      process.stdin.removeAllListeners('data');
      process.stdin.destroy();
    }
  },
  render: () => '',
});
