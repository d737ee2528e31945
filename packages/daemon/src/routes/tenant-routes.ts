/** Tenants (host admins manage them; a tenant's token may read its own), tokens, the audit log. */

import { coreConfigSchema, NsboxError, z } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { roleAtLeast } from '../auth/token-store.js';
import type { DaemonContext } from '../context.js';
import { fieldError } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import {
  auditEntry,
  auditQuery,
  callerView,
  createTenantBody,
  createTokenBody,
  issuedToken,
  removedView,
  tenantRef,
  tenantView,
  tokenRef,
  tokenView,
  updateTenantBody,
  usageView,
} from '../schemas/admin.js';
import { parseGrant, type TenantPolicy } from '../tenancy/tenant-grants.js';

/** A grant names a core field or the section of an installed plugin (a typo would grant nothing). */
function checkPolicy(context: DaemonContext, policy: TenantPolicy | undefined): TenantPolicy | undefined {
  if (!policy) return undefined;
  const sections = new Set([...Object.keys(coreConfigSchema.shape), ...context.host.plugins.definitions().map((plugin) => plugin.name)]);
  const lists: [string, string[]][] = [
    ['policy.grants', policy.grants],
    ...Object.entries(policy.roles).map(([role, list]): [string, string[]] => [`policy.roles.${role}`, list ?? []]),
  ];
  for (const [field, list] of lists) {
    list.forEach((text, index) => {
      const section = parseGrant(text).path.split(/[.[]/)[0] as string;
      if (!sections.has(section))
        throw fieldError('E_INVALID_ARGUMENT', `${field}[${index}]`, `'${section}' is neither a core field nor the section of an installed plugin`);
    });
  }
  return policy;
}

function ownTenant(context: DaemonContext, scope: Scope, name: string) {
  const tenant = context.tenants.find(name);
  if (!tenant || (scope.tenant !== null && scope.tenant !== name)) {
    throw new NsboxError('E_NOT_FOUND', `no tenant named '${name}'`, { details: { tenant: name, field: 'name' } });
  }
  return tenant;
}

export function tenantRoutes(context: DaemonContext): AnyRoute[] {
  const { tenants, tokens } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/tenants',
      summary: 'Tenants (a tenant token gets only its own)',
      tags: ['tenants'],
      access: 'read-only',
      response: z.array(tenantView),
      handler({ scope }) {
        return tenants.list().filter((tenant) => scope.tenant === null || tenant.name === scope.tenant);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/tenants',
      summary: 'Create a tenant with its quotas (boxes, total memory, total disk) and policy grants',
      tags: ['tenants'],
      access: 'admin',
      hostWide: true,
      body: createTenantBody,
      response: tenantView,
      status: 201,
      handler({ body }) {
        const policy = checkPolicy(context, body.policy);
        return tenants.create({
          name: body.name,
          ...(body.description ? { description: body.description } : {}),
          ...(body.quotas ? { quotas: body.quotas } : {}),
          ...(policy ? { policy } : {}),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/tenants/:name',
      summary: 'A tenant',
      tags: ['tenants'],
      access: 'read-only',
      params: tenantRef,
      response: tenantView,
      handler({ params, scope }) {
        return ownTenant(context, scope, params.name);
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/tenants/:name',
      summary: "Change a tenant's description, quotas or policy grants (quotas and policy replace the old ones)",
      tags: ['tenants'],
      access: 'admin',
      hostWide: true,
      params: tenantRef,
      body: updateTenantBody,
      response: tenantView,
      handler({ params, body }) {
        const policy = checkPolicy(context, body.policy);
        return tenants.update(params.name, {
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.quotas ? { quotas: body.quotas } : {}),
          ...(policy ? { policy } : {}),
        });
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/tenants/:name',
      summary: 'Remove a tenant that has no boxes left; its tokens go with it',
      tags: ['tenants'],
      access: 'admin',
      hostWide: true,
      params: tenantRef,
      response: removedView,
      handler({ params }) {
        tenants.get(params.name);
        const boxes = context.manager.list({ owner: params.name }).length;
        if (boxes > 0) {
          throw new NsboxError('E_INVALID_STATE', `tenant '${params.name}' still has ${boxes} boxes`, {
            details: { field: 'name', tenant: params.name, boxes },
          });
        }
        tokens.removeTenantTokens(params.name);
        context.templates.releaseTenant(params.name);
        tenants.remove(params.name);
        return { name: params.name, removed: true };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/tenants/:name/usage',
      summary: "A tenant's quotas and what its boxes use of them",
      tags: ['tenants'],
      access: 'read-only',
      params: tenantRef,
      response: usageView,
      handler({ params, scope }) {
        const tenant = ownTenant(context, scope, params.name);
        return { tenant: tenant.name, quotas: tenant.quotas, usage: context.quotas.usage(tenant.name) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/whoami',
      summary: 'The token this call was made with',
      tags: ['tokens'],
      access: 'read-only',
      response: callerView,
      handler({ caller }) {
        return caller;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/tokens',
      summary: "Tokens (never their secrets); a tenant admin sees its tenant's",
      tags: ['tokens'],
      access: 'admin',
      response: z.array(tokenView),
      handler({ scope }) {
        return tokens.list(scope.tenant !== null ? { tenant: scope.tenant } : {});
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/tokens',
      summary: 'Issue a token for a tenant (or host-wide) with a role; the secret is in the answer only',
      tags: ['tokens'],
      access: 'admin',
      body: createTokenBody,
      response: issuedToken,
      status: 201,
      handler({ body, caller }) {
        let tenant = body.tenant ?? null;
        if (caller.tenant !== null) {
          if (tenant !== null && tenant !== caller.tenant)
            throw fieldError('E_FORBIDDEN', 'tenant', `a token of tenant '${caller.tenant}' issues tokens for it only`);
          tenant = caller.tenant;
        } else if (tenant !== null && !tenants.find(tenant)) {
          throw fieldError('E_INVALID_ARGUMENT', 'tenant', `no tenant named '${tenant}'`);
        }
        if (!roleAtLeast(caller.role, body.role)) throw fieldError('E_FORBIDDEN', 'role', `a ${caller.role} token cannot issue ${body.role} tokens`);
        return tokens.issue({
          name: body.name,
          tenant,
          role: body.role,
          createdBy: caller.tokenId,
          ...(body.expiresIn ? { expiresAt: Date.now() + body.expiresIn * 1000 } : {}),
        });
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/tokens/:id',
      summary: 'Revoke a token',
      tags: ['tokens'],
      access: 'admin',
      params: tokenRef,
      response: tokenView,
      handler({ params, scope }) {
        const token = tokens.get(params.id);
        if (!token || (scope.tenant !== null && token.tenant !== scope.tenant)) {
          throw new NsboxError('E_NOT_FOUND', `no token ${params.id}`, { details: { field: 'id', token: params.id } });
        }
        tokens.revoke(params.id);
        return tokens.get(params.id);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/audit',
      summary: "The audit log of mutating calls, oldest first; a tenant admin sees its tenant's",
      tags: ['tokens'],
      access: 'admin',
      query: auditQuery,
      response: z.array(auditEntry),
      handler({ query, scope }) {
        const tenant = scope.tenant ?? query.tenant;
        return context.audit.list({
          ...(tenant !== undefined ? { tenant } : {}),
          ...(query.token ? { tokenId: query.token } : {}),
          ...(query.after !== undefined ? { after: query.after } : {}),
          ...(query.limit !== undefined ? { limit: query.limit } : {}),
        });
      },
    }),
  ];
}
