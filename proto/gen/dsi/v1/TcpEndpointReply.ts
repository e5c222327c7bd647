// Original file: proto/dsi/v1/collective.proto


export interface TcpEndpointReply {
  /**
   * Port of this worker's ring TCP listener, on the host of its Collective server's address.
   */
  'port'?: (number);
  /**
   * Framing version the listener speaks (the preamble's).
   */
  'framingVersion'?: (number);
}

export interface TcpEndpointReply__Output {
  /**
   * Port of this worker's ring TCP listener, on the host of its Collective server's address.
   */
  'port': (number);
  /**
   * Framing version the listener speaks (the preamble's).
   */
  'framingVersion': (number);
}
