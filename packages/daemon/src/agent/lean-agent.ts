/**
 * `nsboxd --agent`: the resident agent without the API, for hosts that want none — the box
 * watcher and the plugins' host services on a state dir, nothing listening anywhere.
 */

import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { LinuxBoxDriver } from '@nsbox/runtime';
import { resolveStateDir } from '@nsbox/store';
import { AgentLock } from './agent-lock.js';
import { agentLog } from './agent-log.js';
import { type AgentSettings, type ResidentAgent, startResidentAgent } from './resident-agent.js';

export interface LeanAgentOptions {
  stateDir?: string;
  hostConfigFile?: string;
  plugins?: AnyPlugin[];
  pluginPaths?: string[];
  discover?: boolean;
  /** cgroup parent of the boxes (default $NSBOX_CGROUP_PARENT or 'nsbox'). */
  cgroupParent?: string;
  logLevel?: string;
  warn?: (message: string) => void;
  agent?: AgentSettings;
}

export interface RunningAgent {
  stateDir: string;
  agent: ResidentAgent;
  /** Stops the services and the watcher; boxes keep running. */
  close(): Promise<void>;
}

export async function startAgent(options: LeanAgentOptions = {}): Promise<RunningAgent> {
  const warn = options.warn ?? ((message: string) => process.stderr.write(`nsboxd: ${message}\n`));
  const stateDir = resolveStateDir(options.stateDir);
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
  let lock: AgentLock | undefined;
  try {
    lock = AgentLock.acquire(stateDir, 'agent', (body) => host.store.db.transaction(body).immediate());
    const repaired = await host.manager.reconcile();
    if (repaired.length > 0) warn(`reconciled ${repaired.length} operations a previous process left unfinished`);
    const agent = await startResidentAgent({ host, boxesDir: driver.boxesDir, lock, log: agentLog(options.logLevel, warn), ...options.agent });
    let closing: Promise<void> | undefined;
    return {
      stateDir,
      agent,
      close() {
        closing ??= agent.close().finally(() => host.close());
        return closing;
      },
    };
  } catch (error) {
    lock?.release();
    host.close();
    throw error;
  }
}
