/**
 * Messages between a parent (tests, benchmark) and the ring processes it forks (ring_process.ts), over
 * Node's IPC channel with `serialization: 'advanced'` (typed arrays travel as typed arrays).
 * Addresses come over IPC rather than argv because every process binds port 0 first; the TCP probes
 * dial the host they are given (the peer's, on its own netns host, or 127.0.0.1).
 */
import { TRANSPORTS, type Transport } from '../../worker/collective/peers.js';
import { WIRE_NAMES, type WireName } from '../../worker/collective/wire.js';

export type ToRingProcess =
  | { type: 'form'; id: number; transport: Transport; runId: string; epoch: number; rank: number; addresses: string[]; chunkBytes: number; timeoutMs: number; pipelineDepth: number }
  | { type: 'allreduce'; id: number; step: number; wire: WireName; input: Float32Array }
  /** `iterations` timed all-reduces of `elements` floats, each after a 1-element all-reduce (barrier). */
  | { type: 'bench'; id: number; firstStep: number; elements: number; wire: WireName; warmup: number; iterations: number }
  | { type: 'tcp-sink'; id: number; bytes: number }
  | { type: 'tcp-blast'; id: number; host: string; port: number; bytes: number }
  /** Ring TCP ceiling: listen, then connect to `port` (the right neighbour's) once it is known. */
  | { type: 'tcp-ring-listen'; id: number }
  | { type: 'tcp-ring-connect'; id: number; host: string; port: number }
  /** Send `bytes` to the right while receiving `bytes` from the left; reply with the milliseconds. */
  | { type: 'tcp-ring-run'; id: number; bytes: number }
  /** This process's CPU time so far (user + system). */
  | { type: 'cpu'; id: number }
  | { type: 'close'; id: number };

export type FromRingProcess =
  | { type: 'listening'; address: string }
  | { type: 'formed'; id: number }
  | { type: 'allreduced'; id: number; output: Float32Array; overflow: boolean }
  | { type: 'bench-done'; id: number; timesMs: number[] }
  | { type: 'tcp-port'; id: number; port: number }
  | { type: 'tcp-done'; id: number; ms: number }
  | { type: 'cpu-time'; id: number; cpuMs: number }
  | { type: 'closed'; id: number }
  | { type: 'failed'; id: number; name: string; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function num(m: Record<string, unknown>, key: string): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`ring IPC message '${String(m['type'])}': field '${key}' is ${String(v)}, expected a number`);
  return v;
}

function str(m: Record<string, unknown>, key: string): string {
  const v = m[key];
  if (typeof v !== 'string') throw new Error(`ring IPC message '${String(m['type'])}': field '${key}' is ${String(v)}, expected a string`);
  return v;
}

function wire(m: Record<string, unknown>): WireName {
  const w = WIRE_NAMES.find((n) => n === m['wire']);
  if (!w) throw new Error(`ring IPC message '${String(m['type'])}': field 'wire' is ${String(m['wire'])}, expected one of ${WIRE_NAMES.join(', ')}`);
  return w;
}

export function parseToRingProcess(m: unknown): ToRingProcess {
  if (!isRecord(m)) throw new Error(`ring IPC message is ${String(m)}, expected an object`);
  const id = num(m, 'id');
  switch (m['type']) {
    case 'form': {
      const addresses = m['addresses'];
      if (!Array.isArray(addresses) || !addresses.every((a): a is string => typeof a === 'string'))
        throw new Error(`ring IPC message 'form': field 'addresses' is not a list of strings`);
      const transport = TRANSPORTS.find((t) => t === m['transport']);
      if (!transport) throw new Error(`ring IPC message 'form': field 'transport' is ${String(m['transport'])}, expected one of ${TRANSPORTS.join(', ')}`);
      return { type: 'form', id, transport, runId: str(m, 'runId'), epoch: num(m, 'epoch'), rank: num(m, 'rank'), addresses,
        chunkBytes: num(m, 'chunkBytes'), timeoutMs: num(m, 'timeoutMs'), pipelineDepth: num(m, 'pipelineDepth') };
    }
    case 'allreduce': {
      const input = m['input'];
      if (!(input instanceof Float32Array)) throw new Error(`ring IPC message 'allreduce': field 'input' is not a Float32Array`);
      return { type: 'allreduce', id, step: num(m, 'step'), wire: wire(m), input };
    }
    case 'bench':
      return { type: 'bench', id, firstStep: num(m, 'firstStep'), elements: num(m, 'elements'), wire: wire(m), warmup: num(m, 'warmup'), iterations: num(m, 'iterations') };
    case 'tcp-sink':
      return { type: 'tcp-sink', id, bytes: num(m, 'bytes') };
    case 'tcp-blast':
      return { type: 'tcp-blast', id, host: str(m, 'host'), port: num(m, 'port'), bytes: num(m, 'bytes') };
    case 'tcp-ring-listen':
      return { type: 'tcp-ring-listen', id };
    case 'tcp-ring-connect':
      return { type: 'tcp-ring-connect', id, host: str(m, 'host'), port: num(m, 'port') };
    case 'tcp-ring-run':
      return { type: 'tcp-ring-run', id, bytes: num(m, 'bytes') };
    case 'cpu':
      return { type: 'cpu', id };
    case 'close':
      return { type: 'close', id };
    default:
      throw new Error(`ring IPC message type '${String(m['type'])}' is unknown`);
  }
}

export function parseFromRingProcess(m: unknown): FromRingProcess {
  if (!isRecord(m)) throw new Error(`ring IPC reply is ${String(m)}, expected an object`);
  switch (m['type']) {
    case 'listening':
      return { type: 'listening', address: str(m, 'address') };
    case 'formed': case 'closed':
      return { type: m['type'], id: num(m, 'id') };
    case 'allreduced': {
      const output = m['output'];
      if (!(output instanceof Float32Array)) throw new Error(`ring IPC reply 'allreduced': field 'output' is not a Float32Array`);
      return { type: 'allreduced', id: num(m, 'id'), output, overflow: m['overflow'] === true };
    }
    case 'bench-done': {
      const times = m['timesMs'];
      if (!Array.isArray(times) || !times.every((t): t is number => typeof t === 'number'))
        throw new Error(`ring IPC reply 'bench-done': field 'timesMs' is not a list of numbers`);
      return { type: 'bench-done', id: num(m, 'id'), timesMs: times };
    }
    case 'tcp-port':
      return { type: 'tcp-port', id: num(m, 'id'), port: num(m, 'port') };
    case 'tcp-done':
      return { type: 'tcp-done', id: num(m, 'id'), ms: num(m, 'ms') };
    case 'cpu-time':
      return { type: 'cpu-time', id: num(m, 'id'), cpuMs: num(m, 'cpuMs') };
    case 'failed':
      return { type: 'failed', id: num(m, 'id'), name: str(m, 'name'), message: str(m, 'message') };
    default:
      throw new Error(`ring IPC reply type '${String(m['type'])}' is unknown`);
  }
}
