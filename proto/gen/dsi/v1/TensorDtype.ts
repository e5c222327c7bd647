// Original file: proto/dsi/v1/coordinator.proto

export const TensorDtype = {
  TENSOR_DTYPE_UNSPECIFIED: 'TENSOR_DTYPE_UNSPECIFIED',
  TENSOR_DTYPE_FLOAT32: 'TENSOR_DTYPE_FLOAT32',
  TENSOR_DTYPE_INT32: 'TENSOR_DTYPE_INT32',
  /**
   * Raw bytes (used by STATE_PART_WORKER).
   */
  TENSOR_DTYPE_BYTES: 'TENSOR_DTYPE_BYTES',
} as const;

export type TensorDtype =
  | 'TENSOR_DTYPE_UNSPECIFIED'
  | 0
  | 'TENSOR_DTYPE_FLOAT32'
  | 1
  | 'TENSOR_DTYPE_INT32'
  | 2
  /**
   * Raw bytes (used by STATE_PART_WORKER).
   */
  | 'TENSOR_DTYPE_BYTES'
  | 3

export type TensorDtype__Output = typeof TensorDtype[keyof typeof TensorDtype]
