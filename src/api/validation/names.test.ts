import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkDns1035Label,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkLabelValue,
  checkObjectName,
  checkPortName,
  checkQualifiedName,
} from './names.js';

describe('name rules', () => {
  it('accepts DNS-1123 subdomains and rejects upper case, leading dashes and long names', () => {
    assert.deepEqual(checkDns1123Subdomain('web-1.example'), []);
    assert.match(checkDns1123Subdomain('Web')[0] ?? '', /a lowercase RFC 1123 subdomain must consist of/);
    assert.equal(checkDns1123Subdomain('-web').length, 1);
    assert.ok(checkDns1123Subdomain('a'.repeat(254)).includes('must be no more than 253 characters'));
  });

  it('treats dots as invalid in DNS-1123 labels (namespace names)', () => {
    assert.deepEqual(checkDns1123Label('ns2'), []);
    assert.equal(checkDns1123Label('a.b').length, 1);
    assert.ok(checkDns1123Label('a'.repeat(64)).includes('must be no more than 63 characters'));
  });

  it('requires DNS-1035 labels (service names) to start with a letter', () => {
    assert.deepEqual(checkDns1035Label('web'), []);
    assert.match(checkDns1035Label('1web')[0] ?? '', /start with an alphabetic character/);
  });

  it('checks qualified names with and without prefixes', () => {
    assert.deepEqual(checkQualifiedName('app.kubernetes.io/name'), []);
    assert.deepEqual(checkQualifiedName('app'), []);
    assert.match(checkQualifiedName('Bad_Prefix/x')[0] ?? '', /^prefix part a lowercase RFC 1123 subdomain/);
    assert.match(checkQualifiedName('/x')[0] ?? '', /prefix part must be non-empty/);
    assert.match(checkQualifiedName('a/b/c')[0] ?? '', /a qualified name must consist of/);
    assert.match(checkQualifiedName('x/-y')[0] ?? '', /name part must consist of/);
  });

  it('allows empty label values and rejects spaces', () => {
    assert.deepEqual(checkLabelValue(''), []);
    assert.deepEqual(checkLabelValue('v1.2_3'), []);
    assert.equal(checkLabelValue('a b').length, 1);
  });

  it('allows generateName prefixes ending in a dash', () => {
    assert.deepEqual(checkObjectName('dns1123Subdomain', 'web-', true), []);
    assert.equal(checkObjectName('dns1123Subdomain', 'web-', false).length, 1);
    assert.deepEqual(checkObjectName('pathSegment', 'system:controller:x'), []);
    assert.deepEqual(checkObjectName('pathSegment', '..'), ["may not be '..'"]);
  });

  it('checks IANA port names', () => {
    assert.deepEqual(checkPortName('http'), []);
    assert.ok(checkPortName('1234').includes('must contain at least one letter (a-z)'));
    assert.ok(checkPortName('a--b').includes('must not contain consecutive hyphens'));
    assert.ok(checkPortName('averyveryverylongname').includes('must be no more than 15 characters'));
  });
});
