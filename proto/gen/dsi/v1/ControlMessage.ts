// Original file: proto/dsi/v1/coordinator.proto

import type { StartSteps as _dsi_v1_StartSteps, StartSteps__Output as _dsi_v1_StartSteps__Output } from '../../dsi/v1/StartSteps.js';
import type { RingFormation as _dsi_v1_RingFormation, RingFormation__Output as _dsi_v1_RingFormation__Output } from '../../dsi/v1/RingFormation.js';
import type { PruningMaskChunk as _dsi_v1_PruningMaskChunk, PruningMaskChunk__Output as _dsi_v1_PruningMaskChunk__Output } from '../../dsi/v1/PruningMaskChunk.js';
import type { CheckpointRequest as _dsi_v1_CheckpointRequest, CheckpointRequest__Output as _dsi_v1_CheckpointRequest__Output } from '../../dsi/v1/CheckpointRequest.js';
import type { Stop as _dsi_v1_Stop, Stop__Output as _dsi_v1_Stop__Output } from '../../dsi/v1/Stop.js';

export interface ControlMessage {
  /**
   * 1, 2, 3... per Control call, so a worker can log and detect gaps.
   */
  'seq'?: (number);
  'start'?: (_dsi_v1_StartSteps | null);
  'ring'?: (_dsi_v1_RingFormation | null);
  'pruningMask'?: (_dsi_v1_PruningMaskChunk | null);
  'checkpoint'?: (_dsi_v1_CheckpointRequest | null);
  'stop'?: (_dsi_v1_Stop | null);
  'command'?: "start"|"ring"|"pruningMask"|"checkpoint"|"stop";
}

export interface ControlMessage__Output {
  /**
   * 1, 2, 3... per Control call, so a worker can log and detect gaps.
   */
  'seq': (number);
  'start'?: (_dsi_v1_StartSteps__Output | null);
  'ring'?: (_dsi_v1_RingFormation__Output | null);
  'pruningMask'?: (_dsi_v1_PruningMaskChunk__Output | null);
  'checkpoint'?: (_dsi_v1_CheckpointRequest__Output | null);
  'stop'?: (_dsi_v1_Stop__Output | null);
  'command'?: "start"|"ring"|"pruningMask"|"checkpoint"|"stop";
}
