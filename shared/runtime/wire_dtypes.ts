/**
 * The all-reduce wire formats by name and as the proto enum: what the coordinator announces in a
 * ring formation and the worker's ring encodes (worker/collective/wire.ts holds the codecs).
 */
import type { WireDtype__Output } from '../../proto/gen/dsi/v1/WireDtype.js';

export const WIRE_NAMES = ['fp32', 'fp16', 'bf16'] as const;
export type WireName = (typeof WIRE_NAMES)[number];

/** The proto enum value of each wire format. */
export const WIRE_DTYPES: Readonly<Record<WireName, WireDtype__Output>> = {
  fp32: 'WIRE_DTYPE_FP32',
  fp16: 'WIRE_DTYPE_FP16',
  bf16: 'WIRE_DTYPE_BF16',
};

export function wireFromDtype(dtype: WireDtype__Output): WireName | undefined {
  return WIRE_NAMES.find((w) => WIRE_DTYPES[w] === dtype);
}
