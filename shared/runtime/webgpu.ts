/**
 * TensorFlow.js's WebGPU backend in Node, through Dawn (npm `webgpu`, an optional dependency whose
 * linux-x64 binary ships inside the package). Dawn reaches NVIDIA, AMD and Intel GPUs through
 * Vulkan; with Mesa it also reaches the CPU: llvmpipe through OpenGL ES (Debian 12's Mesa 22.3
 * works there), lavapipe through Vulkan (Mesa >= 23; Dawn refuses 22.3's lavapipe).
 *
 * Node has no `navigator`: Dawn's `gpu` object and its classes (`globals`) are put on globalThis
 * before @tensorflow/tfjs-backend-webgpu is imported, because that module checks `navigator.gpu`
 * when it loads. Its own factory asks for a core-feature-level adapter, which Dawn's OpenGL ES
 * path does not offer, so the backend is registered here with the device this module opened.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGpuApi } from './config.js';

/** The adapter the webgpu backend runs on, as logged and written into run summaries. */
export interface GpuAdapterReport {
  /** Dawn's backend used to reach it. */
  api: 'vulkan' | 'opengles';
  vendor: string;
  architecture: string;
  /** Device name, e.g. 'NVIDIA GeForce RTX 4090' or 'llvmpipe-llvm-15-0-6-256-bits-'. */
  device: string;
  description: string;
  /** software: a rasteriser running on the CPU (llvmpipe, lavapipe, SwiftShader); hardware: a GPU. */
  type: 'software' | 'hardware';
}

/** How to pick the adapter. */
export interface WebGpuOptions {
  /** Which Dawn backend(s) to try; auto: Vulkan, then OpenGL ES. */
  api: WebGpuApi;
  /** Accept a software adapter (CPU). Automatic backend choice does not: wasm is faster there. */
  allowSoftware: boolean;
}

// The parts of Dawn's and tfjs-backend-webgpu's APIs used here (both are loaded at run time:
// `webgpu` is optional, and its WebGPU type declarations are not part of this build).
interface DawnAdapterInfo {
  vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean;
}
interface DawnAdapter {
  info: DawnAdapterInfo;
  features: ReadonlySet<string>;
  limits: Record<string, number>;
  requestDevice(descriptor: object): Promise<object>;
}
interface DawnGpu { requestAdapter(options: object): Promise<DawnAdapter | null> }
interface DawnModule { create(flags: string[]): DawnGpu; globals: object }
interface TfWebGpuModule { WebGPUBackend: new (device: object, adapterInfo: DawnAdapterInfo) => tf.KernelBackend }

/** Names of Mesa's and Google's CPU rasterisers, as adapters report them. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|basic render driver/i;
/** The limits tfjs-backend-webgpu's own factory raises to the adapter's maximum. */
const RAISED_LIMITS = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'];

/**
 * The adapter of each webgpu backend this process registered. A GPU device is a process-wide
 * resource, like tfjs's backend registry it is keyed by: a second initBackend('webgpu') reuses it.
 */
const reports = new WeakMap<tf.KernelBackend, GpuAdapterReport>();

function describe(api: GpuAdapterReport['api'], info: DawnAdapterInfo): GpuAdapterReport {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  const software = info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(text);
  return { api, vendor: info.vendor, architecture: info.architecture, device: info.device,
    description: info.description, type: software ? 'software' : 'hardware' };
}

export function formatAdapter(r: GpuAdapterReport): string {
  return `${r.device || r.description} (${r.type}, ${r.api}${r.vendor ? `, ${r.vendor}` : ''}${r.architecture ? ` ${r.architecture}` : ''})`;
}

/** Asks Dawn for an adapter through one of its backends; null when that backend has none. */
async function requestAdapter(dawn: DawnModule, api: GpuAdapterReport['api']): Promise<{ gpu: DawnGpu; adapter: DawnAdapter } | null> {
  if (api === 'opengles') {
    // Mesa's EGL without a display server: render to no surface (compute only)
    process.env['EGL_PLATFORM'] ??= 'surfaceless';
  }
  const gpu = dawn.create([`backend=${api}`]);
  // Dawn's OpenGL ES backend only offers WebGPU's "compatibility" feature level
  const adapter = await gpu.requestAdapter({
    powerPreference: 'high-performance', featureLevel: api === 'opengles' ? 'compatibility' : 'core',
  });
  return adapter ? { gpu, adapter } : null;
}

/**
 * Finds an adapter, registers tfjs's webgpu backend on it and makes it the current backend.
 * Throws saying what was found (and refused) when no usable adapter exists.
 */
export async function startWebGpu(o: WebGpuOptions): Promise<GpuAdapterReport> {
  const existing = tf.findBackend('webgpu');
  const known = existing ? reports.get(existing) : undefined;
  if (known) {
    if (known.type === 'software' && !o.allowSoftware) throw new Error(`only a software adapter: ${formatAdapter(known)}`);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
    return known;
  }

  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu' as string)) as DawnModule;
  } catch (e) {
    throw new Error(`the optional npm package 'webgpu' (Dawn) is not installed or does not load: ${(e as Error).message}`, { cause: e });
  }
  const apis: Array<GpuAdapterReport['api']> = o.api === 'auto' ? ['vulkan', 'opengles'] : [o.api];
  const refused: string[] = [];
  type Found = { gpu: DawnGpu; adapter: DawnAdapter; report: GpuAdapterReport };
  let chosen: Found | undefined, software: Found | undefined;
  for (const api of apis) {
    const found = await requestAdapter(dawn, api);
    if (!found) { refused.push(`${api}: no adapter`); continue; }
    const report = describe(api, found.adapter.info);
    if (report.type === 'hardware') { chosen = { ...found, report }; break; }
    // a GPU through a later API beats a software rasteriser through an earlier one
    software ??= { ...found, report };
    refused.push(`${api}: only a software adapter, ${formatAdapter(report)}`);
  }
  if (o.allowSoftware) chosen ??= software;
  if (!chosen)
    throw new Error(`no usable WebGPU adapter (${refused.join('; ')})${o.allowSoftware ? '' : '; a software adapter is used only with --backend webgpu'}`);

  // tfjs-backend-webgpu reads navigator.gpu (and GPUBufferUsage etc.) when it is imported
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu: chosen.gpu }, configurable: true, writable: true });
  Object.assign(globalThis, dawn.globals);
  const { WebGPUBackend } = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as TfWebGpuModule;

  const { adapter } = chosen;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) { const v = adapter.limits[name]; if (v !== undefined) requiredLimits[name] = v; }
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const backend = new WebGPUBackend(device, adapter.info);
  // replace the factory the import registered (it would ask for a core adapter of its own)
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => backend);
  // setBackend can fail and leave getBackend() reporting 'webgpu': check both
  if (!(await tf.setBackend('webgpu')) || tf.getBackend() !== 'webgpu')
    throw new Error(`tf.setBackend("webgpu") failed on ${formatAdapter(chosen.report)}`);
  reports.set(backend, chosen.report);
  return chosen.report;
}
