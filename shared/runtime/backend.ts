/**
 * Chooses the TensorFlow.js backend at start. Order for `auto`: tensorflow (tfjs-node-gpu, then
 * tfjs-node: native libtensorflow, CUDA where present), webgpu (Dawn; only on a hardware adapter:
 * on a software one wasm is faster), wasm (SIMD, one thread per process in Node), cpu (plain JS,
 * ~40x slower than wasm on matMul). The chosen backend is logged by the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import type { BackendName, WebGpuApi } from './config.js';
import { startWebGpu, type GpuAdapterReport } from './webgpu.js';

export { tf };

export interface BackendInfo {
  /** The backend tfjs reports after setBackend. */
  name: string;
  /** Why this one: requested, or what auto tried and why each earlier choice failed. */
  tried: Array<{ backend: string; ok: boolean; reason?: string }>;
  /** The WebGPU adapter (GPU or software rasteriser) when the backend is webgpu. */
  device?: GpuAdapterReport;
}

export interface BackendOptions {
  /** Dawn backend for webgpu. @default 'auto' (Vulkan, then OpenGL ES) */
  webgpuApi?: WebGpuApi;
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

/** Where Linux exposes GPUs: DRM render nodes (AMD, Intel, NVIDIA open) and NVIDIA's own nodes. */
const GPU_DEVICE_NODES = ['/dev/dri/renderD*', '/dev/nvidia*'];

function hasGpuDeviceNode(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  return dri || (existsSync('/dev') && readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n)));
}

/** Selects and initialises the backend; throws naming the backend when an explicit choice fails. */
export async function initBackend(requested: BackendName, options: BackendOptions = {}): Promise<BackendInfo> {
  const tried: BackendInfo['tried'] = [];
  let device: GpuAdapterReport | undefined;
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
  // a software adapter only when webgpu is named: automatic choice wants a GPU
  const webgpu = (allowSoftware: boolean) => async (): Promise<void> => {
    // a hardware adapter needs a GPU device node; without one, skip loading Dawn (and its warnings on stderr)
    if (!allowSoftware && !hasGpuDeviceNode()) throw new Error(`no GPU device node (${GPU_DEVICE_NODES.join(', ')}): no hardware adapter to look for`);
    device = await startWebGpu({ api: options.webgpuApi ?? 'auto', allowSoftware });
  };

  if (requested === 'auto') {
    (await attempt('tensorflow', native)) || (await attempt('webgpu', webgpu(false))) ||
      (await attempt('wasm', tryWasm)) || (await attempt('cpu', cpu));
  } else {
    const fns = { tensorflow: native, webgpu: webgpu(true), wasm: tryWasm, cpu } as const;
    const fn = fns[requested];
    if (!(await attempt(requested, fn)))
      throw new Error(`backend '${requested}' could not start: ${tried.at(-1)?.reason ?? 'unknown reason'}`);
  }
  const name = tf.getBackend();
  return name === 'webgpu' && device ? { name, tried, device } : { name, tried };
}
