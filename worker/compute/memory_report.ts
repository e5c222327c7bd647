/**
 * Where a worker's memory goes, logged as 'memory' after its first step and when it stops: the
 * shared training state by part, the step snapshot, the compute thread's wasm memory and heaps, and
 * what the process's RSS holds beyond them (code, Node's own, allocator slack, freed but kept pages).
 */
import type { SharedSetup } from './protocol.js';
import type { StepThread } from './step_thread.js';

export interface MemoryReport {
  rssBytes: number;
  /** Trainable parameters (full: the whole model) in shared memory. */
  paramsBytes: number;
  /** AdamW's m and v. */
  adamMomentsBytes: number;
  /** The gradient + loss buffer (reduced in place). */
  gradientBytes: number;
  /** lora/qlora: the frozen base's float32 weights (its tensors, NF4 in qlora, are in the wasm memory). */
  frozenBaseBytes: number;
  /** The state before the step in flight, to redo it after a lost worker (rings of 2+). */
  snapshotBytes: number;
  /** The wasm backend's linear memory: weights, gradients and activations of a step; it grows and never shrinks. */
  wasmHeapBytes: number;
  /** Tensors alive between steps (lora/qlora: the frozen base). */
  tensorBytes: number;
  computeThreadHeapBytes: number;
  mainThreadHeapBytes: number;
  /** RSS less everything above. */
  otherBytes: number;
}

export async function memoryReport(thread: StepThread, setup: SharedSetup, snapshotBytes: number): Promise<MemoryReport> {
  const t = await thread.memory();
  const u = process.memoryUsage();
  const parts = {
    paramsBytes: setup.params.byteLength,
    adamMomentsBytes: setup.m.byteLength + setup.v.byteLength,
    gradientBytes: setup.fused.byteLength,
    frozenBaseBytes: setup.adapted ? setup.baseParams.byteLength : 0,
    snapshotBytes,
    wasmHeapBytes: t.wasmHeapBytes,
    computeThreadHeapBytes: t.heapUsedBytes,
    mainThreadHeapBytes: u.heapUsed,
  };
  const known = Object.values(parts).reduce((a, b) => a + b, 0);
  return { rssBytes: u.rss, ...parts, tensorBytes: t.tensorBytes, otherBytes: u.rss - known };
}
