/**
 * The API server over loopback HTTP with a real store: REST semantics, errors, field
 * validation, patches, deletion with finalizers, namespaces, subresources and discovery.
 * Watch and paging have their own file (watch-and-list.int.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { waitFor } from '../../lib/index.js';
import { allKinds } from '../../api/index.js';
import { startInProcessServer, type InProcessServer } from '../testing/in-process-server.js';
import { testWidgetKind } from '../testing/test-schema.js';

const kinds = [...allKinds(), testWidgetKind];
const widgets = '/apis/example.h8s.io/v1/namespaces/default/widgets';

function widget(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'example.h8s.io/v1', kind: 'Widget', metadata: { name, labels: { app: name } }, spec };
}

const cmPath = (ns: string, name = ''): string =>
  `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;

function cm(
  name: string,
  data: Record<string, string> = { a: '1' },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data };
}

function pod(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...extra },
  };
}

for (const backend of ['memory', 'sqlite'] as const) {
  describe(`API server REST semantics (${backend} store)`, () => {
    let s: InProcessServer;
    before(async () => {
      s = await startInProcessServer({ store: backend, kinds });
    });
    after(async () => {
      await s?.close();
    });

    it('creates an object with uid, creationTimestamp, resourceVersion and managedFields', async () => {
      const r = await s.request('POST', `${cmPath('default')}?fieldManager=tester`, { body: cm('c1') });
      assert.equal(r.status, 201, r.text);
      const meta = r.json['metadata'] as Record<string, unknown>;
      assert.match(meta['uid'] as string, /^[0-9a-f-]{36}$/);
      assert.match(meta['creationTimestamp'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(meta['resourceVersion'] as string, /^\d+$/);
      assert.equal(meta['namespace'], 'default');
      assert.equal((meta['managedFields'] as { manager: string }[])[0]?.manager, 'tester');
      const got = await s.request('GET', cmPath('default', 'c1'));
      assert.equal(got.status, 200);
      assert.deepEqual(got.json, r.json);
    });

    it('answers AlreadyExists and NotFound with upstream messages', async () => {
      await s.request('POST', cmPath('default'), { body: cm('dup') });
      const again = await s.request('POST', cmPath('default'), { body: cm('dup') });
      assert.equal(again.status, 409);
      assert.equal(again.json['reason'], 'AlreadyExists');
      assert.equal(again.json['message'], 'configmaps "dup" already exists');
      assert.deepEqual(again.json['details'], { name: 'dup', group: '', kind: 'configmaps' });
      const missing = await s.request('GET', cmPath('default', 'nope'));
      assert.equal(missing.status, 404);
      assert.equal(missing.json['kind'], 'Status');
      assert.equal(missing.json['message'], 'configmaps "nope" not found');
      const net = await s.request('GET', '/api/v1/networks/nonet');
      assert.equal(net.json['message'], 'networks "nonet" not found');
    });

    it('generates names from generateName', async () => {
      const r = await s.request('POST', cmPath('default'), {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } },
      });
      assert.equal(r.status, 201, r.text);
      assert.match((r.json['metadata'] as { name: string }).name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    });

    it('rejects a stale resourceVersion on update with 409 Conflict', async () => {
      const created = await s.request('POST', cmPath('default'), { body: cm('upd') });
      const rv = (created.json['metadata'] as { resourceVersion: string }).resourceVersion;
      const first = await s.request('PUT', cmPath('default', 'upd'), {
        body: cm('upd', { a: '2' }, { resourceVersion: rv }),
      });
      assert.equal(first.status, 200, first.text);
      assert.notEqual((first.json['metadata'] as { resourceVersion: string }).resourceVersion, rv);
      const stale = await s.request('PUT', cmPath('default', 'upd'), {
        body: cm('upd', { a: '3' }, { resourceVersion: rv }),
      });
      assert.equal(stale.status, 409);
      assert.equal(stale.json['reason'], 'Conflict');
      assert.equal(
        stale.json['message'],
        'Operation cannot be fulfilled on configmaps "upd": the object has been modified; please apply your changes to the latest version and try again',
      );
      const unconditional = await s.request('PUT', cmPath('default', 'upd'), { body: cm('upd', { a: '4' }) });
      assert.equal(unconditional.status, 200);
      assert.deepEqual(unconditional.json['data'], { a: '4' });
    });

    it('keeps uid and creationTimestamp on update and rejects a mismatched name', async () => {
      const created = await s.request('POST', cmPath('default'), { body: cm('keep') });
      const meta = created.json['metadata'] as Record<string, string>;
      const upd = await s.request('PUT', cmPath('default', 'keep'), {
        body: cm('keep', { b: '2' }, { uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z' }),
      });
      assert.equal(upd.status, 200, upd.text);
      const m2 = upd.json['metadata'] as Record<string, string>;
      assert.equal(m2['uid'], meta['uid']);
      assert.equal(m2['creationTimestamp'], meta['creationTimestamp']);
      const wrong = await s.request('PUT', cmPath('default', 'keep'), { body: cm('other') });
      assert.equal(wrong.status, 400);
      assert.equal(
        wrong.json['message'],
        'the name of the object (other) does not match the name on the URL (keep)',
      );
    });

    it('does not write an update that changes nothing', async () => {
      const created = await s.request('POST', cmPath('default'), { body: cm('noop') });
      const same = await s.request('PUT', cmPath('default', 'noop'), { body: created.json });
      assert.equal(same.status, 200);
      assert.equal(
        (same.json['metadata'] as { resourceVersion: string }).resourceVersion,
        (created.json['metadata'] as { resourceVersion: string }).resourceVersion,
      );
    });

    it('validates names and labels with 422 Invalid and causes', async () => {
      const r = await s.request('POST', cmPath('default'), {
        body: cm('Bad_Name', {}, { labels: { 'bad key!': 'v' } }),
      });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json['reason'], 'Invalid');
      const details = r.json['details'] as {
        kind: string;
        name: string;
        causes: { field: string; reason: string }[];
      };
      assert.equal(details.kind, 'ConfigMap');
      assert.equal(details.name, 'Bad_Name');
      assert.ok(details.causes.some((c) => c.field === 'metadata.name' && c.reason === 'FieldValueInvalid'));
      assert.ok(details.causes.some((c) => c.field === 'metadata.labels'));
      assert.match(
        r.json['message'] as string,
        /^ConfigMap "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name"/,
      );
      const noName = await s.request('POST', cmPath('default'), {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} },
      });
      assert.equal(noName.status, 422);
      assert.equal(
        noName.json['message'],
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
      );
    });

    it('applies field validation: Strict rejects, Warn warns, Ignore drops unknown fields', async () => {
      const body = { ...cm('fv'), spec: { x: 1 }, data: { a: '1' } };
      const strict = await s.request('POST', `${cmPath('default')}?fieldValidation=Strict`, { body });
      assert.equal(strict.status, 400);
      assert.equal(
        strict.json['message'],
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"',
      );
      const warn = await s.request('POST', `${cmPath('default')}?fieldValidation=Warn`, { body });
      assert.equal(warn.status, 201);
      assert.equal(warn.headers['warning'], '299 - "unknown field \\"spec\\""');
      assert.equal(warn.json['spec'], undefined, 'unknown fields are never stored');
      const ignore = await s.request('POST', `${cmPath('default')}?fieldValidation=Ignore`, {
        body: { ...body, metadata: { name: 'fv2' } },
      });
      assert.equal(ignore.status, 201);
      assert.equal(ignore.headers['warning'], undefined);
      const bad = await s.request('POST', `${cmPath('default')}?fieldValidation=Loose`, { body });
      assert.equal(bad.status, 400);
      const dup =
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup-key","name":"dup-key"},"data":{}}';
      const strictDup = await s.request('POST', `${cmPath('default')}?fieldValidation=Strict`, { body: dup });
      assert.equal(strictDup.status, 400);
      assert.match(
        strictDup.json['message'] as string,
        /strict decoding error: duplicate field "metadata\.name"/,
      );
      const warnDup = await s.request('POST', cmPath('default'), { body: dup });
      assert.equal(warnDup.status, 201);
      assert.equal(warnDup.headers['warning'], '299 - "duplicate field \\"metadata.name\\""');
    });

    it('answers malformed bodies with 400 and never stores them', async () => {
      const badJson = await s.request('POST', cmPath('default'), { body: '{"apiVersion": "v1", "kind": ' });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.json['reason'], 'BadRequest');
      assert.match(badJson.json['message'] as string, /not valid JSON/);
      const badYaml = await s.request('POST', cmPath('default'), {
        body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n',
        contentType: 'application/yaml',
      });
      assert.equal(badYaml.status, 400);
      assert.match(badYaml.json['message'] as string, /not valid YAML/);
      const goodYaml = await s.request('POST', cmPath('default'), {
        body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n',
        contentType: 'application/yaml',
      });
      assert.equal(goodYaml.status, 201, goodYaml.text);
      const typeErr = await s.request('POST', cmPath('default'), {
        body: { ...cm('typed'), data: { a: 1 } },
      });
      assert.equal(typeErr.status, 400);
      assert.match(
        typeErr.json['message'] as string,
        /^ConfigMap in version "v1" cannot be handled as a ConfigMap: data/,
      );
      const array = await s.request('POST', cmPath('default'), { body: [1, 2] });
      assert.equal(array.status, 400);
      const deep = await s.request('POST', cmPath('default'), { body: '['.repeat(5000) + ']'.repeat(5000) });
      assert.equal(deep.status, 400);
    });

    it('rejects another apiVersion or kind in the body and unknown resources', async () => {
      const wrongKind = await s.request('POST', cmPath('default'), { body: { ...cm('wk'), kind: 'Secret' } });
      assert.equal(wrongKind.status, 400);
      assert.match(wrongKind.json['message'] as string, /does not match the expected kind/);
      const wrongVersion = await s.request('POST', cmPath('default'), {
        body: { ...cm('wv'), apiVersion: 'v2' },
      });
      assert.equal(wrongVersion.status, 400);
      assert.match(
        wrongVersion.json['message'] as string,
        /the API version in the data \(v2\) does not match the expected API version \(v1\)/,
      );
      const unknown = await s.request('GET', '/api/v1/namespaces/default/gizmos');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json['message'], 'the server could not find the requested resource');
      const unknownGroup = await s.request('GET', '/apis/nope.example.com/v1/things');
      assert.equal(unknownGroup.status, 404);
    });

    it('answers a body over 3 MiB with 413 and keeps serving', async () => {
      const big = cm('big', { blob: 'x'.repeat(3 * 1024 * 1024 + 10) });
      const r = await s.request('POST', cmPath('default'), { body: big });
      assert.equal(r.status, 413);
      assert.equal(r.json['reason'], 'RequestEntityTooLarge');
      assert.equal(r.json['message'], 'Request entity too large: limit is 3145728');
      const ok = await s.request('GET', cmPath('default'));
      assert.equal(ok.status, 200);
    });

    it('answers 415 for an unknown body type and 406 only when JSON is not acceptable', async () => {
      const r = await s.request('POST', cmPath('default'), { body: 'x', contentType: 'text/csv' });
      assert.equal(r.status, 415);
      const patch = await s.request('PATCH', cmPath('default', 'c1'), {
        body: '{}',
        contentType: 'application/json',
      });
      assert.equal(patch.status, 415);
      const pb = await s.request('GET', cmPath('default'), {
        accept: 'application/vnd.kubernetes.protobuf, application/json',
      });
      assert.equal(pb.status, 200);
      assert.equal(pb.headers['content-type'], 'application/json');
      const only = await s.request('GET', cmPath('default'), {
        accept: 'application/vnd.kubernetes.protobuf',
      });
      assert.equal(only.status, 406);
    });

    it('needs a namespace that exists and is not terminating', async () => {
      const missing = await s.request('POST', cmPath('nowhere'), { body: cm('x') });
      assert.equal(missing.status, 404);
      assert.equal(missing.json['message'], 'namespaces "nowhere" not found');
      const mismatch = await s.request('POST', cmPath('default'), {
        body: cm('x', {}, { namespace: 'kube-system' }),
      });
      assert.equal(mismatch.status, 400);
    });

    it('patches with JSON patch, merge patch and strategic merge patch', async () => {
      await s.request('POST', cmPath('default'), { body: cm('pt', { a: '1' }) });
      const json = await s.request('PATCH', cmPath('default', 'pt'), {
        body: [{ op: 'add', path: '/data/b', value: '2' }],
        contentType: 'application/json-patch+json',
      });
      assert.equal(json.status, 200, json.text);
      const merge = await s.request('PATCH', cmPath('default', 'pt'), {
        body: { data: { a: null, c: '3' } },
        contentType: 'application/merge-patch+json',
      });
      assert.deepEqual(merge.json['data'], { b: '2', c: '3' });
      const smp = await s.request('PATCH', cmPath('default', 'pt'), {
        body: { metadata: { labels: { x: 'y' } } },
        contentType: 'application/strategic-merge-patch+json',
      });
      assert.deepEqual((smp.json['metadata'] as { labels: unknown }).labels, { x: 'y' });
      const failing = await s.request('PATCH', cmPath('default', 'pt'), {
        body: [{ op: 'remove', path: '/data/zzz' }],
        contentType: 'application/json-patch+json',
      });
      assert.equal(failing.status, 422);
      const stale = await s.request('PATCH', cmPath('default', 'pt'), {
        body: { metadata: { resourceVersion: '1' }, data: { d: '4' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(stale.status, 409);
      const missing = await s.request('PATCH', cmPath('default', 'no-such'), {
        body: { data: {} },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(missing.status, 404);
    });

    it('merges pod containers by name with strategic merge patch', async () => {
      const created = await s.request('POST', '/api/v1/namespaces/default/pods', { body: pod('smp') });
      assert.equal(created.status, 201, created.text);
      const r = await s.request('PATCH', '/api/v1/namespaces/default/pods/smp', {
        body: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } },
        contentType: 'application/strategic-merge-patch+json',
      });
      assert.equal(r.status, 200, r.text);
      const containers = (r.json['spec'] as { containers: Record<string, unknown>[] }).containers;
      assert.equal(containers.length, 1);
      assert.equal(containers[0]?.['image'], 'busybox:2');
      assert.equal(containers[0]?.['name'], 'c');
    });

    it('server-side applies: creates with 201, tracks ownership, conflicts with 409, forces', async () => {
      const path = `${cmPath('default', 'ssa')}?fieldManager=alice`;
      const created = await s.request('PATCH', path, {
        body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  owner: alice\n',
        contentType: 'application/apply-patch+yaml',
      });
      assert.equal(created.status, 201, created.text);
      const mf = (created.json['metadata'] as { managedFields: { manager: string; operation: string }[] })
        .managedFields;
      assert.deepEqual(
        mf.map((e) => `${e.manager}/${e.operation}`),
        ['alice/Apply'],
      );
      const bob = await s.request('PATCH', `${cmPath('default', 'ssa')}?fieldManager=bob`, {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data: { owner: 'bob' } },
        contentType: 'application/apply-patch+yaml',
      });
      assert.equal(bob.status, 409);
      assert.equal(bob.json['reason'], 'Conflict');
      assert.equal(bob.json['message'], 'Apply failed with 1 conflict: conflict with "alice": .data.owner');
      assert.deepEqual((bob.json['details'] as { causes: unknown[] }).causes, [
        { reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.data.owner' },
      ]);
      const forced = await s.request('PATCH', `${cmPath('default', 'ssa')}?fieldManager=bob&force=true`, {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data: { owner: 'bob' } },
        contentType: 'application/apply-patch+yaml',
      });
      assert.equal(forced.status, 200, forced.text);
      assert.deepEqual(forced.json['data'], { owner: 'bob' });
      const noManager = await s.request('PATCH', cmPath('default', 'ssa'), {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' } },
        contentType: 'application/apply-patch+yaml',
      });
      assert.equal(noManager.status, 400);
      const forceOnMerge = await s.request('PATCH', `${cmPath('default', 'ssa')}?force=true`, {
        body: {},
        contentType: 'application/merge-patch+json',
      });
      assert.equal(forceOnMerge.status, 400);
    });

    it('stores nothing on dryRun=All', async () => {
      const before = await s.store.currentRevision();
      const r = await s.request('POST', `${cmPath('default')}?dryRun=All`, { body: cm('dry') });
      assert.equal(r.status, 201);
      assert.equal((r.json['metadata'] as { name: string }).name, 'dry');
      assert.equal(await s.store.currentRevision(), before);
      assert.equal((await s.request('GET', cmPath('default', 'dry'))).status, 404);
      const badDry = await s.request('POST', `${cmPath('default')}?dryRun=Some`, { body: cm('dry') });
      assert.equal(badDry.status, 400);
    });

    it('deletes at once without finalizers and returns a Success Status', async () => {
      await s.request('POST', cmPath('default'), { body: cm('del') });
      const r = await s.request('DELETE', cmPath('default', 'del'));
      assert.equal(r.status, 200);
      assert.equal(r.json['kind'], 'Status');
      assert.equal(r.json['status'], 'Success');
      assert.deepEqual(
        {
          name: (r.json['details'] as Record<string, unknown>)['name'],
          kind: (r.json['details'] as Record<string, unknown>)['kind'],
        },
        { name: 'del', kind: 'configmaps' },
      );
      assert.equal((await s.request('GET', cmPath('default', 'del'))).status, 404);
      assert.equal((await s.request('DELETE', cmPath('default', 'del'))).status, 404);
    });

    it('waits for finalizers: deletionTimestamp first, removal when the last one goes', async () => {
      await s.request('POST', cmPath('default'), {
        body: cm('fin', {}, { finalizers: ['example.com/hold'] }),
      });
      const r = await s.request('DELETE', cmPath('default', 'fin'));
      assert.equal(r.status, 200);
      const meta = r.json['metadata'] as Record<string, unknown>;
      assert.ok(meta['deletionTimestamp'], 'deletionTimestamp is set');
      assert.equal(meta['deletionGracePeriodSeconds'], 0);
      const still = await s.request('GET', cmPath('default', 'fin'));
      assert.equal(still.status, 200);
      const cleared = await s.request('PATCH', cmPath('default', 'fin'), {
        body: { metadata: { finalizers: null } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal((await s.request('GET', cmPath('default', 'fin'))).status, 404);
    });

    it('adds the garbage collector finalizers for Foreground and Orphan propagation', async () => {
      await s.request('POST', cmPath('default'), { body: cm('fg') });
      const fg = await s.request('DELETE', cmPath('default', 'fg'), {
        body: { propagationPolicy: 'Foreground' },
      });
      assert.deepEqual((fg.json['metadata'] as { finalizers: string[] }).finalizers, ['foregroundDeletion']);
      await s.request('POST', cmPath('default'), { body: cm('orph') });
      const or = await s.request('DELETE', `${cmPath('default', 'orph')}?propagationPolicy=Orphan`);
      assert.deepEqual((or.json['metadata'] as { finalizers: string[] }).finalizers, ['orphan']);
      const legacy = await s.request('POST', cmPath('default'), { body: cm('legacy') });
      assert.equal(legacy.status, 201);
      const both = await s.request('DELETE', cmPath('default', 'legacy'), {
        body: { propagationPolicy: 'Foreground', orphanDependents: true },
      });
      assert.equal(both.status, 422);
      const badPolicy = await s.request('DELETE', cmPath('default', 'legacy'), {
        body: { propagationPolicy: 'Sideways' },
      });
      assert.equal(badPolicy.status, 400);
    });

    it('checks delete preconditions', async () => {
      const created = await s.request('POST', cmPath('default'), { body: cm('pre') });
      const r = await s.request('DELETE', cmPath('default', 'pre'), {
        body: { preconditions: { uid: 'not-it' } },
      });
      assert.equal(r.status, 409);
      assert.match(r.json['message'] as string, /Precondition failed: UID in precondition: not-it/);
      const ok = await s.request('DELETE', cmPath('default', 'pre'), {
        body: { preconditions: { uid: (created.json['metadata'] as { uid: string }).uid } },
      });
      assert.equal(ok.status, 200);
    });

    it('deletes a collection by label selector', async () => {
      for (const n of ['dc1', 'dc2', 'dc3']) {
        await s.request('POST', cmPath('default'), {
          body: cm(n, {}, { labels: { group: n === 'dc3' ? 'keep' : 'drop' } }),
        });
      }
      const r = await s.request('DELETE', `${cmPath('default')}?labelSelector=group%3Ddrop`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json['kind'], 'ConfigMapList');
      assert.equal(r.json.items?.length, 2);
      const left = await s.request('GET', `${cmPath('default')}?labelSelector=group`);
      assert.deepEqual(
        left.json.items?.map((i) => (i['metadata'] as { name: string }).name),
        ['dc3'],
      );
    });

    it('terminates a namespace: phase Terminating, no new content, gone after finalize', async () => {
      const ns = await s.request('POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } },
      });
      assert.equal(ns.status, 201, ns.text);
      assert.deepEqual((ns.json['spec'] as { finalizers: string[] }).finalizers, ['kubernetes']);
      assert.equal((ns.json['status'] as { phase: string }).phase, 'Active');
      await s.request('POST', cmPath('doomed'), { body: cm('inside') });
      const del = await s.request('DELETE', '/api/v1/namespaces/doomed');
      assert.equal(del.status, 200);
      assert.equal((del.json['status'] as { phase: string }).phase, 'Terminating');
      assert.ok((del.json['metadata'] as { deletionTimestamp?: string }).deletionTimestamp);
      const again = await s.request('DELETE', '/api/v1/namespaces/doomed');
      assert.equal(again.status, 409);
      assert.match(
        again.json['message'] as string,
        /The system is ensuring all content is removed from this namespace/,
      );
      const blocked = await s.request('POST', cmPath('doomed'), { body: cm('late') });
      assert.equal(blocked.status, 403);
      assert.equal(blocked.json['reason'], 'Forbidden');
      assert.equal(
        blocked.json['message'],
        'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
      );
      assert.equal(
        (blocked.json['details'] as { causes: { reason: string }[] }).causes[0]?.reason,
        'NamespaceTerminating',
      );
      const live = await s.request('GET', '/api/v1/namespaces/doomed');
      const fin = await s.request('PUT', '/api/v1/namespaces/doomed/finalize', {
        body: { ...live.json, spec: { finalizers: [] } },
      });
      assert.equal(fin.status, 200, fin.text);
      assert.equal((await s.request('GET', '/api/v1/namespaces/doomed')).status, 404);
    });

    it('keeps status out of main-resource writes and spec out of status writes', async () => {
      const created = await s.request('POST', '/api/v1/namespaces/default/pods', {
        body: { ...pod('st'), status: { phase: 'Running' } },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal((created.json['status'] as { phase: string }).phase, 'Pending');
      const statusWrite = await s.request('PUT', '/api/v1/namespaces/default/pods/st/status', {
        body: {
          ...created.json,
          spec: { ...(created.json['spec'] as object), activeDeadlineSeconds: 5 },
          status: { phase: 'Running' },
        },
      });
      assert.equal(statusWrite.status, 200, statusWrite.text);
      assert.equal((statusWrite.json['status'] as { phase: string }).phase, 'Running');
      assert.equal((statusWrite.json['spec'] as Record<string, unknown>)['activeDeadlineSeconds'], undefined);
      const mainWrite = await s.request('PATCH', '/api/v1/namespaces/default/pods/st', {
        body: { metadata: { labels: { l: '1' } }, status: { phase: 'Failed' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(mainWrite.status, 200, mainWrite.text);
      assert.equal((mainWrite.json['status'] as { phase: string }).phase, 'Running');
    });

    it('binds a pod to a node once through pods/binding', async () => {
      await s.request('POST', '/api/v1/namespaces/default/pods', { body: pod('bind-me') });
      const binding = {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'bind-me' },
        target: { kind: 'Node', name: 'node-1' },
      };
      const r = await s.request('POST', '/api/v1/namespaces/default/pods/bind-me/binding', { body: binding });
      assert.equal(r.status, 201, r.text);
      const got = await s.request('GET', '/api/v1/namespaces/default/pods/bind-me');
      assert.equal((got.json['spec'] as { nodeName: string }).nodeName, 'node-1');
      const conditions = (got.json['status'] as { conditions: { type: string; status: string }[] })
        .conditions;
      assert.ok(conditions.some((c) => c.type === 'PodScheduled' && c.status === 'True'));
      const again = await s.request('POST', '/api/v1/namespaces/default/pods/bind-me/binding', {
        body: binding,
      });
      assert.equal(again.status, 409);
      assert.match(again.json['message'] as string, /is already assigned to node "node-1"/);
    });

    it('deletes a pod bound to a node gracefully', async () => {
      await s.request('POST', '/api/v1/namespaces/default/pods', {
        body: pod('graceful', { nodeName: 'node-1' }),
      });
      const r = await s.request('DELETE', '/api/v1/namespaces/default/pods/graceful');
      assert.equal(r.status, 200);
      const meta = r.json['metadata'] as { deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
      assert.equal(meta.deletionGracePeriodSeconds, 30);
      assert.ok(meta.deletionTimestamp);
      const force = await s.request('DELETE', '/api/v1/namespaces/default/pods/graceful', {
        body: { gracePeriodSeconds: 0 },
      });
      assert.equal(force.status, 200);
      assert.equal((await s.request('GET', '/api/v1/namespaces/default/pods/graceful')).status, 404);
    });

    it('answers the streaming pod subresources with 503 until an agent serves them', async () => {
      await s.request('POST', '/api/v1/namespaces/default/pods', { body: pod('stream') });
      for (const sub of ['log', 'exec?command=sh', 'attach', 'portforward']) {
        const r = await s.request('GET', `/api/v1/namespaces/default/pods/stream/${sub}`);
        assert.equal(r.status, 503, `${sub}: ${r.text}`);
        assert.equal(r.json['reason'], 'ServiceUnavailable');
      }
      const missing = await s.request('GET', '/api/v1/namespaces/default/pods/ghost/log');
      assert.equal(missing.status, 404);
    });

    it('increments generation on spec changes only', async () => {
      const created = await s.request('POST', widgets, { body: widget('gen', { replicas: 1 }) });
      assert.equal(created.status, 201, created.text);
      assert.equal((created.json['metadata'] as { generation: number }).generation, 1);
      const labels = await s.request('PATCH', `${widgets}/gen`, {
        body: { metadata: { labels: { z: '1' } } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal((labels.json['metadata'] as { generation: number }).generation, 1);
      const status = await s.request('PATCH', `${widgets}/gen/status`, {
        body: { status: { replicas: 1 } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(status.status, 200, status.text);
      assert.equal((status.json['metadata'] as { generation: number }).generation, 1);
      const spec = await s.request('PATCH', `${widgets}/gen`, {
        body: { spec: { replicas: 2 } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(spec.status, 200, spec.text);
      assert.equal((spec.json['metadata'] as { generation: number }).generation, 2);
    });

    it('serves the scale subresource (get, update, patch) of a kind in a named group', async () => {
      await s.request('POST', widgets, {
        body: widget('sc', { replicas: 1, selector: { matchLabels: { app: 'sc' } } }),
      });
      const scale = await s.request('GET', `${widgets}/sc/scale`);
      assert.equal(scale.status, 200, scale.text);
      assert.equal(scale.json['kind'], 'Scale');
      assert.equal(scale.json['apiVersion'], 'autoscaling/v1');
      assert.deepEqual(scale.json['spec'], { replicas: 1 });
      assert.equal((scale.json['status'] as { selector: string }).selector, 'app=sc');
      const put = await s.request('PUT', `${widgets}/sc/scale`, {
        body: { ...scale.json, spec: { replicas: 3 } },
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.json['spec'], { replicas: 3 });
      const patched = await s.request('PATCH', `${widgets}/sc/scale`, {
        body: { spec: { replicas: 5 } },
        contentType: 'application/merge-patch+json',
      });
      assert.deepEqual(patched.json['spec'], { replicas: 5 });
      const obj = await s.request('GET', `${widgets}/sc`);
      assert.equal((obj.json['spec'] as { replicas: number }).replicas, 5);
      const negative = await s.request('PATCH', `${widgets}/sc/scale`, {
        body: { spec: { replicas: -1 } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(negative.status, 422);
      const stale = await s.request('PUT', `${widgets}/sc/scale`, {
        body: { ...scale.json, spec: { replicas: 2 } },
      });
      assert.equal(stale.status, 409);
      const noScale = await s.request('GET', `${cmPath('default', 'c1')}/scale`);
      assert.equal(noScale.status, 404);
    });

    it('renders Tables for kubectl get', async () => {
      const r = await s.request('GET', '/api/v1/namespaces/default/pods', {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
      });
      assert.equal(r.status, 200);
      assert.equal(r.json['kind'], 'Table');
      const cols = (r.json['columnDefinitions'] as { name: string }[]).map((c) => c.name);
      assert.deepEqual(cols.slice(0, 5), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
      const rows = r.json['rows'] as { cells: unknown[]; object: { kind: string } }[];
      assert.ok(rows.length > 0);
      assert.equal(rows[0]?.object.kind, 'PartialObjectMetadata');
      const full = await s.request('GET', '/api/v1/namespaces/default/pods?includeObject=Object', {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
      });
      assert.equal((full.json['rows'] as { object: { kind: string } }[])[0]?.object.kind, 'Pod');
      const one = await s.request('GET', '/api/v1/namespaces/default/pods/bind-me', {
        accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io',
      });
      assert.equal(one.json['apiVersion'], 'meta.k8s.io/v1beta1');
      assert.equal((one.json['rows'] as unknown[]).length, 1);
    });

    it('Table rows of a list carry each object and its metadata exactly as a get returns them', async () => {
      await s.request('POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tables' } },
      });
      const tricky = {
        'a/quote': 'say "}" and {[',
        'a/backslash': 'C:\\dir\\}\\',
        'a/unicode': 'ünïcødé ✓ \u2028',
        'a/nested-json': '{"x":[1,{"y":"}"}]}',
      };
      for (const [name, extra] of [
        ['t1', { metadata: { name: 't1', annotations: tricky, labels: { app: 't' } } }],
        ['t2', {}],
      ] as const) {
        const r = await s.request('POST', '/api/v1/namespaces/tables/pods', {
          body: { ...pod(name), ...extra },
        });
        assert.equal(r.status, 201, r.text);
      }
      const list = (await s.request('GET', '/api/v1/namespaces/tables/pods')).json['items'] as {
        metadata: Record<string, unknown>;
      }[];
      assert.equal(list.length, 2);
      assert.deepEqual(list[0]?.metadata['annotations'], tricky);
      const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io';
      for (const includeObject of ['Metadata', 'Object', 'None'] as const) {
        for (const selector of ['', '&labelSelector=app%3Dt']) {
          const t = await s.request(
            'GET',
            `/api/v1/namespaces/tables/pods?includeObject=${includeObject}${selector}`,
            { accept },
          );
          assert.equal(t.status, 200, t.text);
          const rows = t.json['rows'] as { cells: unknown[]; object?: Record<string, unknown> }[];
          const expected = selector ? list.slice(0, 1) : list;
          assert.equal(rows.length, expected.length);
          rows.forEach((row, i) => {
            const item = expected[i] as { metadata: Record<string, unknown> };
            assert.equal(row.cells[0], item.metadata['name']);
            if (includeObject === 'None') assert.equal(row.object, undefined);
            else if (includeObject === 'Object') assert.deepEqual(row.object, item);
            else
              assert.deepEqual(row.object, {
                kind: 'PartialObjectMetadata',
                apiVersion: 'meta.k8s.io/v1',
                metadata: item.metadata,
              });
          });
        }
      }
    });
  });
}

describe('API server discovery, auth and health', () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcessServer({ kinds });
  });
  after(async () => {
    await s?.close();
  });

  it('needs a bearer token except for health and version', async () => {
    const r = await s.request('GET', '/api/v1/namespaces', { token: null });
    assert.equal(r.status, 401);
    assert.equal(r.json['reason'], 'Unauthorized');
    const wrong = await s.request('GET', '/api/v1/namespaces', { token: 'nope' });
    assert.equal(wrong.status, 401);
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) {
      const ok = await s.request('GET', p, { token: null });
      assert.equal(ok.status, 200, p);
    }
    const verbose = await s.request('GET', '/readyz?verbose', { token: null });
    assert.match(verbose.text, /\[\+\]etcd ok/);
  });

  it('serves Prometheus metrics to authenticated users: requests by verb, resource and code', async () => {
    await s.request('GET', '/api/v1/namespaces');
    await s.request('GET', '/api/v1/namespaces/default/configmaps/absent');
    assert.equal((await s.request('GET', '/metrics', { token: null })).status, 401);
    const r = await s.request('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /^apiserver_request_total\{verb="list",resource="namespaces",code="200"\} [1-9]/m);
    assert.match(r.text, /^apiserver_request_total\{verb="get",resource="configmaps",code="404"\} 1$/m);
    assert.match(
      r.text,
      /^apiserver_request_duration_seconds_count\{verb="list",resource="namespaces"\} [1-9]/m,
    );
    assert.match(r.text, /^apiserver_current_inflight_requests\{request_kind="watches"\} 0$/m);
  });

  it('serves the version kubectl dispatchers read', async () => {
    const r = await s.request('GET', '/version');
    assert.equal(r.json['major'], '1');
    assert.equal(r.json['minor'], '32');
  });

  it('serves legacy discovery with subresources, short names and categories', async () => {
    const api = await s.request('GET', '/api');
    assert.deepEqual(api.json['versions'], ['v1']);
    const v1 = await s.request('GET', '/api/v1');
    const names = (v1.json['resources'] as { name: string }[]).map((r) => r.name);
    for (const n of [
      'pods',
      'pods/status',
      'pods/log',
      'pods/exec',
      'pods/binding',
      'namespaces/finalize',
      'networks',
    ]) {
      assert.ok(names.includes(n), `${n} is listed`);
    }
    const podsRes = (
      v1.json['resources'] as { name: string; shortNames?: string[]; categories?: string[] }[]
    ).find((r) => r.name === 'pods');
    assert.deepEqual(podsRes?.shortNames, ['po']);
    assert.ok(podsRes?.categories?.includes('all'));
    const apis = await s.request('GET', '/apis');
    assert.equal(apis.json['kind'], 'APIGroupList');
    assert.equal(apis.headers['vary'], 'Accept');
  });

  it('serves aggregated discovery only when asked, with the content type client-go checks', async () => {
    const accept =
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
    const r = await s.request('GET', '/api', { accept });
    assert.equal(
      r.headers['content-type'],
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    assert.equal(r.json['kind'], 'APIGroupDiscoveryList');
    const items = r.json['items'] as {
      metadata: { name?: string };
      versions: { resources: { resource: string; responseKind: unknown }[] }[];
    }[];
    assert.equal(items[0]?.metadata.name, undefined, 'the core group has no name');
    const pods = items[0]?.versions[0]?.resources.find((x) => x.resource === 'pods');
    assert.deepEqual(pods?.responseKind, { group: '', version: 'v1', kind: 'Pod' });
    const beta = await s.request('GET', '/apis', {
      accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json',
    });
    assert.equal(
      beta.headers['content-type'],
      'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
    );
    const legacy = await s.request('GET', '/api', { accept: 'application/json, */*' });
    assert.equal(legacy.json['kind'], 'APIVersions');
  });

  it('has the bootstrap namespaces', async () => {
    const r = await s.request('GET', '/api/v1/namespaces');
    const names = r.json.items?.map((i) => (i['metadata'] as { name: string }).name);
    assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  });

  it('serves OpenAPI v2 and the v3 index', async () => {
    const v2 = await s.request('GET', '/openapi/v2', { accept: 'application/json' });
    assert.equal(v2.status, 200);
    const pb = await s.request('GET', '/openapi/v2', {
      accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf',
    });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    const v3 = await s.request('GET', '/openapi/v3');
    assert.equal(v3.status, 200);
    assert.ok(typeof v3.json['paths'] === 'object');
  });
});

describe('API server limits', () => {
  it('answers 429 with Retry-After beyond the in-flight limit, but never for watches', async () => {
    const s = await startInProcessServer({ maxRequestsInFlight: 1 });
    try {
      // A create whose body has not arrived yet holds the only slot.
      const slow = httpRequest(`${s.baseUrl}/api/v1/namespaces/default/configmaps`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer test-admin-token',
          'content-type': 'application/json',
          'content-length': '200',
        },
      });
      const slowDone = new Promise<number>((resolve, reject) => {
        slow.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        slow.on('error', reject);
      });
      slow.write('{"apiVersion":"v1",');
      const refused = await waitFor(
        async () => {
          const r = await s.request('GET', '/api/v1/namespaces/default/configmaps');
          return r.status === 429 ? r : false;
        },
        { timeoutMs: 10_000, description: 'a 429' },
      );
      assert.equal(refused.json['reason'], 'TooManyRequests');
      assert.equal(refused.headers['retry-after'], '1');
      const w = await s.watch('/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0');
      assert.equal(w.status, 200, 'watches are not limited');
      w.stop();
      const rest = '"kind":"ConfigMap","metadata":{"name":"slow"}}';
      slow.end(rest.padEnd(200 - '{"apiVersion":"v1",'.length, ' '));
      assert.equal(await slowDone, 201);
      const after = await s.request('GET', '/api/v1/namespaces/default/configmaps/slow');
      assert.equal(after.status, 200);
    } finally {
      await s.close();
    }
  });
});

describe('API server under concurrent writes', () => {
  for (const backend of ['memory', 'sqlite'] as const) {
    it(`loses no patch and lets one of two conflicting updates win (${backend})`, async () => {
      const s = await startInProcessServer({ store: backend });
      try {
        const path = '/api/v1/namespaces/default/configmaps';
        const created = await s.request('POST', path, { body: cm('hot', {}) });
        assert.equal(created.status, 201);
        const patches = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            s.request('PATCH', `${path}/hot`, {
              body: { data: { [`k${i}`]: String(i) } },
              contentType:
                i % 2 === 0 ? 'application/merge-patch+json' : 'application/strategic-merge-patch+json',
            }),
          ),
        );
        assert.ok(
          patches.every((p) => p.status === 200),
          JSON.stringify(patches.map((p) => p.status)),
        );
        const after = await s.request('GET', `${path}/hot`);
        assert.equal(Object.keys(after.json['data'] as object).length, 30);
        const rvs = new Set(
          patches.map((p) => (p.json['metadata'] as { resourceVersion: string }).resourceVersion),
        );
        assert.equal(rvs.size, 30, 'every patch is its own write');

        const base = after.json;
        const [a, b] = await Promise.all([
          s.request('PUT', `${path}/hot`, { body: { ...base, data: { winner: 'a' } } }),
          s.request('PUT', `${path}/hot`, { body: { ...base, data: { winner: 'b' } } }),
        ]);
        assert.deepEqual([a.status, b.status].sort(), [200, 409]);
        const final = await s.request('GET', `${path}/hot`);
        assert.equal((final.json['data'] as { winner: string }).winner, a.status === 200 ? 'a' : 'b');
      } finally {
        await s.close();
      }
    });
  }
});
