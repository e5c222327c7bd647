// Original file: proto/dsi/v1/coordinator.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ControlMessage as _dsi_v1_ControlMessage, ControlMessage__Output as _dsi_v1_ControlMessage__Output } from '../../dsi/v1/ControlMessage.js';
import type { ControlRequest as _dsi_v1_ControlRequest, ControlRequest__Output as _dsi_v1_ControlRequest__Output } from '../../dsi/v1/ControlRequest.js';
import type { HeartbeatReply as _dsi_v1_HeartbeatReply, HeartbeatReply__Output as _dsi_v1_HeartbeatReply__Output } from '../../dsi/v1/HeartbeatReply.js';
import type { HeartbeatRequest as _dsi_v1_HeartbeatRequest, HeartbeatRequest__Output as _dsi_v1_HeartbeatRequest__Output } from '../../dsi/v1/HeartbeatRequest.js';
import type { JoinReply as _dsi_v1_JoinReply, JoinReply__Output as _dsi_v1_JoinReply__Output } from '../../dsi/v1/JoinReply.js';
import type { JoinRequest as _dsi_v1_JoinRequest, JoinRequest__Output as _dsi_v1_JoinRequest__Output } from '../../dsi/v1/JoinRequest.js';
import type { LeaveReply as _dsi_v1_LeaveReply, LeaveReply__Output as _dsi_v1_LeaveReply__Output } from '../../dsi/v1/LeaveReply.js';
import type { LeaveRequest as _dsi_v1_LeaveRequest, LeaveRequest__Output as _dsi_v1_LeaveRequest__Output } from '../../dsi/v1/LeaveRequest.js';
import type { StateChunk as _dsi_v1_StateChunk, StateChunk__Output as _dsi_v1_StateChunk__Output } from '../../dsi/v1/StateChunk.js';
import type { UploadStateReply as _dsi_v1_UploadStateReply, UploadStateReply__Output as _dsi_v1_UploadStateReply__Output } from '../../dsi/v1/UploadStateReply.js';

export interface CoordinatorClient extends grpc.Client {
  /**
   * Commands from the coordinator to one worker, in order; opened right after Join, ends on Stop
   * (status OK) or when the worker is dropped (status ABORTED, details saying why).
   */
  Control(argument: _dsi_v1_ControlRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dsi_v1_ControlMessage__Output>;
  Control(argument: _dsi_v1_ControlRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dsi_v1_ControlMessage__Output>;
  /**
   * Commands from the coordinator to one worker, in order; opened right after Join, ends on Stop
   * (status OK) or when the worker is dropped (status ABORTED, details saying why).
   */
  control(argument: _dsi_v1_ControlRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dsi_v1_ControlMessage__Output>;
  control(argument: _dsi_v1_ControlRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dsi_v1_ControlMessage__Output>;
  
  /**
   * Liveness and metrics, every heartbeat_interval_ms. NOT_FOUND: the coordinator forgot this
   * worker (e.g. it restarted): Join again.
   */
  Heartbeat(argument: _dsi_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dsi_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dsi_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dsi_v1_HeartbeatRequest, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  /**
   * Liveness and metrics, every heartbeat_interval_ms. NOT_FOUND: the coordinator forgot this
   * worker (e.g. it restarted): Join again.
   */
  heartbeat(argument: _dsi_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dsi_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dsi_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dsi_v1_HeartbeatRequest, callback: grpc.requestCallback<_dsi_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Ask to take part in the run. Refused (FAILED_PRECONDITION, details naming the field, and the
   * JoinRefusal's name in the trailing metadata under "dsi-join-refusal") when the model-config hash
   * differs from the run's, the run is full or under way, or the worker id is already a member.
   */
  Join(argument: _dsi_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  Join(argument: _dsi_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  Join(argument: _dsi_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  Join(argument: _dsi_v1_JoinRequest, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  /**
   * Ask to take part in the run. Refused (FAILED_PRECONDITION, details naming the field, and the
   * JoinRefusal's name in the trailing metadata under "dsi-join-refusal") when the model-config hash
   * differs from the run's, the run is full or under way, or the worker id is already a member.
   */
  join(argument: _dsi_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  join(argument: _dsi_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  join(argument: _dsi_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  join(argument: _dsi_v1_JoinRequest, callback: grpc.requestCallback<_dsi_v1_JoinReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Leave gracefully (after Stop, or when the worker shuts down on its own).
   */
  Leave(argument: _dsi_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  Leave(argument: _dsi_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  Leave(argument: _dsi_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  Leave(argument: _dsi_v1_LeaveRequest, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  /**
   * Leave gracefully (after Stop, or when the worker shuts down on its own).
   */
  leave(argument: _dsi_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  leave(argument: _dsi_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  leave(argument: _dsi_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  leave(argument: _dsi_v1_LeaveRequest, callback: grpc.requestCallback<_dsi_v1_LeaveReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Worker state for a checkpoint, after a CheckpointRequest: chunks of at most 4 MiB, in order.
   */
  UploadState(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  UploadState(metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  UploadState(options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  UploadState(callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  /**
   * Worker state for a checkpoint, after a CheckpointRequest: chunks of at most 4 MiB, in order.
   */
  uploadState(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  uploadState(metadata: grpc.Metadata, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  uploadState(options: grpc.CallOptions, callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  uploadState(callback: grpc.requestCallback<_dsi_v1_UploadStateReply__Output>): grpc.ClientWritableStream<_dsi_v1_StateChunk>;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Commands from the coordinator to one worker, in order; opened right after Join, ends on Stop
   * (status OK) or when the worker is dropped (status ABORTED, details saying why).
   */
  Control: grpc.handleServerStreamingCall<_dsi_v1_ControlRequest__Output, _dsi_v1_ControlMessage>;
  
  /**
   * Liveness and metrics, every heartbeat_interval_ms. NOT_FOUND: the coordinator forgot this
   * worker (e.g. it restarted): Join again.
   */
  Heartbeat: grpc.handleUnaryCall<_dsi_v1_HeartbeatRequest__Output, _dsi_v1_HeartbeatReply>;
  
  /**
   * Ask to take part in the run. Refused (FAILED_PRECONDITION, details naming the field, and the
   * JoinRefusal's name in the trailing metadata under "dsi-join-refusal") when the model-config hash
   * differs from the run's, the run is full or under way, or the worker id is already a member.
   */
  Join: grpc.handleUnaryCall<_dsi_v1_JoinRequest__Output, _dsi_v1_JoinReply>;
  
  /**
   * Leave gracefully (after Stop, or when the worker shuts down on its own).
   */
  Leave: grpc.handleUnaryCall<_dsi_v1_LeaveRequest__Output, _dsi_v1_LeaveReply>;
  
  /**
   * Worker state for a checkpoint, after a CheckpointRequest: chunks of at most 4 MiB, in order.
   */
  UploadState: grpc.handleClientStreamingCall<_dsi_v1_StateChunk__Output, _dsi_v1_UploadStateReply>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  Control: MethodDefinition<_dsi_v1_ControlRequest, _dsi_v1_ControlMessage, _dsi_v1_ControlRequest__Output, _dsi_v1_ControlMessage__Output>
  Heartbeat: MethodDefinition<_dsi_v1_HeartbeatRequest, _dsi_v1_HeartbeatReply, _dsi_v1_HeartbeatRequest__Output, _dsi_v1_HeartbeatReply__Output>
  Join: MethodDefinition<_dsi_v1_JoinRequest, _dsi_v1_JoinReply, _dsi_v1_JoinRequest__Output, _dsi_v1_JoinReply__Output>
  Leave: MethodDefinition<_dsi_v1_LeaveRequest, _dsi_v1_LeaveReply, _dsi_v1_LeaveRequest__Output, _dsi_v1_LeaveReply__Output>
  UploadState: MethodDefinition<_dsi_v1_StateChunk, _dsi_v1_UploadStateReply, _dsi_v1_StateChunk__Output, _dsi_v1_UploadStateReply__Output>
}
