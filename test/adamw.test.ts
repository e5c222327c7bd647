/** AdamW against the textbook update, step by step, with rows a step does not touch (the skipped path). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamWStep, newAdamWState } from '../shared/training/adamw.js';
import { Rng } from '../shared/runtime/random.js';
import type { ParamLayout } from '../shared/model/params.js';

test('AdamW equals the plain update (decoupled decay, bias correction), also for rows without gradient', () => {
  const rows = 12, D = 4, n = rows * D + 6;
  const layout = {
    specs: [
      { name: 'shared.weight', shape: [rows, D], hfShape: [rows, D], transposed: false, size: rows * D, offset: 0, decay: true, initStd: 1 },
      { name: 'norm.weight', shape: [6], hfShape: [6], transposed: false, size: 6, offset: rows * D, decay: false, initStd: 0 },
    ],
  } as unknown as ParamLayout;
  const o = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 };
  const rng = new Rng(5);
  const params = Float32Array.from({ length: n }, () => rng.nextNormal());
  const ref = Array.from(params, (x) => x), m = new Array<number>(n).fill(0), v = new Array<number>(n).fill(0);
  const state = newAdamWState(n);
  for (let t = 1; t <= 6; t++) {
    // rows 0-3 every step, rows 4-7 only at step 2, rows 8-11 never (and the norm every step)
    const grad = Float32Array.from({ length: n }, (_, i) => {
      const row = Math.floor(i / D);
      return i >= rows * D || row < 4 || (row < 8 && t === 2) ? rng.nextNormal() * 0.1 : 0;
    });
    const lr = 1e-2;
    adamWStep(layout, params, grad, state, lr, o);
    for (let i = 0; i < n; i++) {
      const g = grad[i] as number;
      m[i] = o.beta1 * (m[i] as number) + (1 - o.beta1) * g;
      v[i] = o.beta2 * (v[i] as number) + (1 - o.beta2) * g * g;
      const mhat = (m[i] as number) / (1 - o.beta1 ** t), vhat = (v[i] as number) / (1 - o.beta2 ** t);
      const decay = i < rows * D ? 1 - lr * o.weightDecay : 1;
      ref[i] = (ref[i] as number) * decay - (lr * mhat) / (Math.sqrt(vhat) + o.epsilon);
    }
    for (let i = 0; i < n; i++) assert.ok(Math.abs((params[i] as number) - (ref[i] as number)) < 1e-5, `step ${t}, element ${i}: ${params[i]} vs ${ref[i]}`);
  }
  // rows 8-11 had no gradient ever: weight decay alone moved them
  assert.ok(Math.abs((params[8 * D] as number) - (ref[8 * D] as number)) < 1e-6);
  assert.equal(state.m[8 * D], 0);
});
