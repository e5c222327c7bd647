/** The learning-rate schedule: warm-up, then constant or decay over the whole run or only its last steps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, type LrSchedule } from '../shared/training/schedule.js';

const base: LrSchedule = { peak: 1e-3, warmupSteps: 100, totalSteps: 1400, decay: 'linear', minRatio: 0.1 };

test('warm-up rises linearly to the peak, then linear decay reaches minRatio * peak at the last step', () => {
  assert.equal(learningRate(base, 0), 1e-5);
  assert.equal(learningRate(base, 99), 1e-3);
  assert.ok(Math.abs(learningRate(base, 1400) - 1e-4) < 1e-12);
  assert.ok(learningRate(base, 500) < 1e-3 && learningRate(base, 500) > 1e-4);
});

test('decaySteps keeps the rate at the peak until the last N steps, then decays over them (warm-up, stable, decay)', () => {
  const wsd: LrSchedule = { ...base, decaySteps: 400 };
  assert.equal(learningRate(wsd, 500), 1e-3);
  assert.equal(learningRate(wsd, 999), 1e-3);
  assert.equal(learningRate(wsd, 1000), 1e-3);                           // decay starts here: progress 0
  assert.ok(Math.abs(learningRate(wsd, 1200) - 1e-3 * (0.1 + 0.9 * 0.5)) < 1e-12);
  assert.ok(Math.abs(learningRate(wsd, 1400) - 1e-4) < 1e-12);
  // Longer than the run after warm-up: it decays from the end of warm-up, as without decaySteps.
  assert.equal(learningRate({ ...base, decaySteps: 5000 }, 700), learningRate(base, 700));
  // constant ignores it
  assert.equal(learningRate({ ...base, decay: 'constant', decaySteps: 400 }, 1300), 1e-3);
});
