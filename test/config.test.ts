/** The one config schema: defaults < file < env < flags; errors name the key and what to fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, positionals, withoutFlags } from '../shared/runtime/config.js';

test('precedence: a config file beats defaults, env beats the file, flags beat env', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'run.json');
  writeFileSync(file, JSON.stringify({ train: { steps: 11, mode: 'qlora' }, lora: { targets: ['q', 'v', 'wo'] }, runtime: { seed: 3 } }));
  const fromFile = loadConfig({ args: ['--config', file], env: {} });
  assert.equal(fromFile.train.steps, 11);
  assert.equal(fromFile.train.mode, 'qlora');
  assert.deepEqual(fromFile.lora.targets, ['q', 'v', 'wo']);
  assert.equal(fromFile.train.batchSize, 128);                      // untouched default (the recipe's)
  const envWins = loadConfig({ args: ['--config', file], env: { DSI_SEED: '9', DSI_STEPS: '12' } });
  assert.equal(envWins.runtime.seed, 9);
  assert.equal(envWins.train.steps, 12);
  const flagWins = loadConfig({ args: ['--config', file, '--steps', '13'], env: { DSI_STEPS: '12' } });
  assert.equal(flagWins.train.steps, 13);
  assert.equal(flagWins.train.mode, 'qlora');
});

test('errors say which key and what to do', () => {
  assert.throws(() => loadConfig({ args: ['--batch-size', '30', '--workers', '4'], env: {} }), /train\.batchSize.*30 is not divisible by workers x accumulate = 4/);
  assert.throws(() => loadConfig({ args: ['--wire', 'fp8'], env: {} }), /cluster\.wire/);
  assert.throws(() => loadConfig({ args: ['--config', '/nonexistent/run.json'], env: {} }), /config.*\/nonexistent\/run\.json does not exist/);
});

test('positionals skip flag values but keep the words of a query', () => {
  assert.deepEqual(positionals(['--run-dir', 'runs/x', 'what is dsi', '--json', '--beam-size=5', 'second']), ['what is dsi', 'second']);
});

test('withoutFlags drops a command\'s own flags with their values, in either form, and keeps the rest', () => {
  assert.deepEqual(withoutFlags(['--rounds', '3', '--steps', '10', '--only=a,b', '--json', '--workers', '2'], ['rounds', 'only', 'workers']), ['--steps', '10', '--json']);
  assert.deepEqual(withoutFlags(['--roundsx', '1'], ['rounds']), ['--roundsx', '1'], 'another flag that starts alike stays (loadConfig names it)');
});
