// Original file: proto/dsi/v1/collective.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RelayRequest as _dsi_v1_RelayRequest, RelayRequest__Output as _dsi_v1_RelayRequest__Output } from '../../dsi/v1/RelayRequest.js';
import type { RingChunk as _dsi_v1_RingChunk, RingChunk__Output as _dsi_v1_RingChunk__Output } from '../../dsi/v1/RingChunk.js';

export interface CollectiveClient extends grpc.Client {
  /**
   * The caller (right neighbour) receives, in order, every chunk the callee sends around the ring.
   */
  Relay(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_dsi_v1_RelayRequest, _dsi_v1_RingChunk__Output>;
  Relay(options?: grpc.CallOptions): grpc.ClientDuplexStream<_dsi_v1_RelayRequest, _dsi_v1_RingChunk__Output>;
  /**
   * The caller (right neighbour) receives, in order, every chunk the callee sends around the ring.
   */
  relay(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_dsi_v1_RelayRequest, _dsi_v1_RingChunk__Output>;
  relay(options?: grpc.CallOptions): grpc.ClientDuplexStream<_dsi_v1_RelayRequest, _dsi_v1_RingChunk__Output>;
  
}

export interface CollectiveHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The caller (right neighbour) receives, in order, every chunk the callee sends around the ring.
   */
  Relay: grpc.handleBidiStreamingCall<_dsi_v1_RelayRequest__Output, _dsi_v1_RingChunk>;
  
}

export interface CollectiveDefinition extends grpc.ServiceDefinition {
  Relay: MethodDefinition<_dsi_v1_RelayRequest, _dsi_v1_RingChunk, _dsi_v1_RelayRequest__Output, _dsi_v1_RingChunk__Output>
}
