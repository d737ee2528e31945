/** Building blocks of the request and response schemas. */

import { apiRoles, stableStates, transitionalStates, z } from '@nsbox/core';
import { parseBytes } from '../tenancy/bytes.js';

export const boxNamePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const boxName = z.string().regex(boxNamePattern, "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
export const tenantName = z.string().regex(boxNamePattern, "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
export const templateName = z.string().regex(boxNamePattern, "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");

/** A box by id or name. */
export const boxRef = z.strictObject({ id: z.string().min(1).max(255) });

export const boxState = z.enum([...stableStates, ...transitionalStates]);
export const role = z.enum(apiRoles);

/** Query flags: ?force=true, ?follow=1. */
export const queryFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/** A query parameter that may repeat (?command=sh&command=-l). */
export function repeated<T extends z.ZodType>(item: T) {
  return z.preprocess((value) => (value === undefined || Array.isArray(value) ? value : [value]), z.array(item));
}

export const queryInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Bytes as a number or a size with a unit ("512M", "2G"). */
export const bytes = z
  .union([z.number().int().min(0), z.string().regex(/^\s*\d+(\.\d+)?\s*[kmgtpKMGTP]?(i?[bB])?\s*$/, 'must be a size such as 512M or 2G')])
  .transform((value) => parseBytes(value) as number);

export const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'invalid variable name');

export const absolutePath = z.string().startsWith('/', 'must be an absolute path');

export const userIds = z.strictObject({ uid: z.number().int().min(0), gid: z.number().int().min(0) });

export const errorBody = z.object({
  error: z.object({
    code: z.string().describe('stable error code, e.g. E_INVALID_ARGUMENT'),
    message: z.string(),
    field: z.string().optional().describe('path of the request field to blame, e.g. config.process.args'),
    details: z.record(z.string(), z.unknown()),
  }),
});

export const emptyBody = z.strictObject({}).optional();
