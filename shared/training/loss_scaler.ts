/**
 * Dynamic loss scaling for half-precision all-reduce (as in Micikevicius et al. 2018 / apex):
 * gradients are multiplied by the scale before going on the fp16/bf16 wire so small values survive;
 * an overflow anywhere skips the step on every worker and halves the scale; after `window` good
 * steps the scale doubles. With an fp32 wire the scale stays 1.
 */
export interface LossScalerState {
  scale: number;
  goodSteps: number;
}

const MIN_SCALE = 1;
const MAX_SCALE = 2 ** 24;

export class LossScaler {
  constructor(readonly state: LossScalerState, private readonly window: number) {}

  /** `goodSteps`: a resumed run's count since the scale last changed (checkpointGoodSteps), so it doubles when it would have. */
  static initial(wire: 'fp32' | 'fp16' | 'bf16', scale: number, window: number, goodSteps = 0): LossScaler {
    return new LossScaler({ scale: wire === 'fp32' ? 1 : scale, goodSteps: wire === 'fp32' ? 0 : goodSteps }, window);
  }

  get scale(): number {
    return this.state.scale;
  }

  /** Record the all-reduce's outcome; returns true when the step must be skipped. */
  update(overflow: boolean): boolean {
    if (overflow) {
      this.state.scale = Math.max(MIN_SCALE, this.state.scale / 2);
      this.state.goodSteps = 0;
      return true;
    }
    this.state.goodSteps += 1;
    if (this.state.goodSteps >= this.window && this.state.scale > 1) {
      this.state.scale = Math.min(MAX_SCALE, this.state.scale * 2);
      this.state.goodSteps = 0;
    }
    return false;
  }
}

/**
 * The good steps since the scale last changed, as the coordinator stored them in a checkpoint's run
 * config (cluster_state.lossScaleGoodSteps); 0 for checkpoints written before it did.
 */
export function checkpointGoodSteps(runConfig: unknown): number {
  const cs = runConfig && typeof runConfig === 'object' ? (runConfig as { cluster_state?: { lossScaleGoodSteps?: unknown } }).cluster_state : undefined;
  const n = cs?.lossScaleGoodSteps;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}
