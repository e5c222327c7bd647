/**
 * `start --workers N --mode full|lora|qlora [--prune] [--wire fp32|fp16|bf16] [--accumulate K]` on the
 * bundled sample: every mode with every wire format, with and without pruning and accumulation, each
 * a short real 2-worker run that must finish, checkpoint and evaluate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './run_cli.js';

const MODES = ['full', 'lora', 'qlora'] as const;
const WIRES = ['fp32', 'fp16', 'bf16'] as const;

for (const mode of MODES) {
  test(`--mode ${mode}: each wire format, pruning on the bf16 run, accumulation 2 on the fp16 run`, async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `dsi-combo-${mode}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const wire of WIRES) {
      const extra = wire === 'bf16' ? ['--prune', '0.3', '--prune-begin', '1', '--prune-end', '3', '--prune-every', '2'] : wire === 'fp16' ? ['--accumulate', '2'] : [];
      const runDir = path.join(dir, wire);
      const r = await cli(['start', '--workers', '2', '--mode', mode, '--wire', wire, ...extra, '--steps', '4', '--batch-size', '8',
        '--max-queries', '2', '--checkpoint-every', '0', '--no-nats', '--run-dir', runDir, '--json']);
      assert.equal(r.code, 0, `${mode}/${wire}: ${r.stderr.slice(-2000)}`);
      const s = JSON.parse(r.stdout) as { steps: number; wire: string; mode: string; losses: number[]; checkpoint: string; eval: { queries: number }; pruning?: { masks: unknown[] } };
      assert.equal(s.steps, 4);
      assert.equal(s.wire, wire);
      assert.equal(s.mode, mode);
      assert.ok(s.losses.every((l) => Number.isFinite(l)), `${mode}/${wire}: losses ${JSON.stringify(s.losses)}`);
      assert.ok(existsSync(path.join(s.checkpoint, 'trainer_state.json')));
      assert.equal(s.eval.queries, 2);
      if (wire === 'bf16') assert.equal(s.pruning?.masks.length, 2);
    }
  });
}
