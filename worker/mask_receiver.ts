/**
 * Pruning masks arriving on the control stream in chunks: assembled per tensor, and switched on
 * at the step the coordinator named, so every worker applies the same mask at the same step.
 */
import type { PruningMaskChunk__Output } from '../proto/gen/dsi/v1/PruningMaskChunk.js';
import type { MaskSet } from '../shared/model/pruning_masks.js';
import type { MasksInForce } from '../shared/training/mask_file.js';

export class MaskReceiver {
  /** The mask set in force, if any. */
  active: MaskSet | undefined;
  version = 0;
  private pending: { version: number; applyAt: number; masks: MaskSet; complete: boolean } | undefined;

  /** `restored`: the set in force in the checkpoint the run resumed from (it holds until the next set). */
  constructor(restored?: MasksInForce) {
    if (!restored) return;
    this.active = restored.masks;
    this.version = restored.version;
  }

  add(c: PruningMaskChunk__Output): void {
    if (c.maskVersion <= this.version) return;                        // an older set: superseded
    if (!this.pending || this.pending.version !== c.maskVersion) this.pending = { version: c.maskVersion, applyAt: c.applyAtStep, masks: new Map(), complete: false };
    const bytes = Math.ceil(c.tensorElements / 8);
    const bits = this.pending.masks.get(c.tensorName) ?? new Uint8Array(bytes);
    if (c.offset % 8 !== 0 || c.offset / 8 + c.bits.length > bytes)
      throw new Error(`pruning mask ${c.maskVersion} for ${c.tensorName}: chunk at element ${c.offset} with ${c.bits.length} bytes does not fit ${c.tensorElements} elements`);
    bits.set(c.bits, c.offset / 8);
    this.pending.masks.set(c.tensorName, bits);
    if (c.lastTensor && c.lastChunk) this.pending.complete = true;
  }

  /** Switches to a complete pending set due at `step`; true when it did. */
  activate(step: number): boolean {
    const p = this.pending;
    if (!p || !p.complete || p.applyAt !== step) return false;
    this.active = p.masks;
    this.version = p.version;
    this.pending = undefined;
    return true;
  }
}
