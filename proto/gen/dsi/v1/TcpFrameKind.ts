// Original file: proto/dsi/v1/collective.proto

/**
 * The same Relay call over a raw TCP socket (cluster.transport = tcp, worker/collective/tcp_peer.ts):
 * grpc-js spends 3-4x the CPU per byte of a plain socket (HTTP/2 framing in JS, copies), and on a
 * machine where the ranks share cores CPU is the all-reduce's limit. Only the framing changes: the
 * messages are the ones above, with the same checks (run id, ring epoch, step, chunk, dtype, lengths).
 * 
 * The receiver (right neighbour) asks its left neighbour's Collective server for the socket's port
 * (TcpEndpoint), connects, and writes the 8-byte preamble "DSIR" + uint32 TCP_FRAMING_VERSION. Then
 * each message in either direction is one frame:
 * uint32 length of the protobuf bytes | uint8 TcpFrameKind | protobuf bytes (length of them)
 * receiver -> sender: RELAY_REQUEST frames (first exactly one `open`, later at most one `abort`);
 * sender -> receiver: RING_CHUNK frames, then RELAY_END (with a reason: the sender aborted the ring)
 * or a plain FIN (the ring closed normally). A frame longer than the receiver's limit (4 MiB, as
 * gRPC's message limit), an unknown kind, a kind sent in the wrong direction or bytes that do not
 * decode end the connection with an error that says which.
 */
export const TcpFrameKind = {
  TCP_FRAME_KIND_UNSPECIFIED: 'TCP_FRAME_KIND_UNSPECIFIED',
  /**
   * A RelayRequest (receiver -> sender).
   */
  TCP_FRAME_KIND_RELAY_REQUEST: 'TCP_FRAME_KIND_RELAY_REQUEST',
  /**
   * A RingChunk (sender -> receiver).
   */
  TCP_FRAME_KIND_RING_CHUNK: 'TCP_FRAME_KIND_RING_CHUNK',
  /**
   * A RelayAbort (sender -> receiver): the sender gave up on the ring; no more chunks follow.
   */
  TCP_FRAME_KIND_RELAY_END: 'TCP_FRAME_KIND_RELAY_END',
} as const;

/**
 * The same Relay call over a raw TCP socket (cluster.transport = tcp, worker/collective/tcp_peer.ts):
 * grpc-js spends 3-4x the CPU per byte of a plain socket (HTTP/2 framing in JS, copies), and on a
 * machine where the ranks share cores CPU is the all-reduce's limit. Only the framing changes: the
 * messages are the ones above, with the same checks (run id, ring epoch, step, chunk, dtype, lengths).
 * 
 * The receiver (right neighbour) asks its left neighbour's Collective server for the socket's port
 * (TcpEndpoint), connects, and writes the 8-byte preamble "DSIR" + uint32 TCP_FRAMING_VERSION. Then
 * each message in either direction is one frame:
 * uint32 length of the protobuf bytes | uint8 TcpFrameKind | protobuf bytes (length of them)
 * receiver -> sender: RELAY_REQUEST frames (first exactly one `open`, later at most one `abort`);
 * sender -> receiver: RING_CHUNK frames, then RELAY_END (with a reason: the sender aborted the ring)
 * or a plain FIN (the ring closed normally). A frame longer than the receiver's limit (4 MiB, as
 * gRPC's message limit), an unknown kind, a kind sent in the wrong direction or bytes that do not
 * decode end the connection with an error that says which.
 */
export type TcpFrameKind =
  | 'TCP_FRAME_KIND_UNSPECIFIED'
  | 0
  /**
   * A RelayRequest (receiver -> sender).
   */
  | 'TCP_FRAME_KIND_RELAY_REQUEST'
  | 1
  /**
   * A RingChunk (sender -> receiver).
   */
  | 'TCP_FRAME_KIND_RING_CHUNK'
  | 2
  /**
   * A RelayAbort (sender -> receiver): the sender gave up on the ring; no more chunks follow.
   */
  | 'TCP_FRAME_KIND_RELAY_END'
  | 3

/**
 * The same Relay call over a raw TCP socket (cluster.transport = tcp, worker/collective/tcp_peer.ts):
 * grpc-js spends 3-4x the CPU per byte of a plain socket (HTTP/2 framing in JS, copies), and on a
 * machine where the ranks share cores CPU is the all-reduce's limit. Only the framing changes: the
 * messages are the ones above, with the same checks (run id, ring epoch, step, chunk, dtype, lengths).
 * 
 * The receiver (right neighbour) asks its left neighbour's Collective server for the socket's port
 * (TcpEndpoint), connects, and writes the 8-byte preamble "DSIR" + uint32 TCP_FRAMING_VERSION. Then
 * each message in either direction is one frame:
 * uint32 length of the protobuf bytes | uint8 TcpFrameKind | protobuf bytes (length of them)
 * receiver -> sender: RELAY_REQUEST frames (first exactly one `open`, later at most one `abort`);
 * sender -> receiver: RING_CHUNK frames, then RELAY_END (with a reason: the sender aborted the ring)
 * or a plain FIN (the ring closed normally). A frame longer than the receiver's limit (4 MiB, as
 * gRPC's message limit), an unknown kind, a kind sent in the wrong direction or bytes that do not
 * decode end the connection with an error that says which.
 */
export type TcpFrameKind__Output = typeof TcpFrameKind[keyof typeof TcpFrameKind]
