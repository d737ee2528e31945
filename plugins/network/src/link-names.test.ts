import assert from 'node:assert/strict';
import { memoryPluginState as memoryState } from '@nsbox/testkit';
import { hostIdOf, hostLinkName, legacyHostLinkName } from './link-names.js';
import { NetworkService } from './network-service.js';
import { STATE_NAMESPACE } from './pools.js';

describe('network: host-end names across hosts and an upgrade', () => {
  it('keeps one host id per state dir, and finds a box wired by an older nsbox by its old-style name', () => {
    const state = memoryState();
    const hostId = hostIdOf(state);
    assert.match(hostId, /^[0-9a-f]{16}$/);
    assert.equal(hostIdOf(state), hostId, 'made once');
    assert.notEqual(hostIdOf(memoryState()), hostId, 'another state dir, another host');

    const network = new NetworkService(state, {});
    const box = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    assert.equal(network.linkOf(box), hostLinkName(hostId, box));
    // What an older nsbox recorded for a box it wired: unwire, shaping, info and metrics use that name.
    const wired = { box, link: legacyHostLinkName(box), addresses: [], routed: false };
    state.set(STATE_NAMESPACE, `wired:${box}`, JSON.stringify(wired));
    assert.equal(network.linkOf(box), legacyHostLinkName(box));
  });
});
