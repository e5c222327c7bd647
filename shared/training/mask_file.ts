/**
 * The pruning masks in force, as a checkpoint file (pruning_masks.safetensors): one U8 tensor of
 * keep bits per pruned weight (1 = keep, least significant bit first, as the PruningMaskChunk
 * messages carry them), with the set's version and the step it took effect at in the metadata.
 * Without it a resumed run would hold no mask until the next mask step (pruned weights growing back
 * meanwhile), and a run resumed after prune.endStep none at all.
 */
import path from 'node:path';
import { ModelFormatError } from '../runtime/errors.js';
import type { ParamLayout } from '../model/params.js';
import type { MaskSet } from '../model/pruning_masks.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../model/safetensors.js';

export const MASKS_FILE = 'pruning_masks.safetensors';

/** A mask set and when it took effect. */
export interface MasksInForce {
  /** The coordinator's numbering of mask sets (PruningMaskChunk.mask_version); the next set is version + 1. */
  version: number;
  /** The step (0-based, before it ran) from which the set applies. */
  step: number;
  masks: MaskSet;
}

export async function writeMaskFile(dir: string, m: MasksInForce): Promise<string> {
  const tensors = new Map<string, SafeTensor>([...m.masks].map(([name, bits]) => [name, { dtype: 'U8', shape: [bits.length], data: bits }]));
  await writeSafetensors(path.join(dir, MASKS_FILE), tensors, {
    format: 'dsi-pruning-masks', mask_version: String(m.version), applied_at_step: String(m.step),
    layout: 'keep bits of each pruned weight in its flat (in, out) order, least significant bit first; 1 = keep',
  });
  return MASKS_FILE;
}

/** The masks of a checkpoint folder, checked against the layout they prune (names and sizes). */
export async function readMaskFile(dir: string, layout: ParamLayout): Promise<MasksInForce> {
  const file = path.join(dir, MASKS_FILE);
  const { tensors, metadata } = await readSafetensors(file);
  const version = Number(metadata['mask_version']), step = Number(metadata['applied_at_step']);
  if (!Number.isInteger(version) || version < 1 || !Number.isInteger(step) || step < 0)
    throw new ModelFormatError(file, `metadata needs mask_version >= 1 and applied_at_step >= 0, has ${JSON.stringify(metadata)}`);
  const masks: MaskSet = new Map();
  for (const [name, t] of tensors) {
    const spec = layout.byName.get(name);
    if (!spec) throw new ModelFormatError(file, `mask for ${name}, which the model does not have`);
    if (t.dtype !== 'U8' || t.data.length !== Math.ceil(spec.size / 8))
      throw new ModelFormatError(file, `mask for ${name} needs ${Math.ceil(spec.size / 8)} U8 bytes (${spec.size} weights), has ${t.data.length} ${t.dtype}`);
    masks.set(name, t.data);
  }
  return { version, step, masks };
}
