// Original file: proto/dsi/v1/coordinator.proto


export interface ControlRequest {
  'runId'?: (string);
  'workerId'?: (string);
  'rank'?: (number);
}

export interface ControlRequest__Output {
  'runId': (string);
  'workerId': (string);
  'rank': (number);
}
