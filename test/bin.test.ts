/**
 * The package's two executables from a build: `npx coordinator` and `npx worker` run these files
 * through their shebang, so they must be executable. tsc writes new files without the x bit, and npm
 * links a package's bins before its `prepare` builds them, so on a fresh clone nothing else sets it
 * (seen: `sh: 1: coordinator: Permission denied` after `npm install` with npm 11). `npm run build` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

test('the bins of package.json are executable after the build and run as this project\'s commands', () => {
  assert.deepEqual(Object.keys(pkg.bin).sort(), ['coordinator', 'worker']);
  for (const [name, file] of Object.entries(pkg.bin)) {
    const full = path.join(REPO_ROOT, file);
    assert.ok((statSync(full).mode & 0o111) === 0o111, `${file} (${name}) is not executable: run 'npm run build'`);
    // run through its shebang, as npx does, not through `node FILE`
    const r = spawnSync(full, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, name === 'coordinator' ? /^usage: coordinator / : /^usage: worker --coordinator /m);
  }
});
