/**
 * VM templating (docs/hyper-runtime.md "VM templating", docs/adr/0005-vm-templating.md): one
 * VM per size boots to an idle guest agent with its RAM in a shared file, is paused, and its
 * device state is saved (QMP `migrate` with `x-ignore-shared`: the RAM stays in the file).
 * Clones map that file copy-on-write and restore the device state: they skip the boot, and
 * every page the guest kernel does not write after the restore stays shared by all clones.
 *
 * Layout: `<root>/<name>/{ram,state,template.json}`, where the name carries everything the
 * saved state depends on (guest build, size, accelerator, TCG buffer, kernel command line,
 * root ports, QEMU binary). A template is built in `<root>/.b-<random>/` and renamed into
 * place, so a crash never leaves a half-built template under a real name.
 *
 * Invariants: a template's files never change after the rename (clones map the RAM file
 * private; template VMs have no balloon, whose discards would punch holes into it); a
 * template that fails validation or a restore is deleted and rebuilt, never used; deleting a
 * template is safe while clones run (their mappings keep the unlinked file's pages).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import {
  bestEffort,
  internal,
  invalid,
  parseJson,
  parseWith,
  systemClock,
  systemExec,
  unlessMissing,
  type Clock,
  type Exec,
  type Logger,
} from '../../lib/index.js';
import { AgentConnection } from './agent-connection.js';
import { QemuVm, type GuestMachine, type VmCloneRam } from './qemu-vm.js';

/** Kernel flag of templated VMs: the agent reads the boot id only after the host's entropy. */
export const templateKernelFlag = 'h8s.template';

/** What a template is built with: the handler's machine (kernel arguments with `h8s.template`). */
export interface TemplateMachine extends GuestMachine {
  readonly bootTimeoutMs: number;
  readonly log: Logger;
  readonly clock?: Clock;
  /** How processes (QEMU, fallocate, dd) are spawned; default the real one. */
  readonly exec?: Exec;
}

export interface VmTemplateOptions extends TemplateMachine {
  /** `<handler root>/templates`. Short: the builder's unix sockets live below it. */
  readonly root: string;
  /** Guest build hash (kernel + initramfs). */
  readonly buildId: string;
  /** After a failed build, cold boots are used for this long before the next try. Default 60 s. */
  readonly retryAfterMs?: number;
  /**
   * Most templates kept (one per VM size). Sizes beyond it boot cold: pods asking for many
   * distinct sizes must not make the node build and keep a template for each. Default 4.
   */
  readonly maxTemplates?: number;
}

const TemplateMetaSchema = Type.Object({
  schema: Type.Literal(1),
  name: Type.String({ maxLength: 200 }),
  cpus: Type.Integer({ minimum: 1 }),
  memoryMiB: Type.Integer({ minimum: 1 }),
  ramBytes: Type.Integer({ minimum: 0 }),
  ramSha256: Type.String({ maxLength: 64 }),
  stateBytes: Type.Integer({ minimum: 1 }),
  stateSha256: Type.String({ maxLength: 64 }),
  builtAtMs: Type.Number(),
  buildMs: Type.Number(),
});

export interface VmTemplate {
  readonly name: string;
  readonly dir: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** How a clone maps it (VmSpec.ram). */
  readonly ram: VmCloneRam;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Hashes a template's RAM file, then drops what the read put in the page cache (the holes
 * read as zero pages, pages no clone maps): otherwise the check alone would keep the whole
 * guest size resident. Pages clones map stay.
 */
async function sha256Ram(path: string, exec: Exec): Promise<string> {
  const digest = await sha256File(path);
  // only a page-cache hint: the digest above is what matters
  await exec.execFile(['dd', `if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { check: false });
  return digest;
}

/**
 * The boot sectors of a bzImage and the first 4 KiB of its payload: enough for QEMU to accept
 * it as `-kernel` for a clone, which restores its RAM instead of booting. @throws Invalid
 */
export async function kernelStub(kernel: string): Promise<Buffer> {
  const image = await readFile(kernel);
  if (image.length < 0x260 || image.toString('latin1', 0x202, 0x206) !== 'HdrS')
    throw invalid(`Guest kernel "${kernel}" is not a bzImage`);
  const setupSects = image[0x1f1] || 4;
  const keep = (setupSects + 1) * 512 + 4096;
  if (keep > image.length) throw invalid(`Guest kernel "${kernel}" is shorter than its header says`);
  return image.subarray(0, keep);
}

export class VmTemplates {
  readonly #o: VmTemplateOptions;
  readonly #clock: Clock;
  /** Builds (and first validations) in flight, one per name. */
  readonly #inflight = new Map<string, Promise<VmTemplate | undefined>>();
  /** Templates validated by this process (the RAM hash is checked once per process). */
  readonly #valid = new Map<string, VmTemplate>();
  readonly #failedAt = new Map<string, number>();
  #keyHash: Promise<string> | undefined;
  #closed = false;

  constructor(o: VmTemplateOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  get root(): string {
    return this.#o.root;
  }

  get kernelArgs(): readonly string[] {
    return this.#o.kernelArgs;
  }

  /** What the saved state depends on besides the size and the guest build. */
  #hash(): Promise<string> {
    this.#keyHash ??= (async () => {
      const q = await unlessMissing(stat(this.#o.qemuBinary));
      const h = createHash('sha256');
      h.update(
        JSON.stringify([
          this.#o.kernelArgs,
          this.#o.rootPorts,
          this.#o.qemuBinary,
          this.#o.kernel,
          this.#o.initrd,
          q ? [q.size, q.mtimeMs] : [],
        ]),
      );
      return h.digest('hex').slice(0, 8);
    })();
    return this.#keyHash;
  }

  /** Directory name of the template of a size. */
  async nameFor(size: { cpus: number; memoryMiB: number }): Promise<string> {
    const build = this.#o.buildId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12) || 'nobuild';
    return `${build}-${size.cpus}c${size.memoryMiB}m-${this.#o.accel}-tb${this.#o.tbSizeMiB}-${await this.#hash()}`;
  }

  /**
   * The template of a size: validated from disk, or built now (one build per name at a time).
   * Undefined when templating is closed or a build failed recently (the caller cold-boots).
   */
  async get(
    size: { cpus: number; memoryMiB: number },
    signal?: AbortSignal,
  ): Promise<VmTemplate | undefined> {
    if (this.#closed) return undefined;
    const name = await this.nameFor(size);
    const known = this.#valid.get(name);
    if (known) return known;
    const failed = this.#failedAt.get(name);
    if (failed !== undefined && this.#clock.monotonicMs() - failed < (this.#o.retryAfterMs ?? 60_000))
      return undefined;
    let p = this.#inflight.get(name);
    if (!p) {
      p = this.#loadOrBuild(name, size).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, p);
    }
    if (!signal) return p;
    signal.throwIfAborted();
    return Promise.race([
      p,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
      ),
    ]);
  }

  async #loadOrBuild(
    name: string,
    size: { cpus: number; memoryMiB: number },
  ): Promise<VmTemplate | undefined> {
    const dir = join(this.#o.root, name);
    try {
      const t = await this.#validate(name, size);
      if (t) {
        this.#valid.set(name, t);
        return t;
      }
    } catch (err) {
      this.#o.log.warn('VM template is corrupt; rebuilding it', { template: name, err: err as Error });
      await rm(dir, { recursive: true, force: true });
    }
    const others = ((await unlessMissing(readdir(this.#o.root))) ?? []).filter(
      (n) => !n.startsWith('.') && n !== name,
    );
    if (others.length >= (this.#o.maxTemplates ?? 4)) {
      this.#o.log.info('No VM template for this size: the template limit is reached', {
        template: name,
        templates: others.length,
      });
      this.#failedAt.set(name, this.#clock.monotonicMs());
      return undefined;
    }
    try {
      const t = await this.#build(name, size);
      this.#valid.set(name, t);
      this.#failedAt.delete(name);
      return t;
    } catch (err) {
      this.#failedAt.set(name, this.#clock.monotonicMs());
      this.#o.log.warn('Building a VM template failed; VMs of this size boot cold', {
        template: name,
        err: err as Error,
      });
      return undefined;
    }
  }

  /** A template on disk that matches its record; undefined when absent. @throws when it is corrupt */
  async #validate(name: string, size: { cpus: number; memoryMiB: number }): Promise<VmTemplate | undefined> {
    const dir = join(this.#o.root, name);
    let text: string;
    try {
      text = await readFile(join(dir, 'template.json'), 'utf8');
    } catch {
      if (await unlessMissing(stat(dir))) throw internal(`Template "${name}" has no template.json`);
      return undefined;
    }
    const meta = parseWith(TemplateMetaSchema, parseJson(text, 'template.json'), `template "${name}"`);
    if (meta.name !== name || meta.cpus !== size.cpus || meta.memoryMiB !== size.memoryMiB)
      throw internal(`Template "${name}" records another size or name`);
    const ram = join(dir, 'ram');
    const state = join(dir, 'state');
    const [rs, ss] = await Promise.all([stat(ram), stat(state), stat(join(dir, 'kernel-stub'))]);
    if (rs.size !== size.memoryMiB * 1024 * 1024 || rs.size !== meta.ramBytes)
      throw internal(`Template "${name}": RAM file has ${rs.size} bytes, expected ${meta.ramBytes}`);
    if (ss.size !== meta.stateBytes)
      throw internal(`Template "${name}": state file has ${ss.size} bytes, expected ${meta.stateBytes}`);
    const [rh, sh] = await Promise.all([sha256Ram(ram, this.#o.exec ?? systemExec), sha256File(state)]);
    if (rh !== meta.ramSha256 || sh !== meta.stateSha256)
      throw internal(`Template "${name}": RAM or state does not match its recorded hash`);
    return this.#ref(name, size);
  }

  #ref(name: string, size: { cpus: number; memoryMiB: number }): VmTemplate {
    const dir = join(this.#o.root, name);
    return {
      name,
      dir,
      cpus: size.cpus,
      memoryMiB: size.memoryMiB,
      ram: {
        mode: 'clone',
        file: join(dir, 'ram'),
        stateFile: join(dir, 'state'),
        template: name,
        kernelStub: join(dir, 'kernel-stub'),
      },
    };
  }

  async #build(name: string, size: { cpus: number; memoryMiB: number }): Promise<VmTemplate> {
    const started = this.#clock.monotonicMs();
    await mkdir(this.#o.root, { recursive: true, mode: 0o700 });
    const tmp = join(this.#o.root, `.b-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { mode: 0o700 });
    const log = this.#o.log;
    let vm: QemuVm | undefined;
    try {
      this.#o.log.info('Building a VM template', { template: name });
      vm = await QemuVm.launch(
        {
          vmId: `tpl-${name.slice(0, 40)}`,
          dir: tmp,
          qemuBinary: this.#o.qemuBinary,
          kernel: this.#o.kernel,
          initrd: this.#o.initrd,
          cpus: size.cpus,
          memoryMiB: size.memoryMiB,
          accel: this.#o.accel,
          tbSizeMiB: this.#o.tbSizeMiB,
          rootPorts: this.#o.rootPorts,
          kernelArgs: this.#o.kernelArgs,
          // The template's pages are everyone's: never charged to a pod's cgroup.
          useCgroup: false,
          ram: { mode: 'template', file: join(tmp, 'ram') },
        },
        {
          log,
          ...(this.#o.clock ? { clock: this.#o.clock } : {}),
          ...(this.#o.exec ? { exec: this.#o.exec } : {}),
        },
      );
      // Wait for the idle agent, without entropy: whatever the template holds, every clone holds.
      const conn = await AgentConnection.connect(
        {
          socketPath: vm.ctlSocket,
          log,
          ...(this.#o.clock ? { clock: this.#o.clock } : {}),
          lastEventSeq: 0,
          sendEntropy: false,
          onEvent: () => {},
          onViolation: (reason) => log.error('Guest agent of a template VM broke the protocol', { reason }),
        },
        { timeoutMs: this.#o.bootTimeoutMs },
      );
      if (conn.hello.bootId) {
        conn.close();
        throw internal(
          'The guest agent does not support templating (it read its boot id before any entropy)',
        );
      }
      conn.close();
      await vm.saveTemplateState(join(tmp, 'state'));
      await vm.stop(2000);
      vm = undefined;
      for (const f of ['qmp.sock', 'ctl.sock', 'con.sock', 'vm.json'])
        await rm(join(tmp, f), { force: true });
      const ram = join(tmp, 'ram');
      const state = join(tmp, 'state');
      // The agent zeroed the guest's free memory (channel.c, template_prepare): zero pages
      // become holes, so the template keeps only what the guest kernel uses.
      await (this.#o.exec ?? systemExec)
        .execFile(['fallocate', '--dig-holes', ram])
        .catch((err: unknown) =>
          log.warn('Cannot punch the zero pages out of a VM template', { template: name, err: err as Error }),
        );
      // Written back now, so the page cache can drop what no clone maps (sha256Ram).
      const fh = await open(ram, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const [rs, ss] = await Promise.all([stat(ram), stat(state)]);
      if (ss.size === 0) throw internal('QEMU wrote an empty template state');
      const meta = {
        schema: 1 as const,
        name,
        cpus: size.cpus,
        memoryMiB: size.memoryMiB,
        ramBytes: rs.size,
        ramSha256: await sha256Ram(ram, this.#o.exec ?? systemExec),
        stateBytes: ss.size,
        stateSha256: await sha256File(state),
        builtAtMs: this.#clock.now(),
        buildMs: Math.round(this.#clock.monotonicMs() - started),
      };
      await writeFile(join(tmp, 'template.json'), JSON.stringify(meta, null, 2), { mode: 0o600 });
      await writeFile(join(tmp, 'kernel-stub'), await kernelStub(this.#o.kernel), { mode: 0o400 });
      // Nobody writes a template after this point (clones map it private).
      await chmod(ram, 0o400);
      await chmod(state, 0o400);
      const dest = join(this.#o.root, name);
      await rm(dest, { recursive: true, force: true });
      await rename(tmp, dest);
      log.info('VM template ready', { template: name, buildMs: meta.buildMs, stateBytes: ss.size });
      return this.#ref(name, size);
    } catch (err) {
      if (vm) await bestEffort(log, `stop the VM of failed template ${name}`, vm.stop(0));
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Deletes a template that failed a restore; the next `get` rebuilds it. */
  async invalidate(name: string, reason: string): Promise<void> {
    this.#o.log.warn('VM template failed; deleting it', { template: name, reason });
    this.#valid.delete(name);
    await rm(join(this.#o.root, name), { recursive: true, force: true });
  }

  /**
   * Removes half-built templates and templates of other guest builds or settings (start-up
   * GC). Running clones keep their pages (the files are only unlinked).
   */
  async gc(keepSizes: readonly { cpus: number; memoryMiB: number }[] = []): Promise<void> {
    const keep = new Set(await Promise.all(keepSizes.map((s) => this.nameFor(s))));
    const prefix = (await this.nameFor({ cpus: 1, memoryMiB: 1 })).split('-')[0] ?? '';
    const hash = await this.#hash();
    let names: string[];
    try {
      names = await readdir(this.#o.root);
    } catch {
      return;
    }
    for (const n of names) {
      if (keep.has(n) || this.#inflight.has(n)) continue;
      if (n.startsWith('.b-') && this.#inflight.size > 0) continue;
      const current =
        n.startsWith(`${prefix}-`) && n.endsWith(`-${hash}`) && n.includes(`-${this.#o.accel}-`);
      if (current && !n.startsWith('.')) continue;
      this.#o.log.info('Removing a stale VM template', { template: n });
      await rm(join(this.#o.root, n), { recursive: true, force: true });
    }
  }

  /** Stops templating and deletes every template (uninstall, tests). */
  async removeAll(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight.values()]);
    this.#valid.clear();
    await rm(this.#o.root, { recursive: true, force: true });
  }
}

/**
 * Templating for a handler's VMs: the templates root, stale templates removed (other guest
 * builds or settings). Templated VMs boot with `h8s.template` on their kernel command line.
 */
export async function openVmTemplates(
  boot: TemplateMachine,
  o: { root: string; buildId: string; keepSizes: readonly { cpus: number; memoryMiB: number }[] },
): Promise<VmTemplates> {
  const t = new VmTemplates({
    root: o.root,
    buildId: o.buildId,
    qemuBinary: boot.qemuBinary,
    kernel: boot.kernel,
    initrd: boot.initrd,
    kernelArgs: [...boot.kernelArgs, templateKernelFlag],
    accel: boot.accel,
    tbSizeMiB: boot.tbSizeMiB,
    rootPorts: boot.rootPorts,
    bootTimeoutMs: boot.bootTimeoutMs,
    log: boot.log,
    ...(boot.clock ? { clock: boot.clock } : {}),
    ...(boot.exec ? { exec: boot.exec } : {}),
  });
  await t.gc(o.keepSizes);
  return t;
}
