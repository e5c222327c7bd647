// Original file: proto/dsi/v1/coordinator.proto


export interface UploadStateReply {
  'tensors'?: (number);
  'bytes'?: (number | string);
  /**
   * Where the coordinator wrote the checkpoint (run folder path).
   */
  'path'?: (string);
}

export interface UploadStateReply__Output {
  'tensors': (number);
  'bytes': (number);
  /**
   * Where the coordinator wrote the checkpoint (run folder path).
   */
  'path': (string);
}
