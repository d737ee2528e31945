/** Everything the routes share: the host (store, plugins, manager) and nsboxd's own services. */

import type { BoxManager } from '@nsbox/core';
import type { LocalBoxApi, NsboxHost } from '@nsbox/host';
import type { LinuxBoxDriver } from '@nsbox/runtime';
import type { AuditLog } from './auth/audit-log.js';
import type { TokenStore } from './auth/token-store.js';
import type { EventFeed } from './events/event-feed.js';
import type { OperationManager } from './ops/operation-manager.js';
import type { TemplateRegistry } from './templates/template-registry.js';
import type { PolicyGuard } from './tenancy/policy-guard.js';
import type { QuotaGuard } from './tenancy/quota-guard.js';
import type { TenantStore } from './tenancy/tenant-store.js';

export interface DaemonContext {
  host: NsboxHost;
  manager: BoxManager;
  /** The application layer as the host admin uses it; routes reach it through a caller's ScopedBoxApi. */
  api: LocalBoxApi;
  driver: LinuxBoxDriver;
  tokens: TokenStore;
  tenants: TenantStore;
  audit: AuditLog;
  quotas: QuotaGuard;
  /** The tenant policy: what a tenant's token may put in a box config. */
  policy: PolicyGuard;
  operations: OperationManager;
  templates: TemplateRegistry;
  events: EventFeed;
  version: string;
  startedAt: number;
}
