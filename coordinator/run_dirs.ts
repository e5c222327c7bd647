/** Finding run folders: runs/<timestamp> by default, newest last in name order. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { ConfigError } from '../shared/runtime/errors.js';

/** The newest runs/<timestamp> folder that holds a checkpoint. */
export function latestRunDir(root = path.join(REPO_ROOT, 'runs')): string {
  const names = existsSync(root) ? readdirSync(root).filter((n) => /^\d{8}-\d{6}$/.test(n)).sort() : [];
  for (const n of names.reverse()) if (existsSync(path.join(root, n, 'checkpoints'))) return path.join(root, n);
  throw new ConfigError('run.dir', `no trained run under ${root}; train one with 'coordinator start' or pass --run-dir DIR`);
}
