/**
 * The real kubectl (1.33, 1.27 from the image; Debian's 1.20) against a real `h8s server`
 * (control plane only): apply of the seed's manifests, get in every output format, watch,
 * describe, label/annotate, the three patch types, scale, edit, explain, the create
 * generators, server-side apply, get all, api-resources, server dry-run and deletion.
 * One server serves all three versions; each version works in its own namespace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnProcess, waitFor } from '../../src/lib/index.js';
import {
  kubectlBinaries,
  kubectlCacheDir,
  kubectlFor,
  startServerProcess,
  type Kubectl,
  type ServerProcess,
} from './helpers/api-server.js';

let server: ServerProcess;
const cacheDirs: string[] = [];
const versions = ['1.33', '1.27', '1.20'] as const;
const clients = new Map<string, Kubectl>();

before(async () => {
  const bins = await kubectlBinaries(versions);
  server = await startServerProcess();
  for (const bin of bins) {
    const dir = await kubectlCacheDir(bin.version);
    cacheDirs.push(dir);
    clients.set(bin.version, kubectlFor(bin, server, dir));
  }
});

after(async () => {
  if (server) {
    if (process.exitCode) {
      console.error(`data dir ${server.dataDir}\n--- server output ---\n${server.output().slice(-6000)}`);
    }
    await server.cleanup();
  }
  for (const d of cacheDirs) await rm(d, { recursive: true, force: true });
});

/** The seed's Network + Namespace plus a Deployment, Services, a ConfigMap and a Secret. */
function manifest(suffix: string, changed = false): string {
  return `apiVersion: v1
kind: Network
metadata:
  name: net-${suffix}
spec:
  tenantID: tenant-${suffix}
  subnets:
    subnet2:
      cidr: 192.168.0.0/24
      gateway: 192.168.0.1
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns-${suffix}
spec:
  network: net-${suffix}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ns-${suffix}
  labels:
    app: web
spec:
  replicas: ${changed ? 3 : 2}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:${changed ? '1.27' : '1.25'}
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ns-${suffix}
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: nginx-external
  namespace: ns-${suffix}
spec:
  type: NetworkProvider
  externalIPs:
  - 10.10.0.${10 + versions.findIndex((v) => v.replace('.', '') === suffix)}
  selector:
    app: web
  ports:
  - port: 8080
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ns-${suffix}
data:
  mode: ${changed ? 'safe' : 'fast'}
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: ns-${suffix}
type: Opaque
data:
  password: aHVudGVyMg==
`;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

for (const version of versions) {
  describe(`kubectl ${version}`, () => {
    const suffix = version.replace('.', '');
    const ns = `ns-${suffix}`;
    let k: Kubectl;
    let file: string;
    before(async () => {
      const c = clients.get(version);
      if (!c) throw new Error(`kubectl ${version} was not set up`);
      k = c;
      file = join(server.dataDir, `manifest-${suffix}.yaml`);
    });

    it('applies the multi-document manifest, then reports it unchanged, then configures the changes', async () => {
      await writeFile(file, manifest(suffix));
      const first = lines(await k.ok(['apply', '-f', file]));
      assert.deepEqual(first, [
        `network/net-${suffix} created`,
        `namespace/${ns} created`,
        'deployment.apps/web created',
        'service/web created',
        'service/nginx-external created',
        'configmap/settings created',
        'secret/creds created',
      ]);
      const second = lines(await k.ok(['apply', '-f', file]));
      assert.deepEqual(second, [
        `network/net-${suffix} unchanged`,
        `namespace/${ns} unchanged`,
        'deployment.apps/web unchanged',
        'service/web unchanged',
        'service/nginx-external unchanged',
        'configmap/settings unchanged',
        'secret/creds unchanged',
      ]);
      await writeFile(file, manifest(suffix, true));
      const third = lines(await k.ok(['apply', '-f', file]));
      assert.deepEqual(third, [
        `network/net-${suffix} unchanged`,
        `namespace/${ns} unchanged`,
        'deployment.apps/web configured',
        'service/web unchanged',
        'service/nginx-external unchanged',
        'configmap/settings configured',
        'secret/creds unchanged',
      ]);
      const image = await k.ok([
        'get',
        'deployment',
        'web',
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]);
      assert.equal(image, 'nginx:1.27');
    });

    it('gets tables with the columns users know', async () => {
      const deploy = lines(await k.ok(['get', 'deployments', '-n', ns]));
      assert.match(deploy[0] ?? '', /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
      assert.match(deploy[1] ?? '', /^web\s+\d+\/3\s+\d+\s+\d+\s+\S+$/);
      const svc = lines(await k.ok(['get', 'services', '-n', ns]));
      assert.match(svc[0] ?? '', /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
      assert.ok(
        svc.some((l) => /^nginx-external\s+NetworkProvider\s/.test(l)),
        svc.join('\n'),
      );
      const nets = lines(await k.ok(['get', 'networks', `net-${suffix}`]));
      assert.match(nets[0] ?? '', /^NAME\s+TENANT\s+SUBNETS\s+PHASE\s+AGE$/);
      assert.match(
        nets[1] ?? '',
        new RegExp(`^net-${suffix}\\s+tenant-${suffix}\\s+subnet2=192\\.168\\.0\\.0/24\\s`),
      );
      const cms = lines(await k.ok(['get', 'cm', '-n', ns]));
      assert.match(cms[0] ?? '', /^NAME\s+DATA\s+AGE$/);
      const wide = lines(await k.ok(['get', 'deploy', '-n', ns, '-o', 'wide']));
      assert.match(wide[0] ?? '', /CONTAINERS\s+IMAGES\s+SELECTOR$/);
      assert.match(wide[1] ?? '', /web\s+nginx:1\.27\s+app=web$/);
      const allNs = lines(await k.ok(['get', 'cm', '-A', '--show-labels']));
      assert.match(allNs[0] ?? '', /^NAMESPACE\s+NAME\s+DATA\s+AGE\s+LABELS$/);
    });

    it('gets objects as yaml, json, jsonpath and names', async () => {
      const yaml = await k.ok(['get', 'cm', 'settings', '-n', ns, '-o', 'yaml']);
      assert.match(yaml, /^apiVersion: v1\n/);
      assert.match(yaml, /\n {2}mode: safe\n/);
      assert.match(yaml, /\n {2}resourceVersion: "\d+"\n/);
      const list = JSON.parse(await k.ok(['get', 'cm,secret', '-n', ns, '-o', 'json'])) as {
        kind: string;
        items: { kind: string; metadata: { name: string } }[];
      };
      assert.equal(list.kind, 'List');
      // Every namespace also gets the root-CA ConfigMap, a moment after it is created.
      const own = list.items.filter((i) => i.metadata.name !== 'kube-root-ca.crt');
      assert.deepEqual(own.map((i) => i.kind).sort(), ['ConfigMap', 'Secret']);
      const password = await k.ok(['get', 'secret', 'creds', '-n', ns, '-o', 'jsonpath={.data.password}']);
      assert.equal(Buffer.from(password, 'base64').toString(), 'hunter2');
      const names = lines(await k.ok(['get', 'deploy,svc', '-n', ns, '-o', 'name']));
      assert.deepEqual(names, ['deployment.apps/web', 'service/nginx-external', 'service/web']);
    });

    it('watches a change with get -w', async () => {
      const child = await spawnProcess([
        ...k.argv,
        'get',
        'configmap',
        'settings',
        '-n',
        ns,
        '-w',
        '--no-headers',
      ]);
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      try {
        await waitFor(() => lines(out).length >= 1, {
          timeoutMs: 30_000,
          description: 'the first get -w line',
        });
        await k.ok([
          'patch',
          'configmap',
          'settings',
          '-n',
          ns,
          '--type',
          'merge',
          '-p',
          '{"data":{"watched":"yes"}}',
        ]);
        await waitFor(() => lines(out).length >= 2, { timeoutMs: 30_000, description: 'the watched change' });
        assert.match(lines(out)[1] ?? '', /^settings\s+2\s+\S+$/);
      } finally {
        await child.stop(2_000);
      }
    });

    it('describes objects', async () => {
      const d = await k.ok(['describe', 'deployment', 'web', '-n', ns]);
      assert.match(d, /^Name:\s+web$/m);
      assert.match(d, /^Namespace:\s+ns-/m);
      assert.match(d, /Replicas:\s+3 desired/);
      const n = await k.ok(['describe', 'network', `net-${suffix}`]);
      assert.match(n, new RegExp(`^Name:\\s+net-${suffix}$`, 'm'));
    });

    it('labels and annotates', async () => {
      assert.equal(
        (await k.ok(['label', 'cm', 'settings', '-n', ns, 'tier=backend'])).trim(),
        'configmap/settings labeled',
      );
      // kubectl 1.27 prints "annotate" where the others print "annotated".
      assert.match(
        (await k.ok(['annotate', 'cm', 'settings', '-n', ns, 'owner=team-a'])).trim(),
        /^configmap\/settings annotated?$/,
      );
      const selected = lines(await k.ok(['get', 'cm', '-n', ns, '-l', 'tier=backend', '-o', 'name']));
      assert.deepEqual(selected, ['configmap/settings']);
      const owner = await k.ok([
        'get',
        'cm',
        'settings',
        '-n',
        ns,
        '-o',
        'jsonpath={.metadata.annotations.owner}',
      ]);
      assert.equal(owner, 'team-a');
      const overwrite = await k.run(['label', 'cm', 'settings', '-n', ns, 'tier=frontend']);
      assert.notEqual(overwrite.exitCode, 0, 'kubectl refuses to overwrite a label without --overwrite');
    });

    it('patches with --type json, merge and strategic', async () => {
      await k.ok([
        'patch',
        'cm',
        'settings',
        '-n',
        ns,
        '--type',
        'json',
        '-p',
        '[{"op":"add","path":"/data/json","value":"1"}]',
      ]);
      await k.ok(['patch', 'cm', 'settings', '-n', ns, '--type', 'merge', '-p', '{"data":{"merge":"2"}}']);
      await k.ok([
        'patch',
        'deployment',
        'web',
        '-n',
        ns,
        '--type',
        'strategic',
        '-p',
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}',
      ]);
      const data = JSON.parse(
        await k.ok(['get', 'cm', 'settings', '-n', ns, '-o', 'jsonpath={.data}']),
      ) as Record<string, string>;
      assert.equal(data['json'], '1');
      assert.equal(data['merge'], '2');
      const containers = JSON.parse(
        await k.ok(['get', 'deploy', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers}']),
      ) as { name: string; image: string }[];
      assert.equal(containers.length, 1);
      assert.equal(containers[0]?.image, 'nginx:1.28');
      const bad = await k.run([
        'patch',
        'cm',
        'settings',
        '-n',
        ns,
        '--type',
        'json',
        '-p',
        '[{"op":"remove","path":"/data/nope"}]',
      ]);
      assert.notEqual(bad.exitCode, 0);
    });

    it('scales a deployment', async () => {
      assert.equal(
        (await k.ok(['scale', 'deployment', 'web', '-n', ns, '--replicas=4'])).trim(),
        'deployment.apps/web scaled',
      );
      assert.equal(await k.ok(['get', 'deploy', 'web', '-n', ns, '-o', 'jsonpath={.spec.replicas}']), '4');
    });

    it('edits through KUBE_EDITOR', async () => {
      const editor = join(server.dataDir, `editor-${suffix}.sh`);
      await writeFile(editor, '#!/bin/sh\nsed -i "s/mode: safe/mode: edited/" "$1"\n');
      await chmod(editor, 0o755);
      const out = await k.ok(['edit', 'cm', 'settings', '-n', ns], {
        env: { KUBE_EDITOR: editor, EDITOR: editor },
      });
      assert.match(out, /configmap\/settings edited/);
      assert.equal(await k.ok(['get', 'cm', 'settings', '-n', ns, '-o', 'jsonpath={.data.mode}']), 'edited');
    });

    it('explains kinds from the OpenAPI documents', async () => {
      const out = await k.ok(['explain', 'deployment.spec.replicas']);
      assert.match(out, /KIND:\s+Deployment/);
      assert.match(out, /replicas/);
      const net = await k.ok(['explain', 'networks.spec']);
      assert.match(net, /KIND:\s+Network/);
    });

    it('creates with the generator commands', async () => {
      const gen = `gen-${suffix}`;
      assert.equal((await k.ok(['create', 'namespace', gen])).trim(), `namespace/${gen} created`);
      assert.equal(
        (await k.ok(['create', 'configmap', 'cfg', '-n', gen, '--from-literal=a=b'])).trim(),
        'configmap/cfg created',
      );
      assert.equal(
        (await k.ok(['create', 'secret', 'generic', 'sec', '-n', gen, '--from-literal=token=s3cr3t'])).trim(),
        'secret/sec created',
      );
      assert.equal(
        (await k.ok(['create', 'deployment', 'app', '-n', gen, '--image=busybox', '--replicas=2'])).trim(),
        'deployment.apps/app created',
      );
      assert.equal(
        (await k.ok(['create', 'service', 'clusterip', 'app', '-n', gen, '--tcp=80:8080'])).trim(),
        'service/app created',
      );
      assert.equal(
        await k.ok(['get', 'secret', 'sec', '-n', gen, '-o', 'jsonpath={.data.token}']),
        Buffer.from('s3cr3t').toString('base64'),
      );
      assert.equal(await k.ok(['get', 'deploy', 'app', '-n', gen, '-o', 'jsonpath={.spec.replicas}']), '2');
      // Deleting the namespace waits until the namespace controller has emptied it.
      assert.equal(
        (await k.ok(['delete', 'namespace', gen, '--timeout=120s'])).trim(),
        `namespace "${gen}" deleted`,
      );
      const gone = await k.run(['get', 'namespace', gen]);
      assert.match(gone.stderr, new RegExp(`namespaces "${gen}" not found`));
      const leftovers = await server.request('GET', `/api/v1/namespaces/${gen}/configmaps`);
      assert.deepEqual(leftovers.json.items ?? [], []);
    });

    it('applies server-side and reports field manager conflicts', async () => {
      const cfg = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: ${ns}\ndata:\n  a: "1"\n`;
      const path = join(server.dataDir, `ssa-${suffix}.yaml`);
      await writeFile(path, cfg);
      assert.equal(
        (await k.ok(['apply', '--server-side', '-f', path])).trim(),
        'configmap/ssa serverside-applied',
      );
      assert.equal(
        (await k.ok(['apply', '--server-side', '-f', path])).trim(),
        'configmap/ssa serverside-applied',
      );
      await writeFile(path, cfg.replace('a: "1"', 'a: "2"'));
      const conflict = await k.run(['apply', '--server-side', '--field-manager', 'other', '-f', path]);
      assert.notEqual(conflict.exitCode, 0);
      assert.match(conflict.stderr, /conflict/i);
      await k.ok(['apply', '--server-side', '--field-manager', 'other', '--force-conflicts', '-f', path]);
      assert.equal(await k.ok(['get', 'cm', 'ssa', '-n', ns, '-o', 'jsonpath={.data.a}']), '2');
    });

    it('lists everything with get all and the API with api-resources', async () => {
      const all = await k.ok(['get', 'all', '-n', ns]);
      assert.match(all, /service\/web\s/);
      assert.match(all, /deployment\.apps\/web\s/);
      const res = lines(await k.ok(['api-resources']));
      assert.match(res[0] ?? '', /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$/);
      assert.ok(
        res.some((l) => /^networks\s+net\s+v1\s+false\s+Network$/.test(l)),
        res.join('\n'),
      );
      assert.ok(res.some((l) => /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/.test(l)));
      assert.ok(res.some((l) => /^pods\s+po\s+v1\s+true\s+Pod$/.test(l)));
    });

    it('dry-runs on the server without storing anything', async () => {
      const out = await k.ok([
        'create',
        'configmap',
        'dry',
        '-n',
        ns,
        '--from-literal=a=b',
        '--dry-run=server',
      ]);
      assert.match(out, /configmap\/dry created \(server dry run\)/);
      const get = await k.run(['get', 'cm', 'dry', '-n', ns]);
      assert.notEqual(get.exitCode, 0);
      assert.match(get.stderr, /NotFound|not found/);
      const del = await k.ok(['delete', 'cm', 'settings', '-n', ns, '--dry-run=server']);
      assert.match(del, /configmap "settings" deleted \(server dry run\)/);
      await k.ok(['get', 'cm', 'settings', '-n', ns]);
    });

    it('deletes, including with --cascade=foreground', async () => {
      assert.equal(
        (await k.ok(['delete', 'cm', 'settings', '-n', ns])).trim(),
        'configmap "settings" deleted',
      );
      const gone = await k.run(['get', 'cm', 'settings', '-n', ns]);
      assert.match(gone.stderr, /configmaps "settings" not found/);
      const fg = await k.ok(['delete', 'deployment', 'web', '-n', ns, '--cascade=foreground'], {});
      assert.equal(fg.trim(), 'deployment.apps "web" deleted');
      const after = await k.run(['get', 'deployment', 'web', '-n', ns]);
      assert.notEqual(after.exitCode, 0);
      const missing = await k.run(['delete', 'cm', 'never-there', '-n', ns]);
      assert.match(missing.stderr, /Error from server \(NotFound\): configmaps "never-there" not found/);
    });
  });
}

describe('the examples', () => {
  it('apply as they are with kubectl 1.33', async () => {
    const k = clients.get('1.33');
    if (!k) throw new Error('kubectl 1.33 was not set up');
    const dir = new URL('../../examples/', import.meta.url).pathname;
    const out = lines(
      await k.ok([
        'apply',
        '-f',
        join(dir, 'tenant-network.yaml'),
        '-f',
        join(dir, 'nginx-network-provider.yaml'),
        '-f',
        join(dir, 'pod-cinder-volume.yaml'),
      ]),
    );
    assert.deepEqual(out, [
      'network/net2 created',
      'namespace/ns2 created',
      'deployment.apps/nginx created',
      'service/nginx created',
      'pod/nginx-with-volume created',
    ]);
    const volume = await k.ok([
      'get',
      'pod',
      'nginx-with-volume',
      '-n',
      'ns2',
      '-o',
      'jsonpath={.spec.volumes[0].cinder.volumeID}',
    ]);
    assert.equal(volume, '651b2a7b-683e-47e1-bdd6-e3c62e8f91c0');
  });
});
