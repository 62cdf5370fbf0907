import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkAgentCredentials, resolveAgentConfig } from './agent.js';
import { ConfigError } from './flags.js';

describe('h8s agent configuration', () => {
  it('layers defaults < environment < flags', () => {
    const { config } = resolveAgentConfig(
      [
        '--node-name',
        'n1',
        '--kubeconfig',
        '/etc/h8s/node.yaml',
        '--node-labels',
        'site=lab,h8s.io/pool=sip',
      ],
      { H8S_AGENT_MAX_PODS: '50', H8S_AGENT_NODE_NAME: 'from-env' },
    );
    assert.equal(config['node-name'], 'n1');
    assert.equal(config['max-pods'], 50);
    assert.equal(config['runtime-endpoint'], 'unix:///run/h8s/runtime.sock');
    assert.deepEqual(config['node-labels'], { site: 'lab', 'h8s.io/pool': 'sip' });
    assert.doesNotThrow(() => checkAgentCredentials(config));
    assert.ok(Object.isFrozen(config));
  });

  it('plumbs the pod network by default as root, and not when told none', () => {
    const args = ['--node-name', 'n1', '--kubeconfig', '/etc/h8s/node.yaml'];
    const { config } = resolveAgentConfig(args, {});
    assert.equal(config['pod-network'], process.getuid?.() === 0 ? 'plumbed' : 'none');
    assert.equal(resolveAgentConfig([...args, '--pod-network', 'none'], {}).config['pod-network'], 'none');
    assert.equal(resolveAgentConfig(args, { H8S_AGENT_POD_NETWORK: 'none' }).config['pod-network'], 'none');
    assert.throws(() => resolveAgentConfig([...args, '--pod-network', 'flannel'], {}), /must be one of/);
  });

  it('takes a server URL with a token file instead of a kubeconfig', () => {
    const { config } = resolveAgentConfig(
      ['--server', 'https://10.0.0.1:6443', '--token-file', '/etc/h8s/token', '--ca-file', '/etc/h8s/ca.pem'],
      {},
    );
    assert.equal(config.server, 'https://10.0.0.1:6443');
    assert.equal(config['token-file'], '/etc/h8s/token');
    assert.doesNotThrow(() => checkAgentCredentials(config));
  });

  it('names what is wrong', () => {
    const fails = (argv: string[], re: RegExp) =>
      assert.throws(
        () => checkAgentCredentials(resolveAgentConfig(argv, {}).config),
        (e: unknown) => e instanceof ConfigError && re.test((e as Error).message),
      );
    fails([], /Missing credentials/);
    fails(
      ['--kubeconfig', '/k', '--server', 'https://a:1', '--token-file', '/t'],
      /either --kubeconfig or --server/,
    );
    fails(['--server', 'http://a:1', '--token-file', '/t'], /expected https:\/\/host:port/);
    fails(['--server', 'https://a:1'], /--server needs --token-file/);
    fails(['--kubeconfig', '/k', '--node-name', 'Bad_Name'], /Invalid node-name "Bad_Name"/);
    fails(['--kubeconfig', '/k', '--node-ip', '10.0.0.300'], /Invalid node-ip "10.0.0.300"/);
    fails(['--kubeconfig', '/k', '--runtime-endpoint', 'tcp://x:1'], /expected unix:\/\/\//);
    fails(['--kubeconfig', '/k', '--node-labels', 'novalue'], /expected key=value/);
    fails(['--kubeconfig', '/k', '--node-labels', 'kubernetes.io/role=x'], /reserved/);
    fails(['--kubeconfig', '/k', '--max-pods', '0'], /at least 1/);
  });
});
