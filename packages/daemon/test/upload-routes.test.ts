/**
 * A plugin's upload (core's uploadPoint) through a real nsboxd on a real socket: bytes
 * streamed raw past the 1 MiB JSON body limit, the token rules of host-wide admin calls, the
 * length checked before a byte reaches the plugin, and a sender that goes away mid-stream.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { isNsboxApiError } from '@nsbox/client';
import { type AnyPlugin, contribute, definePlugin, uploadPoint } from '@nsbox/core';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon, type TestDaemon } from './daemon-fixture.js';
import { raw } from './raw-http.js';

const MAX = 8 * 2 ** 20;

interface Received {
  id: string;
  bytes: number;
  sha256: string;
  chunks: number;
  /** Why the stream failed, when it did. */
  failed?: string;
  signal: AbortSignal;
}

/** A plugin that takes `blob` uploads, hashes them and says what it saw. */
function uploadPlugin(seen: Received[]): AnyPlugin {
  return definePlugin({
    name: 'blob-store',
    version: '1.0.0',
    core: '^1.0.0',
    setup: () => ({
      contributions: [
        contribute(uploadPoint, {
          plugin: 'blob-store',
          name: 'blob',
          maxBytes: MAX,
          async receive(id, body, { length, signal }) {
            const entry: Received = { id, bytes: 0, sha256: '', chunks: 0, signal };
            seen.push(entry);
            const hash = createHash('sha256');
            try {
              for await (const chunk of body) {
                entry.bytes += chunk.length;
                entry.chunks++;
                hash.update(chunk);
              }
            } catch (error) {
              entry.failed = (error as Error).message;
              throw error;
            }
            entry.sha256 = hash.digest('hex');
            return { id, bytes: entry.bytes, length };
          },
        }),
      ],
    }),
  }) as AnyPlugin;
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

describe('nsboxd: uploads to a plugin (PUT /plugins/{plugin}/uploads/{name}/{id})', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let nsboxd: TestDaemon;
  let seen: Received[];

  before(function () {
    requireRoot(this, 'nsboxd');
  });

  beforeEach(async () => {
    seen = [];
    nsboxd = await startTestDaemon(cleanup, { plugins: [uploadPlugin(seen)] });
  });

  it('streams the bytes to the plugin as they come, past the JSON body limit, and answers with its result', async () => {
    const data = randomBytes(3 * 2 ** 20 + 123);
    const answer = await nsboxd.client.uploads.put('blob-store', 'blob', 'first', pieces(data, 256 * 1024), { length: data.length });
    assert.deepEqual(answer, { id: 'first', bytes: data.length, length: data.length });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.sha256, createHash('sha256').update(data).digest('hex'), 'the plugin got exactly the bytes sent');
    assert.ok((seen[0]?.chunks ?? 0) > 1, `it read them as a stream (${seen[0]?.chunks} chunks), not as one buffered body`);
    const document = (await nsboxd.client.openapi()) as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>> };
    assert.deepEqual(Object.keys(document.paths['/plugins/{plugin}/uploads/{name}/{id}']?.put?.requestBody?.content ?? {}), ['application/octet-stream']);
  });

  it('takes host-wide admin tokens only: no token, an operator, a tenant admin are refused before the plugin reads', async () => {
    await nsboxd.client.tenants.create({ name: 'other' });
    const operator = (await nsboxd.client.tokens.create({ name: 'op', role: 'operator' })).token;
    const tenantAdmin = (await nsboxd.client.tokens.create({ name: 'other', tenant: 'other', role: 'admin' })).token;
    const data = Buffer.from('not for you');
    for (const [token, status] of [
      ['', 401],
      [operator, 403],
      [tenantAdmin, 403],
    ] as const) {
      const answer = await raw(nsboxd.socketPath, 'PUT', '/plugins/blob-store/uploads/blob/x', { token, body: data, contentType: 'application/octet-stream' });
      assert.equal(answer.status, status, `${token ? 'that token' : 'no token'}: ${answer.text}`);
    }
    assert.deepEqual(seen, [], 'the plugin saw none of them');
  });

  it('refuses a body that is not raw bytes, has no length, is longer than the upload takes, or goes nowhere, naming the field', async () => {
    const token = nsboxd.daemon.adminToken;
    const json = await raw(nsboxd.socketPath, 'PUT', '/plugins/blob-store/uploads/blob/x', { token, body: '{"data":"aGk="}' });
    assert.equal(json.status, 415);
    assert.equal((json.json as { error: { field: string } }).error.field, 'content-type');
    const elsewhere = await raw(nsboxd.socketPath, 'POST', '/config/validate', { token, body: Buffer.from('{}'), contentType: 'application/octet-stream' });
    assert.equal(elsewhere.status, 415, 'a JSON route still refuses raw bytes');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: nsboxd.socketPath,
          method: 'PUT',
          path: '/plugins/blob-store/uploads/blob/x',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(Buffer.from('some bytes'));
    });
    assert.equal(chunked, 411);
    await assert.rejects(
      nsboxd.client.uploads.put('blob-store', 'blob', 'big', pieces(Buffer.alloc(MAX + 1), 2 ** 20), { length: MAX + 1 }),
      (error) => isNsboxApiError(error) && error.status === 413 && error.field === 'content-length',
    );
    await assert.rejects(
      nsboxd.client.uploads.put('blob-store', 'nothing', 'x', pieces(Buffer.from('x'), 1), { length: 1 }),
      (error) => isNsboxApiError(error) && error.status === 404 && error.field === 'name',
    );
    assert.deepEqual(seen, [], 'the plugin saw none of them');
  });

  it('lets the plugin see a sender that went away mid-stream: its reading fails and its signal aborts', async () => {
    const token = nsboxd.daemon.adminToken;
    await new Promise<void>((resolve) => {
      const req = request({
        socketPath: nsboxd.socketPath,
        method: 'PUT',
        path: '/plugins/blob-store/uploads/blob/cut',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(2 ** 20) },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(100_000), () => setTimeout(() => req.destroy(), 200));
    });
    const deadline = Date.now() + 10_000;
    while (seen[0]?.failed === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(seen.length, 1);
    assert.ok(seen[0]?.failed, 'the stream failed');
    assert.ok((seen[0]?.bytes ?? 0) < 2 ** 20, `it did not end as if whole (${seen[0]?.bytes} bytes)`);
    assert.equal(seen[0]?.signal.aborted, true, 'the signal says the sender went away');
  });
});
