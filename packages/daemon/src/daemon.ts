/**
 * Starting nsboxd: open the host on its state directory, repair what a previous process left
 * (reconcile, stale API operations, leftovers), make sure an admin token exists, then serve
 * the API on the unix socket (and TCP with TLS when asked).
 *
 * Boxes never depend on nsboxd: each runs under its own shim, so a stopped or killed daemon
 * leaves them running, and the next one adopts them.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyPlugin, quotaClaimPoint, sectionDefaults, setOptionPoint } from '@nsbox/core';
import { interruptedAction, LocalBoxApi, openHost } from '@nsbox/host';
import { LinuxBoxDriver } from '@nsbox/runtime';
import { resolveStateDir } from '@nsbox/store';
import type { FastifyInstance } from 'fastify';
import { AgentLock } from './agent/agent-lock.js';
import { agentLog } from './agent/agent-log.js';
import { type AgentSettings, type ResidentAgent, startResidentAgent } from './agent/resident-agent.js';
import { AuditLog } from './auth/audit-log.js';
import { TokenStore } from './auth/token-store.js';
import { settleCreate } from './boxes/create-box.js';
import type { DaemonContext } from './context.js';
import { daemonMigrations } from './db-schema.js';
import { EventFeed } from './events/event-feed.js';
import { daemonBoxIo } from './exec/daemon-box-io.js';
import { buildApp } from './http/app.js';
import { buildOpenApi } from './http/openapi.js';
import type { AnyRoute } from './http/route.js';
import { sweepLeftovers } from './leak-sweep.js';
import { OperationManager, type StoredOperation } from './ops/operation-manager.js';
import { actionRoutes } from './routes/action-routes.js';
import { boxRoutes } from './routes/box-routes.js';
import { consoleRoutes } from './routes/console-routes.js';
import { eventRoutes } from './routes/event-routes.js';
import { execRoutes } from './routes/exec-routes.js';
import { hostRoutes } from './routes/host-routes.js';
import { logRoutes } from './routes/log-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { operationRoutes } from './routes/operation-routes.js';
import { pluginRoutes } from './routes/plugin-routes.js';
import { statsRoutes } from './routes/stats-routes.js';
import { templateRoutes } from './routes/template-routes.js';
import { tenantRoutes } from './routes/tenant-routes.js';
import { uploadRoutes } from './routes/upload-routes.js';
import { DEFAULT_SOCKET, prepareSocketPath, secureSocket, socketAnswers } from './socket.js';
import { TemplateRegistry } from './templates/template-registry.js';
import { boxResourcesFrom } from './tenancy/box-resources.js';
import { PolicyGuard } from './tenancy/policy-guard.js';
import { QuotaGuard } from './tenancy/quota-guard.js';
import { TenantStore } from './tenancy/tenant-store.js';

export interface TcpListen {
  host: string;
  port: number;
  /** PEM files; TCP without TLS is refused unless `insecure` (a loopback benchmark). */
  cert?: string;
  key?: string;
  insecure?: boolean;
}

export interface DaemonOptions {
  stateDir?: string;
  /** Unix socket path (default /run/nsbox/nsbox.sock); false for none. */
  socket?: string | false;
  /** Group of the socket (default 'nsbox', created if missing); false: root only. */
  socketGroup?: string | false;
  tcp?: TcpListen;
  hostConfigFile?: string;
  plugins?: AnyPlugin[];
  pluginPaths?: string[];
  discover?: boolean;
  /** cgroup parent of the boxes (default $NSBOX_CGROUP_PARENT or 'nsbox'). */
  cgroupParent?: string;
  /** Fastify's log level (off when not given). */
  logLevel?: string;
  warn?: (message: string) => void;
  /** The resident agent's timings (sweep, host service backoff). */
  agent?: AgentSettings;
}

export interface RunningDaemon {
  context: DaemonContext;
  stateDir: string;
  socketPath: string | undefined;
  tcpAddress: string | undefined;
  adminToken: string;
  adminTokenFile: string;
  openapi: Record<string, unknown>;
  /** The resident agent: box watcher and host services. */
  agent: ResidentAgent;
  /** Stops serving; waits (at most `graceMs`) for running operations. Boxes keep running. */
  close(graceMs?: number): Promise<void>;
}

/** Written next to the store so that the CLI finds the daemon that serves this state dir. */
export interface DaemonStateFile {
  pid: number;
  socket: string | null;
  tcp: string | null;
  version: string;
  startedAt: number;
}

export const DAEMON_STATE_FILE = 'nsboxd.json';
const OPERATION_RETENTION_MS = 24 * 3600_000;

export function daemonVersion(): string {
  const manifest = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * A plugin's action that nsboxd died in: its plugin says what became of it (the operation
 * stays running until it does); nsboxd did not roll it back, so without the plugin's word the
 * operation only says it was interrupted.
 */
async function settleAction(context: DaemonContext, operation: StoredOperation): Promise<void> {
  const [, plugin = '', action = ''] = operation.kind.split('.');
  const outcome = await interruptedAction(context.host.plugins, plugin, action, operation.resources.boxes ?? []).catch((error: Error) => ({
    status: 'failure' as const,
    message: `nsboxd stopped before ${operation.description} was done, and its plugin could not say what became of it: ${error.message}`,
  }));
  if (outcome?.status === 'success') {
    context.operations.settle(operation.id, 'success', { result: outcome.result });
    return;
  }
  context.operations.settle(operation.id, 'failure', {
    error: {
      code: 'E_CANCELLED',
      message: outcome?.message ?? `nsboxd stopped before ${operation.description} was done; what it had done is as it left it`,
      details: { ...(outcome && 'details' in outcome ? outcome.details : {}), interrupted: true },
    },
  });
}

async function repair(context: DaemonContext, warn: (message: string) => void): Promise<void> {
  const repaired = await context.manager.reconcile();
  if (repaired.length > 0) warn(`reconciled ${repaired.length} operations a previous process left unfinished`);
  for (const operation of context.operations.stale()) {
    if (operation.kind === 'box.create') await settleCreate(context, operation);
    // Not awaited: a plugin may answer only once it has settled what the action left (a migration).
    else if (operation.kind.startsWith('action.'))
      void settleAction(context, operation).catch((error: Error) => warn(`operation ${operation.id}: ${error.message}`));
    else {
      context.operations.settle(operation.id, 'failure', {
        error: { code: 'E_CANCELLED', message: `nsboxd stopped before ${operation.description} was done; it was rolled back`, details: { interrupted: true } },
      });
    }
  }
  context.templates.sweep();
  const swept = sweepLeftovers({ stateDir: context.host.stateDir, boxes: context.manager.list() });
  if (swept.boxDirs.length > 0) warn(`removed box directories of interrupted creates: ${swept.boxDirs.join(', ')}`);
  for (const dir of swept.skipped) warn(`left ${dir} alone: something is still mounted under it`);
  context.operations.prune(OPERATION_RETENTION_MS);
}

function allRoutes(context: DaemonContext, openapi: () => unknown): AnyRoute[] {
  return [
    ...hostRoutes(context, openapi),
    ...boxRoutes(context),
    ...execRoutes(context),
    ...consoleRoutes(context),
    ...logRoutes(context),
    ...statsRoutes(context),
    ...eventRoutes(context),
    ...operationRoutes(context),
    ...templateRoutes(context),
    ...pluginRoutes(context),
    ...actionRoutes(context),
    ...uploadRoutes(context),
    ...tenantRoutes(context),
    ...metricsRoutes(context),
  ];
}

export async function startDaemon(options: DaemonOptions = {}): Promise<RunningDaemon> {
  const warn = options.warn ?? ((message: string) => process.stderr.write(`nsboxd: ${message}\n`));
  const stateDir = resolveStateDir(options.stateDir);
  const socketPath = options.socket === false ? undefined : (options.socket ?? DEFAULT_SOCKET);
  if (socketPath && (await socketAnswers(socketPath))) throw new Error(`another nsboxd already answers on ${socketPath}`);

  const cgroupParent = options.cgroupParent ?? process.env.NSBOX_CGROUP_PARENT;
  const driver = new LinuxBoxDriver({ stateDir, ...(cgroupParent ? { cgroupParent } : {}) });
  const host = await openHost({
    stateDir,
    driver,
    ...(options.hostConfigFile ? { hostConfigFile: options.hostConfigFile } : {}),
    ...(options.plugins ? { plugins: options.plugins } : {}),
    ...(options.pluginPaths ? { pluginPaths: options.pluginPaths } : {}),
    ...(options.discover !== undefined ? { discover: options.discover } : {}),
  });
  const apps: FastifyInstance[] = [];
  let lock: AgentLock | undefined;
  let agent: ResidentAgent | undefined;
  try {
    // One agent per state dir, taken before the reconcile: two would settle the same exits.
    lock = AgentLock.acquire(stateDir, 'nsboxd', (body) => host.store.db.transaction(body).immediate());
    host.store.migrateNamespace('daemon', daemonMigrations);
    const db = host.store.db;
    const tenants = new TenantStore(db);
    const context: DaemonContext = {
      host,
      manager: host.manager,
      api: new LocalBoxApi(host, daemonBoxIo(driver)),
      driver,
      tokens: new TokenStore(db),
      tenants,
      audit: new AuditLog(db),
      quotas: new QuotaGuard(
        tenants,
        (owner) => host.manager.list({ owner }),
        (name) => host.store.find(name) !== undefined,
        boxResourcesFrom(host.plugins.contributions(quotaClaimPoint)),
      ),
      policy: new PolicyGuard(tenants, () => host.plugins.definitions(), await sectionDefaults(host.plugins.definitions())),
      operations: new OperationManager(db),
      templates: new TemplateRegistry(db, stateDir),
      events: new EventFeed(
        host.store,
        host.events,
        (boxId) => host.store.find(boxId)?.owner,
        () => (db.prepare('SELECT MAX(id) AS id FROM events').get() as { id: number | null }).id ?? 0,
      ),
      version: daemonVersion(),
      startedAt: Date.now(),
    };
    context.audit.redactStoredEnvironments();
    await repair(context, warn);
    const adminTokenFile = join(stateDir, 'admin.token');
    const { token: adminToken } = context.tokens.ensureAdminToken(adminTokenFile);
    agent = await startResidentAgent({ host, boxesDir: driver.boxesDir, lock, log: agentLog(options.logLevel, warn), ...options.agent });

    let openapi: Record<string, unknown> = {};
    const routes = allRoutes(context, () => openapi);
    openapi = buildOpenApi(routes, { version: context.version, plugins: host.plugins.definitions(), setOptions: host.plugins.contributions(setOptionPoint) });
    const appOptions = {
      tokens: context.tokens,
      audit: context.audit,
      manager: host.manager,
      routes,
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    };

    if (socketPath) {
      const app = await buildApp(appOptions);
      apps.push(app);
      prepareSocketPath(socketPath);
      await app.listen({ path: socketPath });
      secureSocket(socketPath, options.socketGroup ?? 'nsbox', warn);
    }
    let tcpAddress: string | undefined;
    if (options.tcp) {
      const { cert, key, insecure } = options.tcp;
      if ((!cert || !key) && !insecure) throw new Error('TCP needs --tls-cert and --tls-key (or --tcp-insecure for a loopback test)');
      const app = await buildApp({ ...appOptions, ...(cert && key ? { https: { cert: readFileSync(cert), key: readFileSync(key) } } : {}) });
      apps.push(app);
      tcpAddress = await app.listen({ host: options.tcp.host, port: options.tcp.port });
    }

    const stateFile: DaemonStateFile = {
      pid: process.pid,
      socket: socketPath ?? null,
      tcp: tcpAddress ?? null,
      version: context.version,
      startedAt: context.startedAt,
    };
    writeFileSync(join(stateDir, DAEMON_STATE_FILE), `${JSON.stringify(stateFile)}\n`, { mode: 0o644 });
    const pruner = setInterval(() => context.operations.prune(OPERATION_RETENTION_MS), 3600_000).unref();

    let closing: Promise<void> | undefined;
    return {
      context,
      stateDir,
      socketPath,
      tcpAddress,
      adminToken,
      adminTokenFile,
      openapi,
      agent,
      close(graceMs = 30_000) {
        closing ??= (async () => {
          clearInterval(pruner);
          await Promise.all(apps.map((app) => app.close()));
          await Promise.race([context.operations.idle(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
          rmSync(join(stateDir, DAEMON_STATE_FILE), { force: true });
          if (socketPath) rmSync(socketPath, { force: true });
          await agent?.close();
          host.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await Promise.all(apps.map((app) => app.close().catch(() => undefined)));
    if (agent) await agent.close();
    else lock?.release();
    host.close();
    throw error;
  }
}
