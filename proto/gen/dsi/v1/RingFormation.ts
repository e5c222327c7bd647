// Original file: proto/dsi/v1/coordinator.proto

import type { WireDtype as _dsi_v1_WireDtype, WireDtype__Output as _dsi_v1_WireDtype__Output } from '../../dsi/v1/WireDtype.js';

/**
 * Membership of one ring. Sent in JoinReply and again on Control whenever membership changes.
 */
export interface RingFormation {
  'runId'?: (string);
  /**
   * Generation; strictly increasing within a run. Chunks of older epochs are refused.
   */
  'ringEpoch'?: (number);
  /**
   * Collective server addresses in ring order: rank r sends to (r+1) % n and receives from (r-1+n) % n.
   */
  'addresses'?: (string)[];
  /**
   * The receiving worker's rank in this ring.
   */
  'rank'?: (number);
  /**
   * Agreed by all ranks: the all-reduce wire format, chunk size (< 4 MiB) and per-chunk timeout.
   */
  'wire'?: (_dsi_v1_WireDtype);
  'chunkBytes'?: (number);
  'timeoutMs'?: (number);
  /**
   * Step the ring starts from. After a loss the survivors redo the interrupted step: a worker that
   * already applied it (its all-reduce finished before the ring broke) restores its state from before.
   */
  'step'?: (number);
  /**
   * Secret of this ring (32 random bytes, new with every ring_epoch), handed only to its members:
   * a Relay's RelayOpen must carry it, so a process that is not in the ring cannot connect to it.
   */
  'ringSecret'?: (Buffer | Uint8Array | string);
}

/**
 * Membership of one ring. Sent in JoinReply and again on Control whenever membership changes.
 */
export interface RingFormation__Output {
  'runId': (string);
  /**
   * Generation; strictly increasing within a run. Chunks of older epochs are refused.
   */
  'ringEpoch': (number);
  /**
   * Collective server addresses in ring order: rank r sends to (r+1) % n and receives from (r-1+n) % n.
   */
  'addresses': (string)[];
  /**
   * The receiving worker's rank in this ring.
   */
  'rank': (number);
  /**
   * Agreed by all ranks: the all-reduce wire format, chunk size (< 4 MiB) and per-chunk timeout.
   */
  'wire': (_dsi_v1_WireDtype__Output);
  'chunkBytes': (number);
  'timeoutMs': (number);
  /**
   * Step the ring starts from. After a loss the survivors redo the interrupted step: a worker that
   * already applied it (its all-reduce finished before the ring broke) restores its state from before.
   */
  'step': (number);
  /**
   * Secret of this ring (32 random bytes, new with every ring_epoch), handed only to its members:
   * a Relay's RelayOpen must carry it, so a process that is not in the ring cannot connect to it.
   */
  'ringSecret': (Buffer);
}
