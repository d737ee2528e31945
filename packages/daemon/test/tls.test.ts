/** nsboxd on TCP with TLS (127.0.0.1 only): the SDK trusts its certificate; tokens still needed. */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { isNsboxApiError, NsboxClient } from '@nsbox/client';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { startTestDaemon } from './daemon-fixture.js';

describe('nsboxd on TCP with TLS', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'nsboxd');
  });

  it('serves the API over TLS on loopback, with bearer tokens', async () => {
    const dir = makeTempDir(cleanup, 'tls');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    const nsboxd = await startTestDaemon(cleanup, { socket: false, tcp: { host: '127.0.0.1', port: 0, cert, key } });
    const url = nsboxd.daemon.tcpAddress as string;
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync(cert);
    const client = new NsboxClient({ url, token: nsboxd.daemon.adminToken, ca });
    cleanup.add('close the client', () => client.close());
    assert.equal((await client.health()).status, 'ok');
    assert.deepEqual(await client.boxes.list(), []);
    const anonymous = new NsboxClient({ url, ca });
    cleanup.add('close the anonymous client', () => anonymous.close());
    await assert.rejects(anonymous.boxes.list(), (error) => isNsboxApiError(error) && error.status === 401);
    // Plain HTTP on the TLS port gets nothing useful.
    const port = Number(new URL(url).port);
    const plain = await new Promise<number | string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/health' }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    assert.notEqual(plain, 200);
  });
});
