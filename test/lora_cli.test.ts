/** `coordinator start --mode qlora` and `search` on its run, as a user runs them: real processes, real files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './run_cli.js';


test('start --mode qlora trains only the adapters, checkpoints them in PEFT\'s layout, and search uses base + adapters', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-qlora-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runDir = path.join(dir, 'run');
  const r = await cli(['start', '--workers', '1', '--mode', 'qlora', '--lora-targets', 'q,v,wo', '--steps', '6', '--warmup-steps', '0', '--lr', '1e-2',
    '--max-queries', '4', '--run-dir', runDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { mode: string; steps: number; loss_first: number; loss_last: number; memory: Record<string, number>; checkpoint: string };
  assert.equal(s.mode, 'qlora');
  assert.equal(s.steps, 6);
  // t5-tiny, r = 8: q and v of 6 attentions (D = H*Kv = 128) and wo of 4 feed-forwards (F = 512, D = 128)
  const trainable = 6 * 2 * 8 * (128 + 128) + 4 * 8 * (512 + 128);
  assert.equal(s.memory['trainable_parameters'], trainable);
  assert.equal(s.memory['optimizer_state_bytes'], 8 * trainable);
  assert.ok(s.loss_last < s.loss_first, `loss ${s.loss_first} -> ${s.loss_last}`);
  const ck = s.checkpoint;
  assert.ok(ck.startsWith(runDir), ck);
  for (const f of ['model.safetensors', 'adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'merged/model.safetensors', 'optimizer.safetensors'])
    assert.ok(existsSync(path.join(ck, f)), f);
  const adapterConfig = JSON.parse(readFileSync(path.join(ck, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(adapterConfig['target_modules'], ['q', 'v', 'wo']);

  const q = await cli(['search', '--run-dir', runDir, 'what is the capital of france', '--json']);
  assert.equal(q.code, 0, q.stderr);
  const res = JSON.parse(q.stdout) as { results: Array<{ docid: string }> };
  assert.equal(res.results.length, 10);
});

test('a LoRA target that does not exist is refused by name, exit 2', async () => {
  const bad = await cli(['start', '--mode', 'lora', '--lora-targets', 'q,x', '--steps', '1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /lora\.targets.*'x' is not one of q, k, v, o, wi, wo/);
});
