/**
 * Checkpoint folders of a run: runs/<id>/checkpoints/step-00000020/, each written atomically
 * (temporary folder, fsync'd files, rename) with the sha256 of every file in trainer_state.json;
 * the newest K are kept. A resume takes the newest one whose files match their checksums.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readVerifiedState, type TrainerStateFile } from '../../shared/training/checkpoint.js';
import { CheckpointWriteError, ConfigError } from '../../shared/runtime/errors.js';

const CHECKPOINTS = 'checkpoints';
const STEP_DIR = /^step-(\d{8})$/;

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, CHECKPOINTS, `step-${String(step).padStart(8, '0')}`);
}

/** Checkpoint folders of the run, newest first. */
export function listCheckpoints(runDir: string): Array<{ step: number; dir: string }> {
  const root = path.join(runDir, CHECKPOINTS);
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((n) => {
    const m = STEP_DIR.exec(n);
    return m ? [{ step: Number(m[1]), dir: path.join(root, n) }] : [];
  }).sort((a, b) => b.step - a.step);
}

/** A checkpoint folder's trainer_state.json once every file matched its checksum, or why it is not usable. */
function verifiedState(dir: string): { state: TrainerStateFile } | { problem: string } {
  try {
    return { state: readVerifiedState<TrainerStateFile>(dir) };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

/**
 * The newest valid checkpoint and its verified trainer_state.json (each file hashed once, here); the
 * problems of newer invalid ones are returned for the log.
 */
export function newestValidCheckpoint(runDir: string): { dir: string; step: number; state: TrainerStateFile; skipped: string[] } | undefined {
  const skipped: string[] = [];
  for (const c of listCheckpoints(runDir)) {
    const v = verifiedState(c.dir);
    if ('state' in v) return { ...c, state: v.state, skipped };
    skipped.push(v.problem);
  }
  return undefined;
}

/** Removes all but the newest `keep` checkpoints. */
export function pruneCheckpoints(runDir: string, keep: number): string[] {
  const removed = listCheckpoints(runDir).slice(keep).map((c) => c.dir);
  for (const d of removed) rmSync(d, { recursive: true, force: true });
  return removed;
}

/** The checkpoint a finished run answers from: its newest valid one. */
export function runCheckpoint(runDir: string): string {
  const found = newestValidCheckpoint(runDir);
  if (!found) throw new ConfigError('run.dir', `${runDir} has no valid checkpoint under checkpoints/ (train with 'coordinator start --run-dir ${runDir}')`);
  return found.dir;
}

/** A failed checkpoint write, said for the operator: the cause, the step training stopped at, and what still resumes. */
export function checkpointWriteFailure(e: CheckpointWriteError, runDir: string, step: number): CheckpointWriteError {
  const cause = e.cause instanceof Error ? e.cause.message : e.message;
  const good = newestValidCheckpoint(runDir);
  const next = good ? `the newest good checkpoint, ${good.dir} (step ${good.step}), is intact: free space or fix the folder, then continue with --resume`
    : 'there is no earlier checkpoint to continue from';
  return new CheckpointWriteError(e.dir, `${cause}. Training stopped at step ${step}; ${next}`, { cause: e });
}
