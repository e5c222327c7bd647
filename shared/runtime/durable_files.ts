/**
 * Writes that survive a crash: a file fsynced before anything points at it, a folder fsynced after a
 * rename inside it. Model folders and training checkpoints (shared/model/hf_folder.ts,
 * shared/training/checkpoint.ts) and prepare's stage checkpoints (shared/dataset/prepare/work_dir.ts)
 * all build on these.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Writes a text file and fsyncs it. */
export function writeFileDurable(file: string, text: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Fsyncs a folder so that a rename inside it survives a crash. */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Writes `text` to a temporary name, fsyncs, renames it over `file` and fsyncs the folder. */
export function replaceFileDurable(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileDurable(tmp, text);
  renameSync(tmp, file);
  syncDirSync(path.dirname(file));
}
