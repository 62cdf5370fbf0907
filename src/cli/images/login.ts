/**
 * `hyperctl login [-u USER] [-p PASS | --password-stdin] [SERVER]` and `hyperctl logout [SERVER]`:
 * check credentials against the registry (through the image service, so the daemon's view of
 * the network is what counts) and keep them in the docker-style config.json. SERVER defaults
 * to Docker Hub. Passwords never reach a log or the terminal.
 */
import type { ImageService } from '../../runtime/index.js';
import { errorLine, parseFlags, type CommandIO } from './command-io.js';
import { configKey, normalizeRegistry, removeCredentials, storeCredentials } from './docker-config-file.js';

const loginUsage = 'Usage: hyperctl login [-u USERNAME] [-p PASSWORD | --password-stdin] [SERVER]\n';
const logoutUsage = 'Usage: hyperctl logout [SERVER]\n';

async function readAll(stdin: AsyncIterable<string | Uint8Array>, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c);
    n += b.length;
    if (n > max) throw new Error(`the password on stdin is longer than ${max} bytes`);
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function runLogin(
  images: ImageService,
  argv: readonly string[],
  io: CommandIO,
): Promise<number> {
  let username: string | undefined;
  let password: string | undefined;
  let server: string;
  try {
    const { flags, args } = parseFlags(argv, {
      username: { short: 'u', takesValue: true },
      password: { short: 'p', takesValue: true },
      'password-stdin': {},
      help: { short: 'h' },
    });
    if (flags.has('help')) {
      io.stdout.write(loginUsage);
      return 0;
    }
    if (args.length > 1) throw new Error('"login" takes at most 1 argument');
    const u = flags.get('username');
    const p = flags.get('password');
    username = typeof u === 'string' ? u.trim() : undefined;
    password = typeof p === 'string' ? p : undefined;
    if (flags.has('password-stdin')) {
      if (password !== undefined) throw new Error('--password and --password-stdin are mutually exclusive');
      if (username === undefined) throw new Error('must provide --username with --password-stdin');
      if (!io.stdin) throw new Error('--password-stdin given but there is no stdin');
      password = (await readAll(io.stdin, 64 * 1024)).replace(/\r?\n$/, '');
    } else if (password !== undefined) {
      io.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    }
    server = args[0] ?? 'docker.io';
  } catch (err) {
    io.stderr.write(`hyperctl login: ${(err as Error).message}\n${loginUsage}`);
    return 2;
  }
  if (!username || password === undefined || password === '') {
    io.stderr.write(
      'hyperctl login: a username and a password are required (-u USER and -p PASS or --password-stdin); interactive login is not supported\n',
    );
    return 1;
  }
  const registry = normalizeRegistry(server);
  try {
    if (images.checkLogin)
      await images.checkLogin(registry, { username, password }, io.signal ? { signal: io.signal } : {});
    else io.stderr.write('WARNING! The image service cannot check credentials; storing them unchecked.\n');
    await storeCredentials(io.authConfigPath, registry, username, password);
    io.stdout.write('Login Succeeded\n');
    return 0;
  } catch (err) {
    io.stderr.write(errorLine('login', err));
    return 1;
  }
}

export async function runLogout(
  _images: ImageService,
  argv: readonly string[],
  io: CommandIO,
): Promise<number> {
  let server: string;
  try {
    const { flags, args } = parseFlags(argv, { help: { short: 'h' } });
    if (flags.has('help')) {
      io.stdout.write(logoutUsage);
      return 0;
    }
    if (args.length > 1) throw new Error('"logout" takes at most 1 argument');
    server = args[0] ?? 'docker.io';
  } catch (err) {
    io.stderr.write(`hyperctl logout: ${(err as Error).message}\n${logoutUsage}`);
    return 2;
  }
  const registry = normalizeRegistry(server);
  try {
    if (await removeCredentials(io.authConfigPath, registry))
      io.stdout.write(`Removing login credentials for ${configKey(registry)}\n`);
    else io.stdout.write(`Not logged in to ${configKey(registry)}\n`);
    return 0;
  } catch (err) {
    io.stderr.write(errorLine('logout', err));
    return 1;
  }
}
