/**
 * The training state before the step in flight, so the step can be redone after a lost worker.
 *
 * When a worker dies during an all-reduce, ranks that had already received every chunk finish the
 * step and apply it while the others abort it without an update. The coordinator re-forms the ring
 * at the step before (RingFormation.step), and the ranks one step ahead restore this copy, so every
 * survivor redoes the step from the same state. Costs a copy of the trainable parameters and both
 * AdamW moments (3 x trainable x 4 bytes) and three memcpys per step; taken only in rings of 2+.
 */
import type { TrainState } from './setup.js';
import type { LossScalerState } from './loss_scaler.js';

export class StepSnapshot {
  private step = -1;
  /** params, then AdamW's m and v; allocated by the first take() (a ring of one never needs it). */
  private copy: { params: Float32Array; m: Float32Array; v: Float32Array } | undefined;
  private t = 0;
  private scaler: LossScalerState = { scale: 1, goodSteps: 0 };

  /** Bytes the copy holds (0 until the first take()). */
  get bytes(): number {
    return this.copy ? this.copy.params.byteLength + this.copy.m.byteLength + this.copy.v.byteLength : 0;
  }

  /** Copies `state` (and the loss scaler, which the all-reduce's outcome moves) before a step. */
  take(state: TrainState, scaler: LossScalerState): void {
    const n = state.params.length;
    this.copy ??= { params: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
    this.step = state.step;
    this.copy.params.set(state.params);
    this.copy.m.set(state.opt.m);
    this.copy.v.set(state.opt.v);
    this.t = state.opt.t;
    this.scaler = { ...scaler };
  }

  /**
   * Brings `state` to `step`: nothing to do when it is there, the copy when it is one step past it
   * (in place: the trainer holds these arrays). Throws when neither holds; true when it restored.
   */
  rewind(state: TrainState, scaler: LossScalerState, step: number): boolean {
    if (state.step === step) return false;
    if (!this.copy || state.step !== step + 1 || this.step !== step)
      throw new Error(`asked to continue from step ${step}, but this worker is at step ${state.step} and holds the state of step ${this.step}`);
    state.params.set(this.copy.params);
    state.opt.m.set(this.copy.m);
    state.opt.v.set(this.copy.v);
    state.opt.t = this.t;
    state.step = step;
    Object.assign(scaler, this.scaler);
    return true;
  }
}
