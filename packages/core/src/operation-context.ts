/**
 * The context every operation carries down to each hook and driver call (after crun's
 * `libcrun_context_t`): a cancel signal, progress and a log. A face that wants to follow or
 * cancel an operation passes its own; nothing travels through side maps keyed by name.
 */

export interface OperationProgress {
  /** What is being done: `template`, `layers`, `checkpoint`... */
  step: string;
  /** 0–100 when known. */
  percent?: number;
  message?: string;
}

export interface OperationLog {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
}

export interface OperationContext {
  /** Aborted when the caller cancels; long work checks it and stops with E_CANCELLED. */
  readonly signal: AbortSignal;
  progress(progress: OperationProgress): void;
  readonly log: OperationLog;
}

const silentLog: OperationLog = { debug() {}, info() {}, warn() {} };

/** A context for callers that neither follow nor cancel (the CLI in local mode, tests). */
export function operationContext(
  options: Partial<Pick<OperationContext, 'signal' | 'log'>> & { onProgress?: (progress: OperationProgress) => void } = {},
): OperationContext {
  return {
    signal: options.signal ?? new AbortController().signal,
    progress: options.onProgress ?? (() => {}),
    log: options.log ?? silentLog,
  };
}

/** Throws the abort reason (or E_CANCELLED) when the operation was cancelled. */
export function throwIfCancelled(context: OperationContext): void {
  context.signal.throwIfAborted();
}
