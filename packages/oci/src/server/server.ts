/**
 * The nsbox-runc server: one per --root, started by the first call of the native front and
 * gone after a while without calls (NSBOX_RUNC_IDLE_SECONDS, default 300). It keeps the
 * host open (store, plugins, cgroup driver), so a call costs what the command costs, not a
 * Node start. With --fd it serves one call on an inherited socket and exits.
 */

import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { OciRuntime } from '../oci-runtime.js';
import { runRuncCommand } from '../program.js';
import { FrontSession } from './front-session.js';
import { FrameReader } from './protocol.js';

export const SOCKET_NAME = 'nsbox-runc.sock';

export interface ServeOptions {
  root: string;
  /** Serve the one call on this inherited socket fd, then exit. */
  fd?: number;
  idleMs?: number;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export class RuncServer {
  private runtime: Promise<OciRuntime> | undefined;
  private active = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private server: Server | undefined;

  constructor(private readonly options: ServeOptions) {}

  private openRuntime(): Promise<OciRuntime> {
    this.runtime ??= OciRuntime.open({ root: this.options.root });
    return this.runtime;
  }

  async handle(socket: Socket): Promise<void> {
    this.active++;
    clearTimeout(this.idleTimer);
    try {
      const session = await FrontSession.open(socket, new FrameReader());
      const code = await runRuncCommand(session.request.argv, session, () => this.openRuntime());
      session.exit(code);
    } catch (error) {
      process.stderr.write(`nsbox-runc server: ${(error as Error).stack ?? error}\n`);
      socket.destroy();
    } finally {
      this.active--;
      this.armIdle();
    }
  }

  private armIdle(): void {
    if (!this.server || this.active > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.options.idleMs ?? 300_000);
    this.idleTimer.unref();
  }

  /** Listens on <root>/nsbox-runc.sock; false when another live server already does. */
  async listen(): Promise<boolean> {
    const root = this.options.root;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const path = join(root, SOCKET_NAME);
    if (existsSync(path)) {
      if (await isListening(path)) return false;
      rmSync(path, { force: true }); // left by a server that died
    }
    const server = createServer((socket) => void this.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    writeFileSync(join(root, 'server.pid'), String(process.pid));
    this.server = server;
    this.armIdle();
    // A ready host makes the first call as fast as the next ones.
    this.openRuntime().catch((error: Error) => process.stderr.write(`nsbox-runc server: ${error.message}\n`));
    return true;
  }

  async serveFd(fd: number): Promise<void> {
    await this.handle(new Socket({ fd, readable: true, writable: true }));
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise((resolve) => server.close(resolve));
      rmSync(join(this.options.root, 'server.pid'), { force: true });
    }
    const runtime = await this.runtime?.catch(() => undefined);
    runtime?.close();
  }
}
