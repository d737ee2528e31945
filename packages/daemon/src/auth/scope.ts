/**
 * What a caller may see. A tenant's token sees only its tenant's boxes; any other box is
 * reported exactly as a missing one (404, same message), so existence does not leak. A
 * tenant names its boxes by their names within the tenant (see box-names.ts).
 */

import { type Box, type BoxManager, NsboxError } from '@nsbox/core';
import { storedBoxName } from '../boxes/box-names.js';
import { type Caller, roleAtLeast } from './token-store.js';

export class Scope {
  constructor(
    readonly caller: Caller | undefined,
    private readonly manager: BoxManager,
  ) {}

  get tenant(): string | null {
    return this.caller?.tenant ?? null;
  }

  /** Host-wide tokens see every box; a tenant's token only its own. */
  sees(box: Pick<Box, 'owner'>): boolean {
    const tenant = this.tenant;
    return tenant === null || box.owner === tenant;
  }

  box(idOrName: string): Box {
    const box = this.find(idOrName);
    if (!box) throw new NsboxError('E_NOT_FOUND', `no box named '${idOrName}'`, { details: { box: idOrName, field: 'id' } });
    return box;
  }

  /** The box, with its state brought in line with its processes first. */
  async syncedBox(idOrName: string): Promise<Box> {
    const box = this.box(idOrName);
    return this.manager.sync(box.id);
  }

  /** The tenant a listing is limited to: the caller's own, whatever it asked for. */
  ownerFilter(requested: string | undefined): string | undefined {
    return this.tenant ?? requested;
  }

  atLeast(role: Parameters<typeof roleAtLeast>[1]): boolean {
    return this.caller !== undefined && roleAtLeast(this.caller.role, role);
  }

  /** The stored name of a box this caller calls `name`. */
  storedName(name: string): string {
    return storedBoxName(this.tenant, name);
  }

  private find(idOrName: string): Box | undefined {
    const tenant = this.tenant;
    // An id, or (a tenant's) name within the tenant; then a stored name the caller owns.
    const candidates = tenant === null ? [idOrName] : [storedBoxName(tenant, idOrName), idOrName];
    for (const candidate of candidates) {
      const box = this.lookup(candidate);
      if (box && this.sees(box)) return box;
    }
    return undefined;
  }

  private lookup(idOrName: string): Box | undefined {
    try {
      return this.manager.get(idOrName);
    } catch {
      return undefined;
    }
  }
}
