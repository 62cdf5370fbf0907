/**
 * The protobuf decoder against what the real kubectl sends: each generator command runs with
 * kubectl 1.33 (protobuf body) and Debian's 1.20 (JSON body) against a loopback server, and
 * the decoded protobuf must equal the JSON for the same command.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { kubectlBinary, runKubectl } from '../testing/kubectl-binaries.js';
import { startKubectlTestServer, type KubectlTestServer } from '../testing/kubectl-test-server.js';
import { dropNullFields } from '../schema/unknown-fields.js';

let server: KubectlTestServer;

async function create(
  version: '1.33' | '1.20',
  args: string[],
): Promise<{ contentType: string; object: Record<string, unknown> }> {
  const before = server.requests.length;
  const r = await runKubectl(
    await kubectlBinary(version),
    server.kubeconfig,
    join(server.dir, `cache-${version}`),
    ['create', ...args],
  );
  if (r.code !== 0)
    assert.fail(
      `kubectl ${version} create ${args.join(' ')} failed (${r.code}): ${r.err}\n(temp dir ${server.dir})`,
    );
  const post = server.requests.slice(before).find((q) => q.method === 'POST');
  assert.ok(post, `kubectl ${version} sent no POST`);
  return { contentType: post.contentType, object: structuredClone(post.object) as Record<string, unknown> };
}

/** JSON from kubectl 1.20 carries nulls and empty values Go's decoder treats as absent. */
function normalize(obj: Record<string, unknown>): Record<string, unknown> {
  dropNullFields(obj);
  return obj;
}

const commands: [string, string[]][] = [
  ['namespace', ['namespace', 'ns-a']],
  ['configmap', ['configmap', 'cfg', '--from-literal=a=1', '--from-literal=b=two']],
  ['secret', ['secret', 'generic', 'pw', '--from-literal=password=s3cr3t', '--type=Opaque']],
  ['deployment', ['deployment', 'web', '--image=nginx:1.27', '--replicas=3', '--port=80']],
  ['service', ['service', 'clusterip', 'web', '--tcp=80:8080', '--tcp=443:8443']],
  ['job', ['job', 'pi', '--image=busybox', '--', 'sh', '-c', 'echo 3.14']],
  ['serviceaccount', ['serviceaccount', 'builder']],
  ['role', ['role', 'pod-reader', '--verb=get,list', '--resource=pods']],
  [
    'rolebinding',
    ['rolebinding', 'read-pods', '--role=pod-reader', '--user=jane', '--serviceaccount=default:builder'],
  ],
  ['clusterrole', ['clusterrole', 'node-reader', '--verb=get', '--resource=nodes']],
];

describe('protobuf bodies from kubectl 1.33', () => {
  before(async () => {
    server = await startKubectlTestServer();
  });

  after(async () => {
    await server.close();
  });

  for (const [what, args] of commands) {
    it(`decodes "kubectl create ${what}" to what kubectl 1.20 sends as JSON`, async () => {
      const pb = await create('1.33', args);
      assert.match(pb.contentType, /^application\/vnd\.kubernetes\.protobuf/);
      const json = await create('1.20', args);
      assert.match(json.contentType, /json|^$/);
      assert.deepEqual(pb.object, normalize(json.object));
    });
  }
});
