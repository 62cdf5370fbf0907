import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServerConfig } from './server.js';

describe('h8s server configuration', () => {
  it('has defaults that put everything under /var/lib/h8s', () => {
    const { config } = resolveServerConfig([], {});
    assert.equal(config['data-dir'], '/var/lib/h8s');
    assert.equal(config.datastore, 'sqlite:///var/lib/h8s/server/db/state.db');
    assert.equal(config.port, 6443);
    assert.equal(config['bind-address'], '0.0.0.0');
    assert.deepEqual(config.disable, []);
    assert.equal(config['log-level'], 'info');
    assert.equal(config['runtime-endpoint'], 'unix:///run/h8s/runtime.sock');
  });

  it('takes the default Network subnet from --cluster-cidr and refuses what is not a subnet', () => {
    assert.equal(resolveServerConfig([], {}).config['cluster-cidr'], '10.42.0.0/16');
    assert.equal(
      resolveServerConfig(['--cluster-cidr', '172.20.0.0/14'], {}).config['cluster-cidr'],
      '172.20.0.0/14',
    );
    for (const bad of ['10.42.0.0', '10.300.0.0/16', '10.42.0.0/28', 'fd00::/64']) {
      assert.throws(() => resolveServerConfig(['--cluster-cidr', bad], {}), /Invalid cluster-cidr/);
    }
  });

  it("keeps each data dir's runtime socket its own, and refuses node names the API would", () => {
    const { config } = resolveServerConfig(['--data-dir', '/srv/node-b', '--disable', 'scheduler'], {});
    assert.equal(config['runtime-endpoint'], 'unix:///srv/node-b/runtime.sock');
    assert.deepEqual(config.disable, ['scheduler']);
    assert.throws(() => resolveServerConfig(['--node-name', 'Node_1'], {}), /Invalid node-name "Node_1"/);
  });

  it('layers defaults < file < environment < flags', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-server-config-'));
    try {
      const file = join(dir, 'config.yaml');
      await writeFile(file, 'port: 7000\nlog-level: debug\ndata-dir: /srv/from-file\ndisable: [agent]\n');
      const { config } = resolveServerConfig(['--config', file, '--port', '9000', '--disable', 'runtime'], {
        H8S_PORT: '8000',
        H8S_DATA_DIR: '/srv/from-env',
      });
      assert.equal(config.port, 9000, 'flags win');
      assert.equal(config['data-dir'], '/srv/from-env', 'environment beats the file');
      assert.equal(config['log-level'], 'debug', 'the file beats defaults');
      assert.deepEqual(config.disable, ['runtime']);
      assert.equal(
        config.datastore,
        'sqlite:///srv/from-env/server/db/state.db',
        'the datastore follows the data dir',
      );
      const viaEnv = resolveServerConfig([], { H8S_CONFIG: file });
      assert.equal(viaEnv.config.port, 7000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes the service CIDR and node port range from flags, and refuses bad ones by name', () => {
    const { config } = resolveServerConfig([], {});
    assert.equal(config['service-cidr'], '10.43.0.0/16');
    assert.equal(config['service-node-port-range'], '30000-32767');
    const custom = resolveServerConfig(
      [
        '--service-cidr',
        '10.96.0.5/24',
        '--service-node-port-range',
        '31000-31999',
        '--advertise-address',
        '192.0.2.7',
      ],
      {},
    ).config;
    assert.equal(custom['service-cidr'], '10.96.0.0/24', 'host bits are cleared');
    assert.equal(custom['service-node-port-range'], '31000-31999');
    assert.equal(custom['advertise-address'], '192.0.2.7');
    assert.throws(
      () => resolveServerConfig(['--service-cidr', '10.43.0.0'], {}),
      /Invalid service CIDR "10\.43\.0\.0"/,
    );
    assert.throws(
      () => resolveServerConfig(['--service-cidr', 'fd00::/108'], {}),
      /only IPv4 service CIDRs are supported/,
    );
    assert.throws(
      () => resolveServerConfig(['--service-cidr', '10.0.0.0/8'], {}),
      /prefix length must be from \/12/,
    );
    assert.throws(
      () => resolveServerConfig([], { H8S_SERVICE_NODE_PORT_RANGE: '32767-30000' }),
      /Invalid node port range "32767-30000"/,
    );
    assert.throws(
      () => resolveServerConfig(['--advertise-address', 'host'], {}),
      /Invalid advertise-address/,
    );
  });

  it('accepts --flag=value and repeated list flags', () => {
    const { config } = resolveServerConfig(
      ['--port=6444', '--tls-san', 'a.example', '--tls-san=10.0.0.1,b.example'],
      {},
    );
    assert.equal(config.port, 6444);
    assert.deepEqual(config['tls-san'], ['a.example', '10.0.0.1', 'b.example']);
  });

  it('names what is wrong: unknown flags and keys, bad values and their source', async () => {
    assert.throws(() => resolveServerConfig(['--prot', '1'], {}), /Unknown flag --prot/);
    assert.throws(
      () => resolveServerConfig(['--port', '70000'], {}),
      /Invalid port "70000" from flag --port/,
    );
    assert.throws(() => resolveServerConfig([], { H8S_PORT: 'x' }), /from environment variable H8S_PORT/);
    assert.throws(() => resolveServerConfig(['--disable', 'kubelet,agent'], {}), /"kubelet" is not one of/);
    assert.throws(
      () => resolveServerConfig(['--log-level', 'loud'], {}),
      /must be one of debug, info, warn, error/,
    );
    assert.throws(() => resolveServerConfig(['--port'], {}), /needs a value/);
    const dir = await mkdtemp(join(tmpdir(), 'h8s-server-config-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, 'port: 1\nprot: 2\n');
      assert.throws(() => resolveServerConfig(['--config', file], {}), /Unknown key "prot" in config file/);
      assert.throws(
        () => resolveServerConfig(['--config', join(dir, 'missing.yaml')], {}),
        /Cannot read config file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
