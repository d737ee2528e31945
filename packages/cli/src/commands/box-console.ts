import { defineCommand } from '../command.js';

/** Ctrl-]: the byte that detaches (telnet's and virsh console's); never sent to the box. */
const DETACH = 0x1d;

/** An attached console, local (the shim's socket) or through nsboxd (its websocket). */
interface ConsoleLink {
  output: NodeJS.ReadableStream;
  write(data: Buffer): void;
  closed: Promise<unknown>;
  close(): void;
}

export default defineCommand({
  name: 'console',
  description: "attach to a running box's console (its login prompt on a systemd box); Ctrl-] detaches",
  arguments: [{ name: 'name', required: true }],
  async run(context, [name]) {
    let link: ConsoleLink;
    if (context.remote) {
      const session = await context.remote.client.boxes.attachConsole(name as string);
      link = { output: session.stdout, write: (data) => session.write(data), closed: session.exited.catch(() => undefined), close: () => session.close() };
    } else {
      const host = await context.host();
      const [{ attachConsole }, { linuxDriver }] = await Promise.all([import('@nsbox/runtime'), import('../linux-box-io.js')]);
      const socket = await attachConsole(linuxDriver(host), await host.manager.sync(name as string));
      link = {
        output: socket,
        write: (data) => void socket.write(data),
        closed: new Promise((resolve) => socket.once('close', resolve)),
        close: () => socket.destroy(),
      };
    }
    const raw = Boolean(process.stdin.isTTY);
    if (raw) process.stdin.setRawMode(true);
    process.stderr.write(`attached to the console of ${name}: Ctrl-] detaches\r\n`);
    link.output.pipe(process.stdout, { end: false });
    const how = await new Promise<'detached' | 'ended'>((resolve) => {
      process.stdin.on('data', (chunk: Buffer) => {
        const at = chunk.indexOf(DETACH);
        if (at < 0) return link.write(chunk);
        if (at > 0) link.write(chunk.subarray(0, at));
        resolve('detached');
      });
      process.stdin.once('end', () => resolve('detached'));
      void link.closed.then(() => resolve('ended'));
    });
    if (raw) process.stdin.setRawMode(false);
    link.close();
    process.stdin.removeAllListeners('data');
    process.stdin.destroy();
    process.stderr.write(how === 'detached' ? '\r\ndetached\r\n' : '\r\nthe console closed (the box ended, or another client holds it)\r\n');
    return { box: name, how };
  },
  render: () => '',
});
