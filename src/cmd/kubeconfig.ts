/**
 * `h8s kubeconfig`: prints the admin kubeconfig the server wrote into its data dir, optionally
 * pointing it at another server URL (`--server https://host:6443`) for use from another machine.
 * Per-user kubeconfigs with the `h8s credential` exec plugin come with the identity service.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

function usage(): string {
  return [
    'Usage: h8s kubeconfig [--data-dir DIR] [--server URL]',
    '',
    'Prints the admin kubeconfig of the h8s server that uses DIR (default /var/lib/h8s).',
    '',
    'Flags:',
    '  --data-dir DIR  The server data directory (env H8S_DATA_DIR)',
    '  --server URL    Server URL to put into the kubeconfig, e.g. https://10.0.0.5:6443',
  ].join('\n');
}

export async function kubeconfigMain(argv: readonly string[]): Promise<number> {
  let dataDir = process.env['H8S_DATA_DIR'] || '/var/lib/h8s';
  let server: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') {
      console.log(usage());
      return 0;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') {
      console.error(`h8s kubeconfig: flag ${name} needs a value`);
      return 2;
    }
    if (name === '--data-dir') dataDir = value;
    else if (name === '--server') server = value;
    else {
      console.error(`h8s kubeconfig: unknown flag "${name}"; run "h8s kubeconfig --help"`);
      return 2;
    }
  }
  if (server !== undefined && !/^https:\/\/[^/\s]+$/.test(server)) {
    console.error(`h8s kubeconfig: invalid --server "${server}": expected https://host:port`);
    return 2;
  }
  const path = join(resolve(dataDir), 'kubeconfig.yaml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      console.error(
        `h8s kubeconfig: no admin kubeconfig at "${path}"; start the server first: h8s server --data-dir ${dataDir}`,
      );
    } else {
      console.error(`h8s kubeconfig: cannot read "${path}": ${(err as Error).message}`);
    }
    return 1;
  }
  if (server !== undefined) {
    // Loaded only here: printing the file as it is must not pay for a YAML parser at start.
    const { parse: parseYaml, stringify: stringifyYaml } = await import('yaml');
    const doc = parseYaml(text) as { clusters?: { cluster?: { server?: string } }[] };
    for (const c of doc.clusters ?? []) if (c.cluster) c.cluster.server = server;
    text = stringifyYaml(doc);
  }
  process.stdout.write(text);
  return 0;
}
