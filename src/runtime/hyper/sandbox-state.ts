/**
 * What a hyper sandbox persists in its state directory (`hyper.json`): everything a restarted
 * daemon needs to re-adopt the VM and continue its streams and logs.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { parseJson, parseWith } from '../../lib/index.js';

const ContainerRecordSchema = Type.Object({
  id: Type.String(),
  disk: Type.String(),
  overlay: Type.String(),
  volumes: Type.Array(Type.String()),
  logPath: Type.String(),
  tty: Type.Boolean(),
  stdout: Type.Integer({ minimum: 0 }),
  stderr: Type.Integer({ minimum: 0 }),
  stdin: Type.Integer({ minimum: 0 }),
  /** Acknowledged offsets of the log streams (bytes the log has). */
  offsets: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  /** Streams whose CLOSE was consumed. */
  ended: Type.Array(Type.Integer()),
  started: Type.Boolean(),
  exitReported: Type.Boolean(),
});
export type ContainerRecord = Static<typeof ContainerRecordSchema>;

const SandboxStateSchema = Type.Object({
  schema: Type.Literal(1),
  vmId: Type.String(),
  vmDir: Type.String(),
  nextStreamId: Type.Integer({ minimum: 1 }),
  lastEventSeq: Type.Integer({ minimum: 0 }),
  nics: Type.Array(Type.String()),
  containers: Type.Record(Type.String(), ContainerRecordSchema),
  /** Host directories of `files` volumes copied into the guest (re-sent on syncPodFiles). */
  files: Type.Optional(Type.Array(Type.String())),
});
export type SandboxState = Static<typeof SandboxStateSchema>;

const fileName = 'hyper.json';

export async function readSandboxState(stateDir: string): Promise<SandboxState | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, fileName), 'utf8');
  } catch {
    return undefined;
  }
  return parseWith(
    SandboxStateSchema,
    parseJson(text, fileName),
    `sandbox state "${join(stateDir, fileName)}"`,
  );
}

/** Writes the state atomically (write + rename). */
export async function writeSandboxState(stateDir: string, state: SandboxState): Promise<void> {
  const tmp = join(stateDir, fileName + '.tmp');
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, join(stateDir, fileName));
}
