/** Learning rate as a pure function of the step: linear warm-up, then linear/cosine decay (over the whole run or its
 *  last `decaySteps`) or constant. */
import type { LrDecay } from '../runtime/config.js';

export interface LrSchedule {
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  decay: LrDecay;
  /** Final learning rate as a share of the peak. */
  minRatio: number;
  /** Steps at the end of the run over which the rate decays (warm-up, stable, decay); 0: every step after warm-up. */
  decaySteps?: number;
}

/** Learning rate of optimizer step `step` (0-based). */
export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  if (s.decay === 'constant') return s.peak;
  const decayStart = s.decaySteps ? Math.max(s.warmupSteps, s.totalSteps - s.decaySteps) : s.warmupSteps;
  if (step < decayStart) return s.peak;                              // the stable phase before a late decay
  const span = Math.max(1, s.totalSteps - decayStart);
  const progress = Math.min(1, (step - decayStart) / span);         // 0 -> 1 over the decay phase
  const shape = s.decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return s.peak * (s.minRatio + (1 - s.minRatio) * shape);
}
