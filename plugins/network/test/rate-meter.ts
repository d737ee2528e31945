/**
 * The measuring tool of the shaping tests: a small TCP server run by Node inside the test's
 * host namespace (`ip netns exec`), which either receives a stream from a box and reports the
 * rate it arrived at (leaving out the first second: TCP's slow start and the bucket's first
 * burst), or sends one to a box. The box side is busybox nc.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import type { Cleanup } from '@nsbox/testkit';

const SERVER = String.raw`
const net = require('node:net');
const [port, mode, total] = process.argv.slice(1);
const expected = Number(total);
const server = net.createServer((socket) => {
  if (mode === 'send') {
    const chunk = Buffer.alloc(65536);
    let sent = 0;
    const pump = () => {
      while (sent < expected) {
        sent += chunk.length;
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      socket.end();
    };
    return pump();
  }
  const samples = [];
  let received = 0;
  socket.on('data', (data) => {
    received += data.length;
    samples.push([performance.now(), received]);
    if (received >= expected) {
      socket.destroy();
      const first = samples[0][0];
      const from = samples.find(([t]) => t >= first + 1000) ?? samples[0];
      const last = samples[samples.length - 1];
      process.stdout.write(JSON.stringify({ bytes: last[1] - from[1], ms: last[0] - from[0] }) + '\n');
      process.exit(0);
    }
  });
});
server.listen(Number(port), () => process.stdout.write('listening\n'));
`;

export interface RateServer {
  child: ChildProcess;
  /** Resolves with the rate (Mbit/s) a 'receive' server measured. */
  measured: Promise<number>;
}

/** Starts the server in `netns` and waits until it listens. */
export async function rateServer(cleanup: Cleanup, netns: string, port: number, mode: 'receive' | 'send', bytes: number): Promise<RateServer> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', SERVER, String(port), mode, String(bytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.add(`stop the rate server on ${port}`, () => child.kill('SIGKILL'));
  let output = '';
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => {
    onListening = resolve;
  });
  const measured = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('listening\n')) onListening();
      const result = /\{.*\}/.exec(output);
      if (result) {
        const { bytes: counted, ms } = JSON.parse(result[0]) as { bytes: number; ms: number };
        resolve((counted * 8) / ms / 1000);
      }
    });
    child.on('exit', (code) => reject(new Error(`the rate server exited (${code}) before it measured: ${output}`)));
  });
  measured.catch(() => undefined);
  await Promise.race([listening, new Promise((_, reject) => setTimeout(() => reject(new Error(`the rate server did not listen: ${output}`)), 10_000))]);
  return { child, measured };
}
