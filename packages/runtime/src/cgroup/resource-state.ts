/**
 * What the cgroup manager keeps per box in the store's plugin state, shared by every process
 * of the host: each owner's declaration, and the plan last written to the box's cgroup. A
 * plan being written is recorded first (`pending`), so that a process killed halfway leaves
 * a mark: the next apply (or the runtime's reconcile) then writes every file again.
 */

import type { PluginStateStore } from '@nsbox/core';
import type { ResourceBox, ResourceDeclaration } from '@nsbox/runtime-api';
import type { PlannedWrite } from './resource-plan.js';

const NAMESPACE = 'runtime.resources';

export interface AppliedPlan {
  /** What the kernel holds, as far as the manager knows. */
  plan: PlannedWrite[];
  /** A plan whose writes began and did not finish: the kernel may hold any mix of both. */
  pending?: PlannedWrite[];
}

/** An in-memory store for a driver used without a host (tests, tools): nothing outlives the process. */
export class MemoryStateStore implements PluginStateStore {
  private readonly entries = new Map<string, string>();

  get(namespace: string, key: string): string | undefined {
    return this.entries.get(`${namespace}\0${key}`);
  }

  set(namespace: string, key: string, value: string): void {
    this.entries.set(`${namespace}\0${key}`, value);
  }

  claim(namespace: string, key: string, value: string): boolean {
    if (this.entries.has(`${namespace}\0${key}`)) return false;
    this.set(namespace, key, value);
    return true;
  }

  delete(namespace: string, key: string): void {
    this.entries.delete(`${namespace}\0${key}`);
  }

  list(namespace: string, prefix = ''): { key: string; value: string }[] {
    const start = `${namespace}\0${prefix}`;
    return [...this.entries]
      .filter(([key]) => key.startsWith(start))
      .map(([key, value]) => ({ key: key.slice(namespace.length + 1), value }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

export class ResourceState {
  constructor(private store: PluginStateStore) {}

  /** The host's store, once the host is open (the driver is made before it). */
  useStore(store: PluginStateStore): void {
    this.store = store;
  }

  private ownerKey(box: ResourceBox, owner: string): string {
    return `${box.id}/owner/${owner}`;
  }

  declarations(box: ResourceBox): Record<string, ResourceDeclaration> {
    const prefix = `${box.id}/owner/`;
    const found: Record<string, ResourceDeclaration> = {};
    for (const { key, value } of this.store.list(NAMESPACE, prefix)) found[key.slice(prefix.length)] = JSON.parse(value) as ResourceDeclaration;
    return found;
  }

  declaration(box: ResourceBox, owner: string): ResourceDeclaration | undefined {
    const text = this.store.get(NAMESPACE, this.ownerKey(box, owner));
    return text === undefined ? undefined : (JSON.parse(text) as ResourceDeclaration);
  }

  setDeclaration(box: ResourceBox, owner: string, declaration: ResourceDeclaration | undefined): void {
    if (declaration === undefined) this.store.delete(NAMESPACE, this.ownerKey(box, owner));
    else this.store.set(NAMESPACE, this.ownerKey(box, owner), JSON.stringify(declaration));
  }

  applied(box: ResourceBox): AppliedPlan {
    const text = this.store.get(NAMESPACE, `${box.id}/applied`);
    return text === undefined ? { plan: [] } : (JSON.parse(text) as AppliedPlan);
  }

  setApplied(box: ResourceBox, applied: AppliedPlan): void {
    this.store.set(NAMESPACE, `${box.id}/applied`, JSON.stringify(applied));
  }

  /** Forgets everything about the box (its cgroup was removed, or made anew). */
  clear(box: ResourceBox): void {
    for (const { key } of this.store.list(NAMESPACE, `${box.id}/`)) this.store.delete(NAMESPACE, key);
  }
}
