/**
 * The training state before the step in flight, so the step can be redone after a lost worker.
 *
 * When a worker dies during an all-reduce, ranks that had already received every chunk finish the
 * step and apply it while the others abort it without an update. The coordinator re-forms the ring
 * at the step before (RingFormation.step), and the ranks one step ahead restore this copy, so every
 * survivor redoes the step from the same state. Costs a copy of the trainable parameters and both
 * AdamW moments (3 x trainable x 4 bytes) and three memcpys per step; taken only in rings of 2+.
 */
import type { TrainState } from '../shared/train/setup.js';
import type { LossScalerState } from './loss_scaler.js';

export class StepSnapshot {
  private step = -1;
  private readonly params: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;
  private scaler: LossScalerState = { scale: 1, goodSteps: 0 };

  constructor(size: number) {
    this.params = new Float32Array(size);
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** Copies `state` (and the loss scaler, which the all-reduce's outcome moves) before a step. */
  take(state: TrainState, scaler: LossScalerState): void {
    this.step = state.step;
    this.params.set(state.params);
    this.m.set(state.opt.m);
    this.v.set(state.opt.v);
    this.t = state.opt.t;
    this.scaler = { ...scaler };
  }

  /**
   * Brings `state` to `step`: nothing to do when it is there, the copy when it is one step past it
   * (in place: the trainer holds these arrays). Throws when neither holds; true when it restored.
   */
  rewind(state: TrainState, scaler: LossScalerState, step: number): boolean {
    if (state.step === step) return false;
    if (state.step !== step + 1 || this.step !== step)
      throw new Error(`asked to continue from step ${step}, but this worker is at step ${state.step} and holds the state of step ${this.step}`);
    state.params.set(this.params);
    state.opt.m.set(this.m);
    state.opt.v.set(this.v);
    state.opt.t = this.t;
    state.step = step;
    Object.assign(scaler, this.scaler);
    return true;
  }
}
