/** Request validation with the same zod schemas the OpenAPI document is generated from. */

import { NsboxError, type StandardSchemaV1, type z } from '@nsbox/core';
import type { FieldIssue } from './api-error.js';

export type RequestPart = 'params' | 'query' | 'body';

type IssuePath = readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;

interface Issue {
  readonly message: string;
  readonly path?: IssuePath;
}

export function pathText(path: IssuePath): string {
  if (!path || path.length === 0) return '(root)';
  return path
    .map((part) => (typeof part === 'object' ? part.key : part))
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** One issue per unknown key, each at its own path (zod reports them together). */
export function issuesOf(issues: readonly Issue[]): FieldIssue[] {
  return issues.flatMap((issue) => {
    const { code, keys } = issue as { code?: string; keys?: string[] };
    const path = [...(issue.path ?? [])];
    if (code === 'unrecognized_keys' && Array.isArray(keys)) return keys.map((key) => ({ path: pathText([...path, key]), message: 'unknown field' }));
    return [{ path: pathText(path), message: issue.message }];
  });
}

function invalid(part: RequestPart, issues: FieldIssue[]): NsboxError {
  // A body that is not even an object blames the body itself.
  const located = issues.map((issue) => ({ ...issue, path: issue.path === '(root)' ? `(${part})` : issue.path }));
  const summary = located.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return new NsboxError('E_INVALID_ARGUMENT', `invalid request ${part}: ${summary}`, {
    details: { in: part, field: located[0]?.path, issues: located },
  });
}

export function parsePart<T>(schema: z.ZodType<T>, part: RequestPart, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(part, issuesOf(result.error.issues));
}

/** For schemas a plugin wrote with any Standard Schema library. */
export async function parseStandard(schema: StandardSchemaV1, part: RequestPart, value: unknown): Promise<unknown> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return result.value;
  throw invalid(part, issuesOf(result.issues));
}
