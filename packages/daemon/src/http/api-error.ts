/**
 * Every error leaves nsboxd as one JSON shape with a stable code and, when the request was at
 * fault, the path of the field to blame:
 *   { "error": { "code": "E_INVALID_ARGUMENT", "message": "...", "field": "config.process.args", "details": {...} } }
 */

import { type ErrorCode, errorCatalog, isNsboxError, NsboxError } from '@nsbox/core';

export interface ApiErrorBody {
  error: { code: string; message: string; field?: string; details: Record<string, unknown> };
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** Where errors that name no field point: the credentials, or the box's state. */
const defaultFields: Partial<Record<string, string>> = {
  E_UNAUTHORIZED: 'authorization',
  E_INVALID_STATE: 'state',
  E_BUSY: 'state',
};

/** The field an error blames: an explicit `details.field`, else the first issue's path. */
function fieldOf(code: string, details: Record<string, unknown>): string | undefined {
  if (typeof details.field === 'string') return details.field;
  const issues = details.issues as FieldIssue[] | undefined;
  if (Array.isArray(issues) && typeof issues[0]?.path === 'string') return issues[0].path;
  return defaultFields[code];
}

/** Errors Fastify raises before a handler runs (bad JSON, wrong media type, too large). */
function fastifyClientError(error: unknown): { status: number; message: string; fastifyCode: string } | undefined {
  const candidate = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof candidate?.statusCode !== 'number' || candidate.statusCode < 400 || candidate.statusCode >= 500) return undefined;
  return { status: candidate.statusCode, message: String(candidate.message ?? 'bad request'), fastifyCode: String(candidate.code ?? '') };
}

export function toApiError(error: unknown): { status: number; body: ApiErrorBody } {
  if (isNsboxError(error)) {
    const details = { ...error.details };
    const status = typeof details.httpStatus === 'number' ? details.httpStatus : error.httpStatus;
    delete details.httpStatus;
    const field = fieldOf(error.code, details);
    return { status, body: { error: { code: error.code, message: error.message, ...(field ? { field } : {}), details } } };
  }
  const client = fastifyClientError(error);
  if (client) {
    const field = client.fastifyCode.startsWith('FST_ERR_CTP') || error instanceof SyntaxError ? '(body)' : undefined;
    return {
      status: client.status,
      body: {
        error: {
          code: client.status === 404 ? 'E_NOT_FOUND' : 'E_INVALID_ARGUMENT',
          message: client.message,
          ...(field ? { field } : {}),
          details: { reason: client.fastifyCode || 'bad request', ...(field ? { field } : {}) },
        },
      },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { code: 'E_INTERNAL', message, details: {} } } };
}

/** An NsboxError that blames one field of the request. */
export function fieldError(code: ErrorCode, field: string, message: string, details: Record<string, unknown> = {}): NsboxError {
  return new NsboxError(code, message, { details: { field, ...details, issues: [{ path: field, message }] } });
}

/** Rebuilds an error whose issue paths are relative to a part of the body (`config`). */
export function prefixFields(error: unknown, prefix: string): unknown {
  if (!isNsboxError(error)) return error;
  const issues = error.details.issues as FieldIssue[] | undefined;
  const field = error.details.field as string | undefined;
  if (!issues && !field) return error;
  const join = (path: string) => (path === '(root)' ? prefix : `${prefix}.${path}`);
  return new NsboxError(error.code, error.message, {
    details: {
      ...error.details,
      ...(field ? { field: join(field) } : {}),
      ...(issues ? { issues: issues.map((issue) => ({ ...issue, path: join(issue.path) })) } : {}),
    },
    cause: error,
  });
}

export function isKnownCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code);
}
