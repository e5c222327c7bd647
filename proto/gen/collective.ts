import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CollectiveClient as _dsi_v1_CollectiveClient, CollectiveDefinition as _dsi_v1_CollectiveDefinition } from './dsi/v1/Collective.js';
import type { RelayAbort as _dsi_v1_RelayAbort, RelayAbort__Output as _dsi_v1_RelayAbort__Output } from './dsi/v1/RelayAbort.js';
import type { RelayOpen as _dsi_v1_RelayOpen, RelayOpen__Output as _dsi_v1_RelayOpen__Output } from './dsi/v1/RelayOpen.js';
import type { RelayRequest as _dsi_v1_RelayRequest, RelayRequest__Output as _dsi_v1_RelayRequest__Output } from './dsi/v1/RelayRequest.js';
import type { RingChunk as _dsi_v1_RingChunk, RingChunk__Output as _dsi_v1_RingChunk__Output } from './dsi/v1/RingChunk.js';
import type { TcpEndpointReply as _dsi_v1_TcpEndpointReply, TcpEndpointReply__Output as _dsi_v1_TcpEndpointReply__Output } from './dsi/v1/TcpEndpointReply.js';
import type { TcpEndpointRequest as _dsi_v1_TcpEndpointRequest, TcpEndpointRequest__Output as _dsi_v1_TcpEndpointRequest__Output } from './dsi/v1/TcpEndpointRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  dsi: {
    v1: {
      Collective: SubtypeConstructor<typeof grpc.Client, _dsi_v1_CollectiveClient> & { service: _dsi_v1_CollectiveDefinition }
      RelayAbort: MessageTypeDefinition<_dsi_v1_RelayAbort, _dsi_v1_RelayAbort__Output>
      RelayOpen: MessageTypeDefinition<_dsi_v1_RelayOpen, _dsi_v1_RelayOpen__Output>
      RelayRequest: MessageTypeDefinition<_dsi_v1_RelayRequest, _dsi_v1_RelayRequest__Output>
      RingChunk: MessageTypeDefinition<_dsi_v1_RingChunk, _dsi_v1_RingChunk__Output>
      RingPhase: EnumTypeDefinition
      TcpEndpointReply: MessageTypeDefinition<_dsi_v1_TcpEndpointReply, _dsi_v1_TcpEndpointReply__Output>
      TcpEndpointRequest: MessageTypeDefinition<_dsi_v1_TcpEndpointRequest, _dsi_v1_TcpEndpointRequest__Output>
      TcpFrameKind: EnumTypeDefinition
      WireDtype: EnumTypeDefinition
    }
  }
}

