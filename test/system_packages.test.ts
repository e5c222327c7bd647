/**
 * `npm test` on a machine without the Debian packages the tests need stops at once with one message
 * naming them and the command that installs them (.ci/system-packages --check, the script's first
 * step after the build), instead of failing test by test. A fake dpkg-query on PATH plays the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';

const SCRIPT = path.join(REPO_ROOT, '.ci', 'system-packages');

/** Runs `--check` where dpkg-query reports `absent` as not installed and every other package as installed. */
function check(absent: string[]): { status: number | null; stderr: string; stdout: string } {
  const bin = mkdtempSync(path.join(os.tmpdir(), 'dsi-dpkg-'));
  try {
    // dpkg-query -W -f='${Status}' PKG
    writeFileSync(path.join(bin, 'dpkg-query'), `#!/bin/sh\nfor a; do p="$a"; done\ncase " ${absent.join(' ')} " in *" $p "*) exit 1;; esac\nprintf 'install ok installed'\n`);
    chmodSync(path.join(bin, 'dpkg-query'), 0o755);
    const r = spawnSync('bash', [SCRIPT, '--check'], { env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

test('system packages: missing ones stop npm test with one message naming them and the install command', () => {
  const r = check(['chromium', 'prometheus']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /missing here: prometheus chromium\. Install them as root: bash \.ci\/system-packages/);
  assert.deepEqual(check([]), { status: 0, stderr: '', stdout: '' });
  // npm test runs the check after the build and before any test
  const scripts = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts['test'] ?? '', /^npm run build && bash \.ci\/system-packages --check && node --test /);
});
