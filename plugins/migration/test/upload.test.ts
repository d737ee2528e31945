/**
 * The target's end of a migration's copy through a real nsboxd: an archive streamed to
 * `PUT /plugins/migration/uploads/archive/{upload}` is kept only when whole and sound — a
 * stream cut short, a hostile member, a planted symlink, an upload of a settled migration
 * leave nothing an import would read, and nothing is written outside the plugin's directory.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { isolationPlugin } from '@nsbox/plugin-isolation';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { makeTempDir } from '@nsbox/testkit';
import { migrationPlugin } from '../src/index.js';
import { type PlannedMember, plannedLength, tarChunks } from '../src/strict-tar.js';
import { type DaemonHost, openDaemonHost } from './hosts.js';
import { useCriuCleanup } from './support.js';

/** As the SDK throws it (NsboxApiError; this test may load another copy of the SDK than the daemon's). */
type ApiError = Error & { status?: number; field?: string };

const plugins = [isolationPlugin as AnyPlugin, limitsPlugin as AnyPlugin, migrationPlugin as AnyPlugin];

async function tarOf(members: PlannedMember[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarChunks(members)) chunks.push(chunk);
  const whole = Buffer.concat(chunks);
  assert.equal(whole.length, plannedLength(members), 'the planned length is the written one');
  return whole;
}

const manifest = (id: string) =>
  Buffer.from(JSON.stringify({ format: 1, kind: 'nsbox-box', box: { id, name: 'up-box', config: {} }, exportedAt: 0, checkpoint: false }));

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

describe('migration: the upload of an archive to the target', function () {
  this.timeout(120_000);
  const cleanup = useCriuCleanup();
  let target: DaemonHost;
  let incoming: string;

  beforeEach(async () => {
    target = await openDaemonHost(cleanup, plugins);
    incoming = join(target.stateDir, 'migration', 'incoming');
  });

  const upload = () => randomBytes(16).toString('hex');
  const put = (id: string, data: Buffer) => target.client.uploads.put('migration', 'archive', id, once(data), { length: data.length });

  it('keeps a whole archive under its id, unpacked, and refuses it a second time', async () => {
    const id = upload();
    const archive = await tarOf([
      { name: 'nsbox-export.json', type: 'buffer', content: manifest('a1') },
      { name: 'rootfs.tar', type: 'buffer', content: Buffer.alloc(4096) },
    ]);
    assert.deepEqual(await put(id, archive), { upload: id, bytes: archive.length });
    assert.deepEqual(readdirSync(incoming), [id]);
    assert.deepEqual(readdirSync(join(incoming, id)).sort(), ['nsbox-export.json', 'rootfs.tar']);
    await assert.rejects(put(id, archive), (error: ApiError) => error.status === 409 && error.field === 'id');
  });

  it('leaves nothing of a stream cut short, and an import of it finds no upload', async () => {
    const id = upload();
    const archive = await tarOf([
      { name: 'nsbox-export.json', type: 'buffer', content: manifest('a2') },
      { name: 'rootfs.tar', type: 'buffer', content: randomBytes(3 * 2 ** 20) },
    ]);
    await new Promise<void>((resolve) => {
      const req = request({
        socketPath: target.socket,
        method: 'PUT',
        path: `/plugins/migration/uploads/archive/${id}`,
        headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/octet-stream', 'content-length': String(archive.length) },
      });
      req.on('error', () => resolve());
      req.write(archive.subarray(0, 2 ** 20), () => setTimeout(() => req.destroy(), 300));
    });
    // The daemon notices the cut and removes the partial directory.
    const deadline = Date.now() + 10_000;
    while (readdirSync(incoming).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(readdirSync(incoming), [], 'nothing of the cut upload is left');
    await assert.rejects(target.action('import', { upload: id, run: true }), (error: Error & { field?: string }) => {
      assert.match(error.message, /no upload/);
      assert.equal(error.field, 'upload');
      return true;
    });
    assert.deepEqual(await target.client.boxes.list(), [], 'no box was made');
  });

  it('refuses a hostile member, a planted symlink and a settled migration, writing nothing outside', async () => {
    const outside = makeTempDir(cleanup, 'outside');
    const hostile = await tarOf([{ name: '../escape', type: 'buffer', content: Buffer.from('x') }]);
    await assert.rejects(put(upload(), hostile), (error: ApiError) => error.status === 400 && /relative-up name/.test(error.message));

    // A symlink where the upload would be unpacked: not followed (the directory is made, never found).
    const planted = upload();
    mkdirSync(incoming, { recursive: true });
    symlinkSync(outside, join(incoming, `.${planted}.partial`));
    const archive = await tarOf([
      { name: 'nsbox-export.json', type: 'buffer', content: manifest('a3') },
      { name: 'rootfs.tar', type: 'buffer', content: Buffer.alloc(512) },
    ]);
    await assert.rejects(put(planted, archive), (error: ApiError) => error.field === 'id');
    assert.deepEqual(readdirSync(outside), [], 'nothing was written through the symlink');

    // The source aborted this migration before its upload came: the target takes none.
    const aborted = upload();
    assert.deepEqual(await target.action('settle', { upload: aborted, decision: 'abort' }), { upload: aborted, state: 'aborted' });
    await assert.rejects(put(aborted, archive), (error: ApiError) => error.status === 409 && /aborted/.test(error.message));
    await assert.rejects(put('../../etc', archive), (error: ApiError) => error.status === 400 && error.field === 'id');
    assert.deepEqual(readdirSync(incoming), [`.${planted}.partial`], 'only the planted link is there');
  });
});
