/**
 * Dropout keyed by each example's global position: an example draws the same masks whatever batch,
 * padding or worker it is in, so 1, 2 and 4 workers follow the same trajectory with dropout 0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensors } from '../shared/model/safetensors.js';
import { dropoutMultipliers } from '../shared/model/dropout_masks.js';
import { cli } from './run_cli.js';

test('dropout multipliers: an example\'s masks do not depend on its batch neighbours or its padding; about `rate` dropped', () => {
  const rate = 0.1, D = 16;
  // examples 7 and 9 together with 3 tokens each, then example 9 alone padded to 5 tokens
  const pair = dropoutMultipliers([2 * 3, D], Uint32Array.from([7, 9]), 4, rate);
  const alone = dropoutMultipliers([5, D], Uint32Array.from([9]), 4, rate);
  assert.deepEqual(pair.subarray(3 * D, 6 * D), alone.subarray(0, 3 * D));
  assert.notDeepEqual(pair.subarray(0, 3 * D), pair.subarray(3 * D, 6 * D), 'two examples draw different masks');
  assert.notDeepEqual(dropoutMultipliers([3, D], Uint32Array.from([9]), 5, rate), alone.subarray(0, 3 * D), 'another call site, another mask');
  // attention probabilities (B, H, T, S): padding T and S leaves the real block alone
  const small = dropoutMultipliers([1, 2, 3, 3], Uint32Array.from([9]), 2, rate);
  const padded = dropoutMultipliers([1, 2, 4, 5], Uint32Array.from([9]), 2, rate);
  for (let h = 0; h < 2; h++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++)
    assert.equal(small[(h * 3 + i) * 3 + j], padded[(h * 4 + i) * 5 + j]);
  const big = dropoutMultipliers([64 * 100, 128], Uint32Array.from({ length: 64 }, (_, i) => i * 1000), 1, rate);
  const dropped = big.filter((x) => x === 0).length / big.length;
  assert.ok(Math.abs(dropped - rate) < 0.002, `dropped ${dropped}`);
  assert.ok(big.every((x) => x === 0 || Math.abs(x - 1 / (1 - rate)) < 1e-6));
  assert.throws(() => dropoutMultipliers([5, D], Uint32Array.from([1, 2]), 1, rate), /5 rows are not a whole number of rows for 2 examples/);
});

async function params(checkpoint: string): Promise<Float32Array> {
  const { tensors } = await readSafetensors(path.join(checkpoint, 'model.safetensors'));
  return Float32Array.from([...tensors.values()].flatMap((t) => [...(t.data as Float32Array)]));
}

function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += ((a[i] as number) - (b[i] as number)) ** 2; n += (a[i] as number) ** 2; }
  return Math.sqrt(d / n);
}

test('1, 2 and 4 workers follow the same trajectory with dropout 0.1 (losses within 1e-3 relative, weights within 1e-4 relative L2)', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsi-dropout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (workers: number, dropout: string): Promise<{ losses: number[]; checkpoint: string }> => {
    const r = await cli(['start', '--workers', String(workers), '--dropout', dropout, '--steps', '6', '--batch-size', '8', '--warmup-steps', '2',
      '--metrics-port', '-1', '--no-nats', '--no-timeline', '--max-queries', '2', '--json', '--run-dir', path.join(dir, `${workers}-${dropout}`)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { losses: number[]; checkpoint: string };
  };
  const one = await run(1, '0.1');
  const plain = await run(1, '0');
  assert.ok(one.losses.some((l, i) => Math.abs(l - (plain.losses[i] as number)) > 1e-3 * Math.abs(l)), 'dropout 0.1 changes the losses (it is on)');
  const w1 = await params(one.checkpoint);
  for (const n of [2, 4]) {
    const other = await run(n, '0.1');
    one.losses.forEach((l, i) => assert.ok(Math.abs(l - (other.losses[i] as number)) < 1e-3 * Math.abs(l), `${n} workers, step ${i + 1}: loss ${other.losses[i]} vs ${l} (1 worker)`));
    const d = relL2(w1, await params(other.checkpoint));
    assert.ok(d < 1e-4, `${n} workers: relative L2 weight difference ${d}`);
  }
});
