/**
 * Chooses the TensorFlow.js backend at start. Order for `auto`: tensorflow (tfjs-node-gpu, then
 * tfjs-node: native libtensorflow, CUDA where present), wasm (SIMD, one thread per process in Node),
 * cpu (plain JS, ~40x slower than wasm on matMul). The chosen backend is logged by the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BackendName } from './config.js';

export { tf };

export interface BackendInfo {
  /** The backend tfjs reports after setBackend. */
  name: string;
  /** Why this one: requested, or what auto tried and why each earlier choice failed. */
  tried: Array<{ backend: string; ok: boolean; reason?: string }>;
}

const require = createRequire(import.meta.url);

async function tryNative(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
    } catch {
      // not installed or its libtensorflow is missing: next candidate
    }
  }
  return undefined;
}

async function tryWasm(): Promise<void> {
  // Node cannot fetch the .wasm by URL: point tfjs at the files inside the installed package.
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  setWasmPaths(path.dirname(wasmFile) + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
}

/** Selects and initialises the backend; throws naming the backend when an explicit choice fails. */
export async function initBackend(requested: BackendName): Promise<BackendInfo> {
  const tried: BackendInfo['tried'] = [];
  const attempt = async (backend: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      await tf.ready();
      tried.push({ backend, ok: true });
      return true;
    } catch (e) {
      tried.push({ backend, ok: false, reason: (e as Error).message });
      return false;
    }
  };
  const native = async (): Promise<void> => {
    const pkg = await tryNative();
    if (!pkg) throw new Error('neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed and loadable');
  };
  const cpu = async (): Promise<void> => { if (!(await tf.setBackend('cpu'))) throw new Error('setBackend("cpu") failed'); };

  if (requested === 'auto') {
    (await attempt('tensorflow', native)) || (await attempt('wasm', tryWasm)) || (await attempt('cpu', cpu));
  } else {
    const fn = requested === 'tensorflow' ? native : requested === 'wasm' ? tryWasm : requested === 'cpu' ? cpu : undefined;
    if (!fn) throw new Error(`backend '${requested}' is not available in this build; use one of auto, tensorflow, wasm, cpu`);
    if (!(await attempt(requested, fn)))
      throw new Error(`backend '${requested}' could not start: ${tried.at(-1)?.reason ?? 'unknown reason'}`);
  }
  return { name: tf.getBackend(), tried };
}
