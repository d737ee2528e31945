import assert from 'node:assert/strict';
import { isNsboxError } from '@nsbox/core';
import { firewallRules, formatAllow, parseAllow } from './firewall.js';

describe('network: allow rules', () => {
  it('parses sources, prefixes, ports and protocols, IPv4 and IPv6', () => {
    const cases: [string, string][] = [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['198.51.100.2', '198.51.100.2/32'],
      ['198.51.100.7/24:80', '198.51.100.0/24:80/tcp'],
      ['0.0.0.0/0:53/udp', '0.0.0.0/0:53/udp'],
      ['198.51.100.2:8080', '198.51.100.2/32:8080/tcp'],
      ['fd00::/64', 'fd00::/64'],
      ['fd00::1', 'fd00::1/128'],
      ['fd00::/64:443', '[fd00::/64]:443/tcp'],
      ['[2001:db8::2]:22', '[2001:db8::2/128]:22/tcp'],
      ['[fd00::/64]:53/udp', '[fd00::/64]:53/udp'],
    ];
    for (const [text, canonical] of cases) assert.equal(formatAllow(parseAllow(text)), canonical, text);
    // The canonical form parses to itself.
    for (const [, canonical] of cases) assert.equal(formatAllow(parseAllow(canonical)), canonical);
  });

  it('refuses bad rules naming the field', () => {
    for (const text of ['nonsense', '10.0.0.0/33', '10.0.0.1:0', '10.0.0.1:70000', '10.0.0.1:80/icmp', 'fd00::/129', '[fd00::]:x']) {
      assert.throws(
        () => parseAllow(text),
        (error: unknown) => isNsboxError(error) && error.details?.field === 'rule',
        text,
      );
    }
  });

  it("writes accepts before one counted drop per family, matched on the box's own addresses", () => {
    const rules = firewallRules({
      box: 'b1',
      link: 'nsb000000000001',
      addresses: [{ family: 4, address: '10.0.0.2' }],
      rules: [parseAllow('198.51.100.0/24:80'), parseAllow('fd00::/64')],
    });
    const verdicts = rules.map((command) => {
      const expr = (command.add as { rule: { expr: Record<string, unknown>[] } }).rule.expr;
      return Object.keys(expr[expr.length - 1] as object)[0];
    });
    // IPv4 only (the box holds no IPv6 address): established, the port-80 rule, the drop.
    assert.deepEqual(verdicts, ['accept', 'accept', 'drop']);
    assert.match(JSON.stringify(rules[1]), /"field":"dport"\}\},"right":80/);
  });
});
