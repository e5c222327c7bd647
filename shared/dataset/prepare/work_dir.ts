/**
 * The work folder of `prepare` and its stage checkpoints: what lets a killed run (SIGKILL, OOM, power)
 * resume instead of starting over.
 *
 * The folder sits beside --out as `.NAME.prepare-KEY`, KEY a hash of everything that decides the output:
 * the options that shape the data (not --overwrite, the logger or checkpoint intervals), the tokenizer's
 * sha256, and each input file's path, size and mtime. A later run with the same KEY finds the folder and
 * resumes; one with another KEY removes the stale folder (logged) and starts fresh. A successful publish
 * removes the folder.
 *
 * A stage that finishes writes `checkpoint.STAGE.json` ({ key, stage, data }) through a temporary name,
 * fsync and rename, then fsyncs the folder: a checkpoint on disk means the stage's files were already
 * made durable. A checkpoint that cannot be read, or names another KEY, counts as missing.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import type { JsonValue } from '../format.js';
import type { StageRecord, Stages } from './progress.js';
import type { SourceFile } from '../sources/lines.js';
import { replaceFileDurable, syncDirSync } from '../../runtime/durable_files.js';

/** The checkpointed stages in run order; a stage's checkpoint is only used when every earlier one is. */
export const CHECKPOINTS = ['read', 'docids', 'augment', 'bm25', 'examples-progress', 'examples'] as const;
export type Checkpoint = (typeof CHECKPOINTS)[number];

const PID_FILE = 'owner.pid';
/** Work folders open in this process: a second run here with the same KEY must not share one. */
const openHere = new Set<string>();

/**
 * The work folder's KEY: sha256 (first 16 hex digits) of `options` (the output-shaping options, as JSON
 * with sorted keys), `tokenizerSha256` and each input file's resolved path, size and mtime.
 */
export async function workKey(options: Record<string, JsonValue>, tokenizerSha256: string, files: readonly SourceFile[]): Promise<string> {
  const inputs = [];
  for (const f of files) {
    const info = await stat(f.path);
    inputs.push({ role: f.role, path: resolve(f.path), bytes: info.size, mtime_ms: info.mtimeMs });
  }
  const sorted = Object.fromEntries(Object.entries(options).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify({ options: sorted, tokenizer: tokenizerSha256, inputs })).digest('hex').slice(0, 16);
}

export class WorkDir {
  /** Stages restored from their checkpoints by stage(), in order. */
  readonly restored: Checkpoint[] = [];
  /** Set once a stage runs: every later stage runs too (its inputs were made anew). */
  private running = false;
  /** The first stage this run did itself, when it resumed (for the log and the manifest). */
  resumedAt: string | undefined;

  private constructor(readonly dir: string, readonly key: string, readonly log: Logger) {}

  /**
   * `stage`, restored from its checkpoint while every earlier stage was, else run and checkpointed.
   * `run` does the work and returns its value and the data to record (JSON); `restore` rebuilds the
   * value from that data and throws when it cannot (a file missing or cut short): the stage is then
   * run, and so is every later one. The checkpoint also keeps `stages`' records (for the manifest).
   */
  async stage<T, D>(stage: Checkpoint, stages: Stages, restore: (data: D) => T | Promise<T>, run: () => Promise<{ value: T; data: D }>): Promise<T> {
    if (!this.running) {
      const saved = this.read(stage) as { result: D; stages: StageRecord[] } | undefined;
      if (saved !== undefined) {
        try {
          const value = await restore(saved.result);
          stages.records.splice(0, stages.records.length, ...saved.stages);
          this.restored.push(stage);
          this.log.info({ stage }, 'stage restored from its checkpoint');
          return value;
        } catch (err) {
          this.log.warn({ stage, err: (err as Error).message }, 'checkpoint unusable: the stage is redone');
        }
      }
      this.running = true;
      this.dropFrom(stage);
      this.resumed(stage);
    }
    const { value, data } = await run();
    this.save(stage, { result: data, stages: stages.records } as unknown as JsonValue);
    this.log.info({ stage }, 'checkpoint saved');
    return value;
  }

  /**
   * The work folder of `out` for `key`: reused when it exists (its checkpoints are resumed), else made.
   * Folders of other keys for the same `out` are removed. Refuses while a live process holds it.
   */
  static async open(out: string, key: string, log: Logger): Promise<WorkDir> {
    const target = resolve(out);
    const parent = dirname(target);
    await mkdir(parent, { recursive: true });
    const prefix = `.${basename(target)}.prepare-`;
    for (const entry of await readdir(parent)) {
      if (!entry.startsWith(prefix) || entry === prefix + key) continue;
      const stale = join(parent, entry);
      if (ownerAlive(stale)) continue;   // another run's, in use: not ours to remove
      log.info({ path: stale }, 'removing the work folder of a prepare with other options or inputs');
      await rm(stale, { recursive: true, force: true });
    }
    const dir = join(parent, prefix + key);
    await mkdir(dir, { recursive: true });
    const owner = readOwner(dir);
    if (openHere.has(dir) || (owner !== undefined && owner !== process.pid && alive(owner))) {
      throw new InputError(dir, undefined, undefined, `in use by prepare process ${owner ?? process.pid} (same --out, options and inputs): wait for it or stop it`);
    }
    openHere.add(dir);
    replaceFileDurable(join(dir, PID_FILE), `${process.pid}\n`);
    return new WorkDir(dir, key, log);
  }

  /** The saved data of `stage`, or undefined when there is none or it cannot be read (logged). */
  read(stage: Checkpoint): unknown {
    const file = this.file(stage);
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
    try {
      const c = JSON.parse(text) as { key?: unknown; stage?: unknown; data?: unknown };
      if (c.key !== this.key || c.stage !== stage || c.data === undefined) throw new Error('names another run or stage');
      return c.data;
    } catch (err) {
      this.log.warn({ file, err: (err as Error).message }, 'checkpoint unreadable: the stage is redone');
      return undefined;
    }
  }

  /** Logs once that the run resumed at `stage`, when it restored any stage before it. */
  resumed(stage: string, fields: Record<string, JsonValue> = {}): void {
    if (this.resumedAt !== undefined || this.restored.length === 0) return;
    this.resumedAt = stage;
    this.log.info({ stage, restored: this.restored, ...fields }, 'prepare resumed');
  }

  /** Records `stage` done with `data` (durable when this returns). */
  save(stage: Checkpoint, data: JsonValue): void {
    replaceFileDurable(this.file(stage), JSON.stringify({ key: this.key, stage, data }) + '\n');
  }

  /** Removes the checkpoints of `stage` and every later stage (their work is redone). */
  dropFrom(stage: Checkpoint): void {
    for (const s of CHECKPOINTS.slice(CHECKPOINTS.indexOf(stage))) rmSync(this.file(s), { force: true });
    syncDirSync(this.dir);
  }

  /** Deletes the folder (after a successful publish, or a run that checkpointed nothing). */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    this.release();
  }

  /** Lets another run of this process open the folder (it stays on disk). */
  release(): void {
    openHere.delete(this.dir);
  }

  /** Whether any stage has been checkpointed (a failed run keeps the folder only then). */
  hasCheckpoints(): boolean {
    return CHECKPOINTS.some((s) => this.exists(s));
  }

  private exists(stage: Checkpoint): boolean {
    try { readFileSync(this.file(stage)); return true; } catch { return false; }
  }

  private file(stage: Checkpoint): string {
    return join(this.dir, `checkpoint.${stage}.json`);
  }
}

function readOwner(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ownerAlive(dir: string): boolean {
  const pid = readOwner(dir);
  return pid !== undefined && pid !== process.pid && alive(pid);
}

/**
 * True unless `pid` names no process (ESRCH) or, where /proc tells, a zombie: a killed prepare whose
 * parent has not reaped it (a container without an init process) must not hold its folder forever.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    // /proc/PID/stat: "pid (comm) state ...", comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
