// Original file: proto/dsi/v1/collective.proto

import type { RelayOpen as _dsi_v1_RelayOpen, RelayOpen__Output as _dsi_v1_RelayOpen__Output } from '../../dsi/v1/RelayOpen.js';
import type { RelayAbort as _dsi_v1_RelayAbort, RelayAbort__Output as _dsi_v1_RelayAbort__Output } from '../../dsi/v1/RelayAbort.js';

/**
 * Sent by the right neighbour (the client) to its left neighbour on a Relay call.
 */
export interface RelayRequest {
  /**
   * First message, exactly once: which ring this call feeds.
   */
  'open'?: (_dsi_v1_RelayOpen | null);
  /**
   * The receiver gave up on the ring (bad chunk, timeout, shutdown); the sender should fail its
   * all-reduce with this reason instead of waiting for a timeout.
   */
  'abort'?: (_dsi_v1_RelayAbort | null);
  'kind'?: "open"|"abort";
}

/**
 * Sent by the right neighbour (the client) to its left neighbour on a Relay call.
 */
export interface RelayRequest__Output {
  /**
   * First message, exactly once: which ring this call feeds.
   */
  'open'?: (_dsi_v1_RelayOpen__Output | null);
  /**
   * The receiver gave up on the ring (bad chunk, timeout, shutdown); the sender should fail its
   * all-reduce with this reason instead of waiting for a timeout.
   */
  'abort'?: (_dsi_v1_RelayAbort__Output | null);
  'kind'?: "open"|"abort";
}
