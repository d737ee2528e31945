import assert from 'node:assert/strict';
import { type Cidr, contains, formatAddress, normalizeAddress, overlaps, parseAddress, parseCidr, usable } from './ip.js';

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('network: IP arithmetic', () => {
  it('parses and formats IPv4 and IPv6 addresses, compressing IPv6 the RFC 5952 way', () => {
    assert.equal(parseAddress('10.88.0.1')?.value, 0x0a580001n);
    assert.equal(normalizeAddress('fd00:0:0:0:0:0:0:1'), 'fd00::1');
    assert.equal(normalizeAddress('FD00::0:1:0:0:0'), 'fd00::1:0:0:0', 'the first of two equal zero runs');
    assert.equal(normalizeAddress('::ffff:10.0.0.1'), '::ffff:a00:1');
    assert.equal(formatAddress(6, 0n), '::');
    assert.equal(normalizeAddress('10.0.0.256'), undefined);
  });

  it('refuses a bad CIDR with a reason: no length, host bits, too long, too small for a gateway and a box', () => {
    assert.match(parseCidr('10.0.0.0') as string, /not a CIDR prefix/);
    assert.match(parseCidr('10.0.0.1/24') as string, /host bits set \(the network is 10\.0\.0\.0\/24\)/);
    assert.match(parseCidr('10.0.0.0/33') as string, /longer than 32 bits/);
    assert.match(parseCidr('10.0.0.0/31') as string, /no room/);
    assert.match(parseCidr('fd00::zz/64') as string, /not an IPv4 or IPv6 address/);
    assert.deepEqual(cidr('fd88::/64'), { family: 6, network: 0xfd88n << 112n, prefix: 64 });
  });

  it('tells containment, overlap and the addresses a box may hold', () => {
    const a = cidr('10.88.0.0/24');
    assert.ok(overlaps(a, cidr('10.88.0.128/25')));
    assert.ok(overlaps(a, cidr('10.0.0.0/8')));
    assert.ok(!overlaps(a, cidr('10.89.0.0/24')));
    assert.ok(!overlaps(a, cidr('fd88::/64')));
    const gateway = parseAddress('10.88.0.1')?.value ?? 0n;
    assert.ok(contains(a, 4, gateway));
    assert.ok(!usable(a, a.network, gateway), 'the network address');
    assert.ok(!usable(a, gateway, gateway), 'the gateway');
    assert.ok(!usable(a, a.network + 255n, gateway), 'the broadcast');
    assert.ok(usable(a, a.network + 2n, gateway));
    const v6 = cidr('fd88::/120');
    assert.ok(usable(v6, v6.network + 255n, v6.network + 1n), 'IPv6 has no broadcast');
  });
});
