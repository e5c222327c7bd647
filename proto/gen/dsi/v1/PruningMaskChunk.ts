// Original file: proto/dsi/v1/coordinator.proto


/**
 * A pruning mask, split over several messages because masks of large tensors pass 4 MiB.
 * Chunks of one mask arrive consecutively, in increasing offset; the mask applies from apply_at_step.
 */
export interface PruningMaskChunk {
  /**
   * Increases with every new mask set; chunks of an older mask_version are ignored.
   */
  'maskVersion'?: (number);
  /**
   * Weight the mask belongs to (the name the model's weight map uses).
   */
  'tensorName'?: (string);
  /**
   * Elements of the whole tensor (product of its shape).
   */
  'tensorElements'?: (number);
  /**
   * Index of the first element this chunk covers.
   */
  'offset'?: (number);
  /**
   * Bits for elements offset .. offset+8*len(bits)-1, least significant bit first; 1 = keep.
   */
  'bits'?: (Buffer | Uint8Array | string);
  /**
   * This is the last chunk of this tensor's mask.
   */
  'lastChunk'?: (boolean);
  /**
   * This is the last tensor of the mask set: the worker can apply the set now.
   */
  'lastTensor'?: (boolean);
  'applyAtStep'?: (number);
}

/**
 * A pruning mask, split over several messages because masks of large tensors pass 4 MiB.
 * Chunks of one mask arrive consecutively, in increasing offset; the mask applies from apply_at_step.
 */
export interface PruningMaskChunk__Output {
  /**
   * Increases with every new mask set; chunks of an older mask_version are ignored.
   */
  'maskVersion': (number);
  /**
   * Weight the mask belongs to (the name the model's weight map uses).
   */
  'tensorName': (string);
  /**
   * Elements of the whole tensor (product of its shape).
   */
  'tensorElements': (number);
  /**
   * Index of the first element this chunk covers.
   */
  'offset': (number);
  /**
   * Bits for elements offset .. offset+8*len(bits)-1, least significant bit first; 1 = keep.
   */
  'bits': (Buffer);
  /**
   * This is the last chunk of this tensor's mask.
   */
  'lastChunk': (boolean);
  /**
   * This is the last tensor of the mask set: the worker can apply the set now.
   */
  'lastTensor': (boolean);
  'applyAtStep': (number);
}
