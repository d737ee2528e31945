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
      socket.end(() => process.exit(0));
    };
    return pump();
  }
  let received = 0;
  socket.on('data', (data) => {
    received += data.length;
    if (received >= expected) {
      socket.destroy();
      process.exit(0);
    }
  });
});
server.listen(Number(port), () => process.stdout.write('listening\n'));
`;

/**
 * Starts a server in `netns` that receives `bytes` (then closes) or sends them to the first
 * client, and waits until it listens. The rate is read from kernel counters by the caller
 * (`measureRate`): a Node process on a loaded machine stamps its reads late.
 */
export async function rateServer(cleanup: Cleanup, netns: string, port: number, mode: 'receive' | 'send', bytes: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', SERVER, String(port), mode, String(bytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.add(`stop the rate server on ${port}`, () => child.kill('SIGKILL'));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the rate server did not listen: ${output}`)), 10_000);
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('listening\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return child;
}

/**
 * The rate (Mbit/s) a byte counter grows at while a stream runs: sampled one second in (TCP's
 * slow start and the bucket's first burst left out) and again `seconds` later.
 */
export async function measureRate(counter: () => number, seconds: number): Promise<number> {
  await sleep(1000);
  const [from, started] = [counter(), performance.now()];
  await sleep(seconds * 1000);
  const [to, ended] = [counter(), performance.now()];
  return ((to - from) * 8) / (ended - started) / 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
