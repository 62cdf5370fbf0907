import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointsCell } from './endpoints.js';

describe('Endpoints ENDPOINTS cell', () => {
  it('lists up to three ip:port pairs and counts the rest', () => {
    assert.equal(endpointsCell({}), '<none>');
    assert.equal(
      endpointsCell({ subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] }),
      '10.0.0.1:80',
    );
    const many = {
      subsets: [
        { addresses: ['1', '2', '3', '4', '5'].map((n) => ({ ip: `10.0.0.${n}` })), ports: [{ port: 80 }] },
      ],
    };
    assert.equal(endpointsCell(many), '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...');
    assert.equal(
      endpointsCell({ subsets: [{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 443 }] }] }),
      '[fd00::1]:443',
    );
    assert.equal(endpointsCell({ subsets: [{ addresses: [{ ip: '10.0.0.9' }] }] }), '10.0.0.9');
  });
});
