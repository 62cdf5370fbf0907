import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode } from '../../lib/index.js';
import {
  ipAtOffset,
  ipOffset,
  kubernetesServiceIp,
  parsePortRange,
  parseServiceCidr,
  portOffset,
} from './service-ranges.js';

describe('service ranges', () => {
  it('parses a service CIDR, clearing host bits, and maps addresses to offsets', () => {
    const cidr = parseServiceCidr('10.43.1.2/16');
    assert.equal(cidr.text, '10.43.0.0/16');
    assert.equal(cidr.size, 65536);
    assert.equal(kubernetesServiceIp(cidr), '10.43.0.1');
    assert.equal(ipOffset(cidr, '10.43.0.1'), 1);
    assert.equal(ipOffset(cidr, '10.43.1.0'), 256);
    assert.equal(ipAtOffset(cidr, 256), '10.43.1.0');
    assert.equal(ipOffset(cidr, '10.43.0.0'), undefined, 'the network address is not allocatable');
    assert.equal(ipOffset(cidr, '10.43.255.255'), undefined, 'nor the broadcast address');
    assert.equal(ipOffset(cidr, '10.44.0.1'), undefined);
    assert.equal(ipOffset(cidr, 'fd00::1'), undefined);
    assert.equal(parseServiceCidr('192.168.255.252/30').size, 4);
  });

  it('refuses service CIDRs it cannot serve, with BadRequest naming the value', () => {
    for (const bad of ['10.43.0.0', '10.43.0.0/8', '10.43.0.0/31', 'fd00::/112', 'x/16', '10.43.0.0/16x']) {
      assert.throws(
        () => parseServiceCidr(bad),
        (err: Error) => errorCode(err) === 'BadRequest' && err.message.includes(`"${bad}"`),
        bad,
      );
    }
  });

  it('parses a node port range and maps ports to offsets', () => {
    const r = parsePortRange('30000-32767');
    assert.deepEqual([r.first, r.last, r.size], [30000, 32767, 2768]);
    assert.equal(portOffset(r, 30000), 0);
    assert.equal(portOffset(r, 32767), 2767);
    assert.equal(portOffset(r, 29999), undefined);
    assert.equal(parsePortRange(' 8000 - 8000 ').size, 1);
    for (const bad of ['30000', '0-10', '10-5', '1-65536', 'a-b']) {
      assert.throws(
        () => parsePortRange(bad),
        (err) => errorCode(err) === 'BadRequest',
        bad,
      );
    }
  });
});
