// Original file: proto/dsi/v1/collective.proto


export interface RelayOpen {
  /**
   * Run the ring belongs to (from the coordinator's JoinReply).
   */
  'runId'?: (string);
  /**
   * Generation of the ring; bumped by the coordinator on every re-formation.
   */
  'ringEpoch'?: (number);
  /**
   * Rank of the caller: must be the callee's right neighbour in that ring.
   */
  'receiverRank'?: (number);
  /**
   * RingFormation.ring_secret of that ring: without it the call is refused (PERMISSION_DENIED).
   */
  'ringSecret'?: (Buffer | Uint8Array | string);
}

export interface RelayOpen__Output {
  /**
   * Run the ring belongs to (from the coordinator's JoinReply).
   */
  'runId': (string);
  /**
   * Generation of the ring; bumped by the coordinator on every re-formation.
   */
  'ringEpoch': (number);
  /**
   * Rank of the caller: must be the callee's right neighbour in that ring.
   */
  'receiverRank': (number);
  /**
   * RingFormation.ring_secret of that ring: without it the call is refused (PERMISSION_DENIED).
   */
  'ringSecret': (Buffer);
}
