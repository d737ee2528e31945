/**
 * A box's console (`nsbox console`): the pty its shim holds, relayed to one attached client
 * on the box's console.sock — output as the box writes it (and still in its log), input to
 * the box's terminal; a second client is turned away; a box without a terminal has none.
 */

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { attachConsole } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { openVirtHost, type VirtTestHost, waitFor } from './support.js';

function collect(socket: Socket): () => string {
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  return () => text;
}

describe("virtualisation: a box's console", function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'the console of a real box');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  it('relays the box terminal to one attached client, both ways, while the log keeps the output', async () => {
    await t.box('con', { process: { args: ['sh', '-c', 'while read line; do echo "got:$line"; done'], terminal: true } });
    const socket = await attachConsole(t.driver, t.host.manager.get('con'));
    cleanup.add('detach', () => void socket.destroy());
    const seen = collect(socket);
    socket.write('hello console\n');
    assert.ok(await waitFor(() => seen().includes('got:hello console'), 5_000), `the box answered: ${JSON.stringify(seen())}`);
    assert.match(t.driver.logs(t.host.manager.get('con')), /got:hello console/, 'the log has it too');

    const second = await attachConsole(t.driver, t.host.manager.get('con'));
    const refused = collect(second);
    assert.ok(await waitFor(() => second.closed || second.readyState === 'closed', 5_000));
    assert.match(refused(), /the console is in use/);

    // Detached, another client may attach.
    socket.destroy();
    const third = await attachConsole(t.driver, t.host.manager.get('con'));
    cleanup.add('detach third', () => void third.destroy());
    const later = collect(third);
    await new Promise((resolve) => setTimeout(resolve, 100));
    third.write('again\n');
    assert.ok(await waitFor(() => later().includes('got:again'), 5_000), JSON.stringify(later()));
  });

  it('has none for a box without a terminal', async () => {
    await t.box('noterm');
    await assert.rejects(attachConsole(t.driver, t.host.manager.get('noterm')), /has no console to attach to: it is running without a terminal/);
  });
});
