/**
 * Typed errors with stable codes. Faces map a code to a CLI exit code and an HTTP status,
 * so a code, once published, never changes meaning.
 */

export const errorCatalog = {
  E_INTERNAL: { exit: 1, http: 500 },
  E_INVALID_CONFIG: { exit: 2, http: 400 },
  E_INVALID_ARGUMENT: { exit: 2, http: 400 },
  E_NOT_FOUND: { exit: 3, http: 404 },
  E_ALREADY_EXISTS: { exit: 4, http: 409 },
  E_INVALID_STATE: { exit: 5, http: 409 },
  E_BUSY: { exit: 6, http: 409 },
  E_UNAUTHORIZED: { exit: 7, http: 401 },
  E_FORBIDDEN: { exit: 8, http: 403 },
  E_QUOTA_EXCEEDED: { exit: 9, http: 403 },
  E_CANCELLED: { exit: 130, http: 409 },
  E_PLUGIN_NOT_FOUND: { exit: 10, http: 500 },
  E_PLUGIN_DEPENDENCY: { exit: 11, http: 500 },
  E_PLUGIN_VERSION: { exit: 12, http: 500 },
  E_PLUGIN_CYCLE: { exit: 13, http: 500 },
  E_PLUGIN_INVALID: { exit: 14, http: 500 },
  E_PLUGIN_DISABLED: { exit: 15, http: 400 },
  E_HOOK_FAILED: { exit: 20, http: 500 },
  E_RUNTIME: { exit: 30, http: 500 },
  E_UNSUPPORTED: { exit: 31, http: 501 },
  E_STORE: { exit: 40, http: 500 },
} as const;

export type CoreErrorCode = keyof typeof errorCatalog;
/** A plugin's own code, `<plugin>:<code>` (`limits:disk-full`), declared in its definition. */
export type PluginErrorCode = `${string}:${string}`;
export type ErrorCode = CoreErrorCode | PluginErrorCode;

export interface ErrorCodeInfo {
  exit: number;
  http: number;
  description?: string;
}

const pluginErrorCatalog = new Map<string, ErrorCodeInfo>();

/**
 * Registers the codes a plugin declares (`errors` in its definition) under `<plugin>:<code>`.
 * The plugin host calls it when it loads the plugin; an undeclared plugin code maps to 1/500.
 */
export function registerPluginErrors(plugin: string, codes: Record<string, Partial<ErrorCodeInfo>>): void {
  for (const [code, info] of Object.entries(codes)) {
    pluginErrorCatalog.set(`${plugin}:${code}`, {
      exit: info.exit ?? 1,
      http: info.http ?? 500,
      ...(info.description ? { description: info.description } : {}),
    });
  }
}

/** Exit code and HTTP status of any code, core or plugin. */
export function errorCodeInfo(code: string): ErrorCodeInfo {
  if (Object.hasOwn(errorCatalog, code)) return errorCatalog[code as CoreErrorCode];
  return pluginErrorCatalog.get(code) ?? { exit: 1, http: 500 };
}

/** Whether a code is one the catalog knows (core, or declared by a loaded plugin). */
export function isKnownErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code) || pluginErrorCatalog.has(code);
}

export interface NsboxErrorOptions {
  /** Structured facts about the failure (field path, plugin names, step, errno...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class NsboxError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: NsboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NsboxError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get exitCode(): number {
    return errorCodeInfo(this.code).exit;
  }

  get httpStatus(): number {
    return errorCodeInfo(this.code).http;
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isNsboxError(error: unknown): error is NsboxError {
  return error instanceof NsboxError;
}

/** Wraps anything thrown into an NsboxError, keeping NsboxErrors as they are. */
export function toNsboxError(error: unknown, code: ErrorCode = 'E_INTERNAL'): NsboxError {
  if (isNsboxError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new NsboxError(code, message, { cause: error });
}
