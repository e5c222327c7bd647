// Original file: proto/dsi/v1/coordinator.proto


/**
 * Why a worker gave up on its ring.
 */
export interface RingFailure {
  /**
   * Neighbour the failure came from, in the ring of HeartbeatRequest.ring_epoch; -1 when none.
   */
  'neighbourRank'?: (number);
  /**
   * The neighbour was silent for RingFormation.timeout_ms (it is dead or hung); false: its stream
   * broke or it aborted the ring (the coordinator learns of a dead process on its own).
   */
  'timedOut'?: (boolean);
  'reason'?: (string);
}

/**
 * Why a worker gave up on its ring.
 */
export interface RingFailure__Output {
  /**
   * Neighbour the failure came from, in the ring of HeartbeatRequest.ring_epoch; -1 when none.
   */
  'neighbourRank': (number);
  /**
   * The neighbour was silent for RingFormation.timeout_ms (it is dead or hung); false: its stream
   * broke or it aborted the ring (the coordinator learns of a dead process on its own).
   */
  'timedOut': (boolean);
  'reason': (string);
}
