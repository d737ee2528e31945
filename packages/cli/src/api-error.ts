/** An API error as the CLI reports local ones: same code, message and exit code. */

import { isNsboxApiError } from '@nsbox/client';
import { isKnownErrorCode, NsboxError } from '@nsbox/core/light';

export function asLocalError(error: unknown): unknown {
  if (!isNsboxApiError(error)) return error;
  return new NsboxError(isKnownErrorCode(error.code) ? error.code : 'E_INTERNAL', error.message, { details: error.details });
}
