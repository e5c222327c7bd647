// Original file: proto/dsi/v1/collective.proto


export interface TcpEndpointRequest {
}

export interface TcpEndpointRequest__Output {
}
