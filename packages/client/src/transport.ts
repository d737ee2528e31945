/**
 * HTTP to nsboxd with Node's own http/https modules: over the unix socket (`socketPath`,
 * which fetch cannot do) or over TCP with TLS (`url`). Connections are kept alive.
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NsboxApiError } from './errors.js';
import type { ApiErrorShape } from './types.js';

export const DEFAULT_SOCKET = '/run/nsbox/nsbox.sock';

let https: typeof import('node:https') | undefined;

/**
 * node:https, loaded by a client that speaks TLS when it first needs it: with TLS under it, it
 * is most of what the client's imports cost (~10 ms), and a CLI on the unix socket never uses it.
 */
export function httpsModule(): typeof import('node:https') {
  https ??= createRequire(import.meta.url)('node:https') as typeof import('node:https');
  return https;
}

export interface ClientOptions {
  /** The unix socket (default /run/nsbox/nsbox.sock when no url is given). */
  socketPath?: string;
  /** Over TCP: https://host:port (http:// only for loopback tests). */
  url?: string;
  /** The bearer token. */
  token?: string;
  /** CA certificate(s) that signed nsboxd's TLS certificate. */
  ca?: string | Buffer;
  /** Per-request timeout for ordinary calls (default 120 s; streams have none). */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** No timeout: a stream (events, logs). */
  stream?: boolean;
}

export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function readAll(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Turns an error answer into an NsboxApiError (a body that is not ours becomes E_HTTP). */
export async function errorFrom(response: IncomingMessage): Promise<NsboxApiError> {
  const text = (await readAll(response)).toString('utf8');
  try {
    const parsed = JSON.parse(text) as { error?: ApiErrorShape };
    if (parsed.error?.code) return new NsboxApiError(response.statusCode ?? 0, parsed.error);
  } catch {
    // not JSON
  }
  return new NsboxApiError(response.statusCode ?? 0, { code: 'E_HTTP', message: text || `HTTP ${response.statusCode}`, details: {} });
}

export class Transport {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly base: { socketPath?: string; servername?: string; hostname?: string; port?: number };

  constructor(readonly options: ClientOptions) {
    if (options.url) {
      const url = new URL(options.url);
      this.secure = url.protocol === 'https:';
      this.base = { hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || (this.secure ? 443 : 80)) };
    } else {
      this.secure = false;
      // No server name to work out for a socket: Node's agent would test whether `localhost`
      // is an IP address, compiling its IPv6 pattern in every process (~4 ms of a CLI command).
      this.base = { socketPath: options.socketPath ?? DEFAULT_SOCKET, servername: '' };
    }
    this.agent = this.secure ? new (httpsModule().Agent)({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  /** Options for a raw request (the websocket client adds its upgrade headers). */
  requestOptions(method: string, path: string, headers: Record<string, string> = {}, agent = true): RequestOptions {
    return {
      ...this.base,
      method,
      path,
      ...(agent ? { agent: this.agent } : {}),
      headers: { ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}), ...headers },
      ...(this.secure && this.options.ca ? { ca: this.options.ca } : {}),
    };
  }

  send(options: RequestOptions, body?: Buffer, signal?: AbortSignal, timeoutMs?: number): Promise<IncomingMessage> {
    const send = this.secure ? httpsModule().request : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send({ ...options, ...(signal ? { signal } : {}) }, resolve);
      req.on('error', reject);
      if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`nsboxd did not answer ${options.method} ${options.path} within ${timeoutMs} ms`)));
      req.end(body);
    });
  }

  /** The raw response of a call that succeeded (2xx); an NsboxApiError otherwise. */
  async open(method: string, path: string, options: CallOptions = {}): Promise<IncomingMessage> {
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const response = await this.send(
      this.requestOptions(method, `${path}${queryString(options.query)}`, headers),
      body,
      options.signal,
      options.stream ? undefined : (this.options.timeoutMs ?? 120_000),
    );
    if ((response.statusCode ?? 0) >= 400) throw await errorFrom(response);
    return response;
  }

  /**
   * PUT of a stream of exactly `length` bytes (`application/octet-stream`), read as it is
   * sent; no timeout. The answer as JSON, or an NsboxApiError (nsboxd may answer one, a 413,
   * before it read a byte).
   */
  async upload<T>(path: string, body: AsyncIterable<Uint8Array>, length: number, signal?: AbortSignal): Promise<T> {
    const send = this.secure ? httpsModule().request : httpRequest;
    const headers = { accept: 'application/json', 'content-type': 'application/octet-stream', 'content-length': String(length) };
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send({ ...this.requestOptions('PUT', path, headers), ...(signal ? { signal } : {}) }, resolve);
      req.on('error', reject);
      pipeline(Readable.from(body), req).catch((error: Error) => req.destroy(error));
    });
    if ((response.statusCode ?? 0) >= 400) throw await errorFrom(response);
    const text = (await readAll(response)).toString('utf8');
    return (text ? JSON.parse(text) : null) as T;
  }

  async json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.open(method, path, options);
    const text = (await readAll(response)).toString('utf8');
    return (text ? JSON.parse(text) : null) as T;
  }

  async text(method: string, path: string, options: CallOptions = {}): Promise<string> {
    return (await readAll(await this.open(method, path, options))).toString('utf8');
  }

  close(): void {
    this.agent.destroy();
  }
}
