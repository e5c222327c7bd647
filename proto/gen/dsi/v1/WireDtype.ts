// Original file: proto/dsi/v1/collective.proto

/**
 * Element format of RingChunk.data. Reduction always accumulates in fp32; the wire format only
 * decides how values travel (and where precision is lost: see worker/collective/wire.ts).
 */
export const WireDtype = {
  WIRE_DTYPE_UNSPECIFIED: 'WIRE_DTYPE_UNSPECIFIED',
  /**
   * IEEE binary32, 4 bytes per element: exact.
   */
  WIRE_DTYPE_FP32: 'WIRE_DTYPE_FP32',
  /**
   * IEEE binary16, 2 bytes: 11-bit significand, max 65504; round-to-nearest-even from fp32.
   */
  WIRE_DTYPE_FP16: 'WIRE_DTYPE_FP16',
  /**
   * bfloat16 (upper half of binary32), 2 bytes: 8-bit significand, fp32 range; round-to-nearest-even.
   */
  WIRE_DTYPE_BF16: 'WIRE_DTYPE_BF16',
} as const;

/**
 * Element format of RingChunk.data. Reduction always accumulates in fp32; the wire format only
 * decides how values travel (and where precision is lost: see worker/collective/wire.ts).
 */
export type WireDtype =
  | 'WIRE_DTYPE_UNSPECIFIED'
  | 0
  /**
   * IEEE binary32, 4 bytes per element: exact.
   */
  | 'WIRE_DTYPE_FP32'
  | 1
  /**
   * IEEE binary16, 2 bytes: 11-bit significand, max 65504; round-to-nearest-even from fp32.
   */
  | 'WIRE_DTYPE_FP16'
  | 2
  /**
   * bfloat16 (upper half of binary32), 2 bytes: 8-bit significand, fp32 range; round-to-nearest-even.
   */
  | 'WIRE_DTYPE_BF16'
  | 3

/**
 * Element format of RingChunk.data. Reduction always accumulates in fp32; the wire format only
 * decides how values travel (and where precision is lost: see worker/collective/wire.ts).
 */
export type WireDtype__Output = typeof WireDtype[keyof typeof WireDtype]
