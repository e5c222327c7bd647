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
}
