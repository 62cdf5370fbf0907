import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, parseCidr, parseIp } from './ip-address.js';

describe('IP parsing', () => {
  it('parses IPv4 strictly', () => {
    assert.equal(parseIp('192.168.0.1')?.value, 0xc0a80001n);
    assert.equal(parseIp('192.168.0.01'), undefined);
    assert.equal(parseIp('256.0.0.1'), undefined);
    assert.equal(parseIp('example.com'), undefined);
  });

  it('parses IPv6 including compressed and IPv4-embedded forms', () => {
    assert.equal(parseIp('::1')?.value, 1n);
    assert.equal(parseIp('2001:db8::ffff')?.value, (0x20010db8n << 96n) | 0xffffn);
    assert.equal(parseIp('::ffff:1.2.3.4')?.value, (0xffffn << 32n) | 0x01020304n);
    assert.equal(parseIp('fe80::1%eth0'), undefined);
  });

  it('parses CIDRs and answers containment and overlap', () => {
    const net = parseCidr('192.168.0.0/24');
    assert.ok(net);
    assert.equal(net.prefixLength, 24);
    assert.ok(cidrContains(net, parseIp('192.168.0.1') as never));
    assert.ok(!cidrContains(net, parseIp('192.168.1.1') as never));
    assert.ok(cidrsOverlap(net, parseCidr('192.168.0.128/25') as never));
    assert.ok(!cidrsOverlap(net, parseCidr('192.168.1.0/24') as never));
    assert.equal(parseCidr('192.168.0.0/33'), undefined);
    assert.equal(parseCidr('192.168.0.0'), undefined);
    assert.equal(parseCidr('192.168.0.0/024'), undefined);
    assert.equal(parseCidr('2001:db8::/64')?.family, 6);
  });
});
