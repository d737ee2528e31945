/**
 * Box names are per tenant, as instance names are per project in Incus: two tenants may each
 * have a box called `web`, and a tenant never learns which names another one uses (a 409 names
 * only its own box). The store, the CLI and the host's cgroups key boxes by one host-wide name,
 * so a tenant's box is stored as `<tenant>--<name>` (tenant names hold no `--`, so the split is
 * unique) and shown to its tenant as `<name>`. The host admin sees and uses the stored name.
 */

export const TENANT_NAME_SEPARATOR = '--';

/** Longest stored name: box names double as DNS labels. */
const MAX_NAME = 63;

/** The host-wide name of a box `name` of `owner` (an unowned box keeps its name). */
export function storedBoxName(owner: string | null, name: string): string {
  return owner === null ? name : `${owner}${TENANT_NAME_SEPARATOR}${name}`;
}

/** Why `name` cannot be a box of `owner`, if it cannot. */
export function scopedNameProblem(owner: string | null, name: string): string | undefined {
  const stored = storedBoxName(owner, name);
  if (stored.length <= MAX_NAME) return undefined;
  return `box name '${name}' is too long for tenant '${owner}': at most ${MAX_NAME - stored.length + name.length} characters`;
}

/** The name a tenant knows its box by; a host-wide caller sees the stored name. */
export function shownBoxName(viewer: string | null, stored: string): string {
  const prefix = viewer === null ? undefined : `${viewer}${TENANT_NAME_SEPARATOR}`;
  return prefix !== undefined && stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
}

/** An event as a tenant sees it: the box it names by the tenant's name for it. */
export function shownEvent<T extends { data: Record<string, unknown> }>(viewer: string | null, event: T): T {
  if (viewer === null || typeof event.data.box !== 'string') return event;
  return { ...event, data: { ...event.data, box: shownBoxName(viewer, event.data.box) } };
}
