/**
 * A long operation (create from a template, template import): poll it, wait for its result
 * (with progress), or cancel it. `wait()` resolves with the result or throws the operation's
 * error as an NsboxApiError.
 */

import { NsboxApiError } from './errors.js';
import { readSse } from './sse.js';
import type { Transport } from './transport.js';
import type { Operation } from './types.js';

export interface WaitOptions {
  /** Called on every change while the operation runs. */
  onProgress?: (operation: Operation) => void;
  /** Give up after this long (the operation goes on); default: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class OperationHandle<T = unknown> {
  constructor(
    private readonly transport: Transport,
    private latest: Operation<T>,
  ) {}

  get id(): string {
    return this.latest.id;
  }

  /** The operation as last seen. */
  get current(): Operation<T> {
    return this.latest;
  }

  async refresh(): Promise<Operation<T>> {
    this.latest = await this.transport.json<Operation<T>>('GET', `/operations/${this.id}`);
    return this.latest;
  }

  async cancel(): Promise<Operation<T>> {
    this.latest = await this.transport.json<Operation<T>>('DELETE', `/operations/${this.id}`);
    return this.latest;
  }

  /** The final result; throws the operation's error (failure or cancellation). */
  async wait(options: WaitOptions = {}): Promise<T> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const final = options.onProgress ? await this.watch(options) : await this.poll(deadline, options.signal);
    if (final.status === 'success') return final.result as T;
    if (final.status === 'running')
      throw new NsboxApiError(408, { code: 'E_TIMEOUT', message: `operation ${this.id} is still running`, details: { operation: this.id } });
    throw new NsboxApiError(
      final.error?.code === 'E_CANCELLED' ? 409 : 500,
      final.error ?? { code: 'E_INTERNAL', message: `operation ${final.status}`, details: {} },
    );
  }

  private async poll(deadline: number | undefined, signal?: AbortSignal): Promise<Operation<T>> {
    for (;;) {
      const left = deadline === undefined ? 30 : Math.max(0, Math.min(30, (deadline - Date.now()) / 1000));
      this.latest = await this.transport.json<Operation<T>>('GET', `/operations/${this.id}/wait`, {
        query: { timeout: left },
        stream: true,
        ...(signal ? { signal } : {}),
      });
      if (this.latest.status !== 'running' || (deadline !== undefined && Date.now() >= deadline)) return this.latest;
    }
  }

  private async watch(options: WaitOptions): Promise<Operation<T>> {
    const controller = new AbortController();
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(), options.timeoutMs);
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    try {
      const response = await this.transport.open('GET', `/operations/${this.id}/watch`, { stream: true, signal: controller.signal });
      for await (const message of readSse(response)) {
        if (message.event !== 'operation') continue;
        this.latest = JSON.parse(message.data) as Operation<T>;
        options.onProgress?.(this.latest);
        if (this.latest.status !== 'running') break;
      }
      response.destroy();
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      if (timer) clearTimeout(timer);
    }
    return this.latest;
  }
}
