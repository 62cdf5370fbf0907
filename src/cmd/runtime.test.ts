import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './flags.js';
import { resolveRuntimeConfig } from './runtime.js';

describe('h8s runtime configuration', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h8s-runtime-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('layers defaults < file < environment < flags', async () => {
    const file = join(dir, 'runtime.yaml');
    await writeFile(file, 'root: /from/file\npids-limit: 100\nhandlers: [runc]\nlog-max-files: 7\n');
    const { config } = resolveRuntimeConfig(['--config', file, '--pids-limit', '300'], {
      H8S_RUNTIME_PIDS_LIMIT: '200',
      H8S_RUNTIME_LOG_MAX_FILES: '9',
    });
    assert.equal(config.root, '/from/file');
    assert.equal(config['pids-limit'], 300);
    assert.equal(config['log-max-files'], 9);
    assert.deepEqual(config.handlers, ['runc']);
    assert.equal(config.listen, 'unix:///run/h8s/runtime.sock');
    assert.equal(config['images-root'], '/from/file/images');
    assert.equal(
      config['image-max-bytes'],
      8 * 1024 * 1024 * 1024,
      'an image unpacks to 8 GiB at most by default',
    );
    assert.equal(resolveRuntimeConfig(['--image-max-entries', '500'], {}).config['image-max-entries'], 500);
    assert.ok(Object.isFrozen(config));
  });

  it('names what is wrong', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'rooot: /x\n');
    const fails = (argv: string[], env: Record<string, string>, re: RegExp) =>
      assert.throws(
        () => resolveRuntimeConfig(argv, env),
        (e: unknown) => e instanceof ConfigError && re.test((e as Error).message),
      );
    fails(['--config', bad], {}, /Unknown key "rooot" in config file/);
    fails(['--nope', 'x'], {}, /Unknown flag --nope/);
    fails(['--handlers', 'hyper,kata'], {}, /"kata" is not one of hyper, runc/);
    fails([], { H8S_RUNTIME_PIDS_LIMIT: 'many' }, /environment variable H8S_RUNTIME_PIDS_LIMIT/);
    fails(['--listen', 'tcp://0.0.0.0:1'], {}, /expected unix:\/\/\/absolute\/path.sock/);
    fails(['--cgroup-parent', 'h8s'], {}, /must start with \//);
    fails(['--root'], {}, /needs a value/);
    fails(['--image-max-bytes', '0'], {}, /at least 1/);
  });
});
