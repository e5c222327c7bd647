// Original file: proto/dsi/v1/coordinator.proto

import type { StatePart as _dsi_v1_StatePart, StatePart__Output as _dsi_v1_StatePart__Output } from '../../dsi/v1/StatePart.js';
import type { TensorDtype as _dsi_v1_TensorDtype, TensorDtype__Output as _dsi_v1_TensorDtype__Output } from '../../dsi/v1/TensorDtype.js';

export interface StateChunk {
  'runId'?: (string);
  /**
   * From the CheckpointRequest being answered.
   */
  'checkpointId'?: (string);
  'workerId'?: (string);
  'rank'?: (number);
  'step'?: (number);
  'part'?: (_dsi_v1_StatePart);
  'tensorName'?: (string);
  /**
   * Shape of the whole tensor (repeated in every chunk of it).
   */
  'shape'?: (number)[];
  'dtype'?: (_dsi_v1_TensorDtype);
  /**
   * Byte offset of `data` in the tensor's little-endian bytes.
   */
  'offsetBytes'?: (number | string);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * Last chunk of this tensor / of the whole upload.
   */
  'lastChunk'?: (boolean);
  'lastOfUpload'?: (boolean);
  /**
   * JoinReply.member_secret (only the current rank 0 may upload).
   */
  'memberSecret'?: (Buffer | Uint8Array | string);
}

export interface StateChunk__Output {
  'runId': (string);
  /**
   * From the CheckpointRequest being answered.
   */
  'checkpointId': (string);
  'workerId': (string);
  'rank': (number);
  'step': (number);
  'part': (_dsi_v1_StatePart__Output);
  'tensorName': (string);
  /**
   * Shape of the whole tensor (repeated in every chunk of it).
   */
  'shape': (number)[];
  'dtype': (_dsi_v1_TensorDtype__Output);
  /**
   * Byte offset of `data` in the tensor's little-endian bytes.
   */
  'offsetBytes': (number);
  'data': (Buffer);
  /**
   * Last chunk of this tensor / of the whole upload.
   */
  'lastChunk': (boolean);
  'lastOfUpload': (boolean);
  /**
   * JoinReply.member_secret (only the current rank 0 may upload).
   */
  'memberSecret': (Buffer);
}
