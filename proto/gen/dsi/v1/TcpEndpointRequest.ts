// Original file: proto/dsi/v1/collective.proto


/**
 * Asked with the same credentials as the RelayOpen that follows: a caller without the ring's secret
 * learns nothing (not even the port). Answered once the ring has formed on the callee (a few such
 * lookups wait for it, as parked Relay calls do), PERMISSION_DENIED without the secret.
 */
export interface TcpEndpointRequest {
  'runId'?: (string);
  'ringEpoch'?: (number);
  /**
   * RingFormation.ring_secret of this ring epoch.
   */
  'ringSecret'?: (Buffer | Uint8Array | string);
}

/**
 * Asked with the same credentials as the RelayOpen that follows: a caller without the ring's secret
 * learns nothing (not even the port). Answered once the ring has formed on the callee (a few such
 * lookups wait for it, as parked Relay calls do), PERMISSION_DENIED without the secret.
 */
export interface TcpEndpointRequest__Output {
  'runId': (string);
  'ringEpoch': (number);
  /**
   * RingFormation.ring_secret of this ring epoch.
   */
  'ringSecret': (Buffer);
}
