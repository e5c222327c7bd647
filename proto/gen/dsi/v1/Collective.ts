// Original file: proto/dsi/v1/collective.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RelayRequest as _dsi_v1_RelayRequest, RelayRequest__Output as _dsi_v1_RelayRequest__Output } from '../../dsi/v1/RelayRequest.js';
import type { RingChunk as _dsi_v1_RingChunk, RingChunk__Output as _dsi_v1_RingChunk__Output } from '../../dsi/v1/RingChunk.js';
import type { TcpEndpointReply as _dsi_v1_TcpEndpointReply, TcpEndpointReply__Output as _dsi_v1_TcpEndpointReply__Output } from '../../dsi/v1/TcpEndpointReply.js';
import type { TcpEndpointRequest as _dsi_v1_TcpEndpointRequest, TcpEndpointRequest__Output as _dsi_v1_TcpEndpointRequest__Output } from '../../dsi/v1/TcpEndpointRequest.js';

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
  
  /**
   * Where this worker's raw-TCP Relay listener is (see TcpFrameKind), for the members of a ring only.
   */
  TcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  TcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  TcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  TcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  /**
   * Where this worker's raw-TCP Relay listener is (see TcpFrameKind), for the members of a ring only.
   */
  tcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  tcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  tcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  tcpEndpoint(argument: _dsi_v1_TcpEndpointRequest, callback: grpc.requestCallback<_dsi_v1_TcpEndpointReply__Output>): grpc.ClientUnaryCall;
  
}

export interface CollectiveHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The caller (right neighbour) receives, in order, every chunk the callee sends around the ring.
   */
  Relay: grpc.handleBidiStreamingCall<_dsi_v1_RelayRequest__Output, _dsi_v1_RingChunk>;
  
  /**
   * Where this worker's raw-TCP Relay listener is (see TcpFrameKind), for the members of a ring only.
   */
  TcpEndpoint: grpc.handleUnaryCall<_dsi_v1_TcpEndpointRequest__Output, _dsi_v1_TcpEndpointReply>;
  
}

export interface CollectiveDefinition extends grpc.ServiceDefinition {
  Relay: MethodDefinition<_dsi_v1_RelayRequest, _dsi_v1_RingChunk, _dsi_v1_RelayRequest__Output, _dsi_v1_RingChunk__Output>
  TcpEndpoint: MethodDefinition<_dsi_v1_TcpEndpointRequest, _dsi_v1_TcpEndpointReply, _dsi_v1_TcpEndpointRequest__Output, _dsi_v1_TcpEndpointReply__Output>
}
