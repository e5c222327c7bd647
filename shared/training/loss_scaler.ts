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

  static initial(wire: 'fp32' | 'fp16' | 'bf16', scale: number, window: number): LossScaler {
    return new LossScaler({ scale: wire === 'fp32' ? 1 : scale, goodSteps: 0 }, window);
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
