/**
 * Post-copy's page server on the source: where the target's lazy-pages daemon reaches it — the
 * address this host uses toward the target (the route's source address, so it listens on that
 * one link only, not on every address) and a free port there.
 */

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PageServer } from './criu-args.js';
import type { CriuCheckResult } from './criu-check.js';

/** The address a packet to `host` leaves from (a connected UDP socket sends nothing). */
function sourceAddressToward(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.connect(port, host, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The page server for a migration to `to` (an nsboxd's URL, or its socket path on this host: loopback). */
export async function pageServerFor(to: string): Promise<PageServer> {
  let address = '127.0.0.1';
  if (/^https?:\/\//.test(to)) {
    const url = new URL(to);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    address = await sourceAddressToward(host, Number(url.port) || (url.protocol === 'https:' ? 443 : 80));
  }
  return { address, port: await freePort(address) };
}

/** Whether memory moves post-copy, and when not, why (both hosts' criu verdicts, the caller's wish). */
export function postcopyVerdict(local: CriuCheckResult, target: CriuCheckResult, wanted: boolean): { postcopy: boolean; why: string } {
  if (!wanted) return { postcopy: false, why: 'stop-and-copy: post-copy not asked for (--lazy-pages)' };
  if (!local.lazyPages)
    return { postcopy: false, why: `stop-and-copy: no lazy pages here (${local.lazyPagesWhy ?? 'criu check --feature uffd-noncoop failed'})` };
  if (!target.lazyPages)
    return { postcopy: false, why: `stop-and-copy: no lazy pages on the target (${target.lazyPagesWhy ?? 'its criu check does not say it has them'})` };
  return { postcopy: true, why: 'post-copy: the memory moved after the box ran there (criu lazy pages)' };
}
