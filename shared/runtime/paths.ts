/**
 * Where the repository's bundled files are, found from this module's own location so that the
 * same code works from the sources (shared/runtime/paths.ts) and from the build (dist/shared/runtime/paths.js).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `start` that holds package.json. */
function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json at or above ${start}: cannot locate the repository root`);
    dir = parent;
  }
}

/** Absolute path of the repository root (the folder with package.json and data/). */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** The shipped T5 tokenizer folder (see data/t5-tokenizer/MANIFEST.txt). */
export const DEFAULT_TOKENIZER_DIR = join(REPO_ROOT, 'data', 't5-tokenizer');

/** The bundled MS MARCO sample: 1,000 joined query/passage lines (see data/msmarco-sample/MANIFEST.txt). */
export const SAMPLE_JSONL = join(REPO_ROOT, 'data', 'msmarco-sample', 'dev_small_sample.jsonl');
