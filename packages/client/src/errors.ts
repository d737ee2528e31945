/** An error answer of nsboxd: its HTTP status, stable code and the field to blame. */

import type { ApiErrorShape } from './types.js';

export class NsboxApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(status: number, error: ApiErrorShape) {
    super(error.message);
    this.name = 'NsboxApiError';
    this.status = status;
    this.code = error.code;
    this.field = error.field;
    this.details = error.details ?? {};
  }

  toJSON(): ApiErrorShape & { status: number } {
    return { status: this.status, code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}), details: this.details };
  }
}

export function isNsboxApiError(error: unknown): error is NsboxApiError {
  return error instanceof NsboxApiError;
}
