import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CheckpointRequest as _dsi_v1_CheckpointRequest, CheckpointRequest__Output as _dsi_v1_CheckpointRequest__Output } from './dsi/v1/CheckpointRequest.js';
import type { CollectiveClient as _dsi_v1_CollectiveClient, CollectiveDefinition as _dsi_v1_CollectiveDefinition } from './dsi/v1/Collective.js';
import type { ControlMessage as _dsi_v1_ControlMessage, ControlMessage__Output as _dsi_v1_ControlMessage__Output } from './dsi/v1/ControlMessage.js';
import type { ControlRequest as _dsi_v1_ControlRequest, ControlRequest__Output as _dsi_v1_ControlRequest__Output } from './dsi/v1/ControlRequest.js';
import type { CoordinatorClient as _dsi_v1_CoordinatorClient, CoordinatorDefinition as _dsi_v1_CoordinatorDefinition } from './dsi/v1/Coordinator.js';
import type { HeartbeatReply as _dsi_v1_HeartbeatReply, HeartbeatReply__Output as _dsi_v1_HeartbeatReply__Output } from './dsi/v1/HeartbeatReply.js';
import type { HeartbeatRequest as _dsi_v1_HeartbeatRequest, HeartbeatRequest__Output as _dsi_v1_HeartbeatRequest__Output } from './dsi/v1/HeartbeatRequest.js';
import type { JoinReply as _dsi_v1_JoinReply, JoinReply__Output as _dsi_v1_JoinReply__Output } from './dsi/v1/JoinReply.js';
import type { JoinRequest as _dsi_v1_JoinRequest, JoinRequest__Output as _dsi_v1_JoinRequest__Output } from './dsi/v1/JoinRequest.js';
import type { LeaveReply as _dsi_v1_LeaveReply, LeaveReply__Output as _dsi_v1_LeaveReply__Output } from './dsi/v1/LeaveReply.js';
import type { LeaveRequest as _dsi_v1_LeaveRequest, LeaveRequest__Output as _dsi_v1_LeaveRequest__Output } from './dsi/v1/LeaveRequest.js';
import type { PruningMaskChunk as _dsi_v1_PruningMaskChunk, PruningMaskChunk__Output as _dsi_v1_PruningMaskChunk__Output } from './dsi/v1/PruningMaskChunk.js';
import type { RelayAbort as _dsi_v1_RelayAbort, RelayAbort__Output as _dsi_v1_RelayAbort__Output } from './dsi/v1/RelayAbort.js';
import type { RelayOpen as _dsi_v1_RelayOpen, RelayOpen__Output as _dsi_v1_RelayOpen__Output } from './dsi/v1/RelayOpen.js';
import type { RelayRequest as _dsi_v1_RelayRequest, RelayRequest__Output as _dsi_v1_RelayRequest__Output } from './dsi/v1/RelayRequest.js';
import type { RingChunk as _dsi_v1_RingChunk, RingChunk__Output as _dsi_v1_RingChunk__Output } from './dsi/v1/RingChunk.js';
import type { RingFailure as _dsi_v1_RingFailure, RingFailure__Output as _dsi_v1_RingFailure__Output } from './dsi/v1/RingFailure.js';
import type { RingFormation as _dsi_v1_RingFormation, RingFormation__Output as _dsi_v1_RingFormation__Output } from './dsi/v1/RingFormation.js';
import type { RunPlan as _dsi_v1_RunPlan, RunPlan__Output as _dsi_v1_RunPlan__Output } from './dsi/v1/RunPlan.js';
import type { StartSteps as _dsi_v1_StartSteps, StartSteps__Output as _dsi_v1_StartSteps__Output } from './dsi/v1/StartSteps.js';
import type { StateChunk as _dsi_v1_StateChunk, StateChunk__Output as _dsi_v1_StateChunk__Output } from './dsi/v1/StateChunk.js';
import type { StepProgress as _dsi_v1_StepProgress, StepProgress__Output as _dsi_v1_StepProgress__Output } from './dsi/v1/StepProgress.js';
import type { Stop as _dsi_v1_Stop, Stop__Output as _dsi_v1_Stop__Output } from './dsi/v1/Stop.js';
import type { TcpEndpointReply as _dsi_v1_TcpEndpointReply, TcpEndpointReply__Output as _dsi_v1_TcpEndpointReply__Output } from './dsi/v1/TcpEndpointReply.js';
import type { TcpEndpointRequest as _dsi_v1_TcpEndpointRequest, TcpEndpointRequest__Output as _dsi_v1_TcpEndpointRequest__Output } from './dsi/v1/TcpEndpointRequest.js';
import type { UploadStateReply as _dsi_v1_UploadStateReply, UploadStateReply__Output as _dsi_v1_UploadStateReply__Output } from './dsi/v1/UploadStateReply.js';
import type { WorkerMetrics as _dsi_v1_WorkerMetrics, WorkerMetrics__Output as _dsi_v1_WorkerMetrics__Output } from './dsi/v1/WorkerMetrics.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  dsi: {
    v1: {
      CheckpointRequest: MessageTypeDefinition<_dsi_v1_CheckpointRequest, _dsi_v1_CheckpointRequest__Output>
      Collective: SubtypeConstructor<typeof grpc.Client, _dsi_v1_CollectiveClient> & { service: _dsi_v1_CollectiveDefinition }
      ControlMessage: MessageTypeDefinition<_dsi_v1_ControlMessage, _dsi_v1_ControlMessage__Output>
      ControlRequest: MessageTypeDefinition<_dsi_v1_ControlRequest, _dsi_v1_ControlRequest__Output>
      Coordinator: SubtypeConstructor<typeof grpc.Client, _dsi_v1_CoordinatorClient> & { service: _dsi_v1_CoordinatorDefinition }
      HeartbeatReply: MessageTypeDefinition<_dsi_v1_HeartbeatReply, _dsi_v1_HeartbeatReply__Output>
      HeartbeatRequest: MessageTypeDefinition<_dsi_v1_HeartbeatRequest, _dsi_v1_HeartbeatRequest__Output>
      JoinRefusal: EnumTypeDefinition
      JoinReply: MessageTypeDefinition<_dsi_v1_JoinReply, _dsi_v1_JoinReply__Output>
      JoinRequest: MessageTypeDefinition<_dsi_v1_JoinRequest, _dsi_v1_JoinRequest__Output>
      LeaveReply: MessageTypeDefinition<_dsi_v1_LeaveReply, _dsi_v1_LeaveReply__Output>
      LeaveRequest: MessageTypeDefinition<_dsi_v1_LeaveRequest, _dsi_v1_LeaveRequest__Output>
      PruningMaskChunk: MessageTypeDefinition<_dsi_v1_PruningMaskChunk, _dsi_v1_PruningMaskChunk__Output>
      RelayAbort: MessageTypeDefinition<_dsi_v1_RelayAbort, _dsi_v1_RelayAbort__Output>
      RelayOpen: MessageTypeDefinition<_dsi_v1_RelayOpen, _dsi_v1_RelayOpen__Output>
      RelayRequest: MessageTypeDefinition<_dsi_v1_RelayRequest, _dsi_v1_RelayRequest__Output>
      RingChunk: MessageTypeDefinition<_dsi_v1_RingChunk, _dsi_v1_RingChunk__Output>
      RingFailure: MessageTypeDefinition<_dsi_v1_RingFailure, _dsi_v1_RingFailure__Output>
      RingFormation: MessageTypeDefinition<_dsi_v1_RingFormation, _dsi_v1_RingFormation__Output>
      RingPhase: EnumTypeDefinition
      RunPlan: MessageTypeDefinition<_dsi_v1_RunPlan, _dsi_v1_RunPlan__Output>
      StartSteps: MessageTypeDefinition<_dsi_v1_StartSteps, _dsi_v1_StartSteps__Output>
      StateChunk: MessageTypeDefinition<_dsi_v1_StateChunk, _dsi_v1_StateChunk__Output>
      StatePart: EnumTypeDefinition
      StepPhase: EnumTypeDefinition
      StepProgress: MessageTypeDefinition<_dsi_v1_StepProgress, _dsi_v1_StepProgress__Output>
      Stop: MessageTypeDefinition<_dsi_v1_Stop, _dsi_v1_Stop__Output>
      StopCause: EnumTypeDefinition
      TcpEndpointReply: MessageTypeDefinition<_dsi_v1_TcpEndpointReply, _dsi_v1_TcpEndpointReply__Output>
      TcpEndpointRequest: MessageTypeDefinition<_dsi_v1_TcpEndpointRequest, _dsi_v1_TcpEndpointRequest__Output>
      TcpFrameKind: EnumTypeDefinition
      TensorDtype: EnumTypeDefinition
      UploadStateReply: MessageTypeDefinition<_dsi_v1_UploadStateReply, _dsi_v1_UploadStateReply__Output>
      WireDtype: EnumTypeDefinition
      WorkerMetrics: MessageTypeDefinition<_dsi_v1_WorkerMetrics, _dsi_v1_WorkerMetrics__Output>
    }
  }
}

