// Original file: proto/dsi/v1/coordinator.proto


export interface LeaveReply {
}

export interface LeaveReply__Output {
}
