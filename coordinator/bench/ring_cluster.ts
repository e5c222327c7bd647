/**
 * The parent side of ring_process.ts: forks N real worker processes (each its own event loop and
 * gRPC server on 127.0.0.1:0, or with netns hosts, process i on host rankHost(i) at its address),
 * forms rings over them and drives them over IPC. Used by the tests and by the all-reduce benchmark.
 */
import { type ChildProcess, fork, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CHUNK_BYTES, DEFAULT_PIPELINE_DEPTH, DEFAULT_TIMEOUT_MS } from '../../worker/collective/ring.js';
import type { Transport } from '../../worker/collective/peers.js';
import { type FromRingProcess, parseFromRingProcess, type ToRingProcess } from './ring_ipc.js';
import type { WireName } from '../../worker/collective/wire.js';
import type { NetnsHosts } from './netns_hosts.js';

const RING_PROCESS_SCRIPT = fileURLToPath(new URL('./ring_process.js', import.meta.url));
const LOOPBACK = '127.0.0.1';

/** The netns host rank `index` runs on. */
export function rankHost(index: number): string {
  return `r${index}`;
}

/** A request without its id (RingProcess numbers them). */
type Request = ToRingProcess extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

/** One forked ring process and its pending requests. */
export class RingProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: FromRingProcess) => void; reject: (e: Error) => void }>();
  private exitError: Error | undefined;

  private constructor(readonly child: ChildProcess, readonly address: string, readonly index: number, readonly host: string) {
    child.on('message', (raw: unknown) => {
      let m: FromRingProcess;
      try { m = parseFromRingProcess(raw); } catch (e) { this.failAll(e instanceof Error ? e : new Error(String(e))); return; }
      if (m.type === 'listening') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'failed') p.reject(Object.assign(new Error(m.message), { name: m.name }));
      else p.resolve(m);
    });
    child.on('exit', (code, signal) => this.failAll(new Error(`ring process ${index} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`)));
  }

  /** Process `index` on 127.0.0.1, or on netns host rankHost(index) of `hosts`. */
  static spawn(index: number, hosts?: NetnsHosts): Promise<RingProcess> {
    const host = hosts ? hosts.address(rankHost(index)) : LOOPBACK;
    const options: { serialization: 'advanced'; stdio: StdioOptions } = { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
    const child = hosts
      ? hosts.spawn(rankHost(index), [process.execPath, RING_PROCESS_SCRIPT, '--host', host], options)
      : fork(RING_PROCESS_SCRIPT, [], { ...options, execArgv: [] });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`ring process ${index} exited with code ${code} before listening`));
      child.once('exit', onExit);
      child.once('error', reject);
      child.once('message', (raw: unknown) => {
        child.off('exit', onExit);
        try {
          const m = parseFromRingProcess(raw);
          if (m.type !== 'listening') throw new Error(`ring process ${index} said '${m.type}' before 'listening'`);
          resolve(new RingProcess(child, m.address, index, host));
        } catch (e) { reject(e); child.kill(); }
      });
    });
  }

  request(m: Request): Promise<FromRingProcess> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...m, id });
    });
  }

  /** CPU time (user + system) the process used so far. */
  async cpuMs(): Promise<number> {
    const m = await this.request({ type: 'cpu' });
    if (m.type !== 'cpu-time') throw new Error(`expected 'cpu-time', got '${m.type}'`);
    return m.cpuMs;
  }

  /** Asks the process to close and waits for it to exit; kills it if it does not within `graceMs`. */
  async close(graceMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    this.request({ type: 'close' }).catch(() => undefined);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: a dead peer, for tests. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  private failAll(e: Error): void {
    this.exitError ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

export interface ProcessRingOptions {
  worldSize: number;
  /** @default 'tcp' */
  transport?: Transport;
  runId?: string;
  /** @default DEFAULT_CHUNK_BYTES */
  chunkBytes?: number;
  /** @default DEFAULT_TIMEOUT_MS */
  timeoutMs?: number;
  /** @default DEFAULT_PIPELINE_DEPTH */
  pipelineDepth?: number;
  /** Each rank on its own host (rankHost(rank)) of these; @default every rank on 127.0.0.1 */
  hosts?: NetnsHosts;
}

/** Time a process gets to exit after 'close' before it is killed. */
const CLOSE_GRACE_MS = 5_000;

export class ProcessRing {
  private constructor(readonly processes: RingProcess[]) {}

  /** Forks `worldSize` ring processes and forms one ring over them (rank i = process i). */
  static async start(options: ProcessRingOptions): Promise<ProcessRing> {
    const processes = await Promise.all(Array.from({ length: options.worldSize }, (_, i) => RingProcess.spawn(i, options.hosts)));
    const ring = new ProcessRing(processes);
    try {
      const addresses = processes.map((p) => p.address);
      await Promise.all(processes.map((p, rank) => p.request({
        type: 'form', transport: options.transport ?? 'tcp', runId: options.runId ?? 'bench', epoch: 0, rank, addresses,
        chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        pipelineDepth: options.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH,
      })));
    } catch (e) {
      await ring.close();
      throw e;
    }
    return ring;
  }

  /** Every rank all-reduces its own input; returns each rank's output and overflow flag. */
  async allReduceMean(inputs: Float32Array[], step: number, wire: WireName): Promise<Array<{ output: Float32Array; overflow: boolean }>> {
    const replies = await Promise.all(this.processes.map((p, r) => p.request({ type: 'allreduce', step, wire, input: inputs[r] ?? new Float32Array(0) })));
    return replies.map((m) => {
      if (m.type !== 'allreduced') throw new Error(`expected 'allreduced', got '${m.type}'`);
      return { output: m.output, overflow: m.overflow };
    });
  }

  /** Per rank, the times of `iterations` all-reduces of `elements` floats (after `warmup` untimed ones). */
  async bench(firstStep: number, elements: number, wire: WireName, warmup: number, iterations: number): Promise<number[][]> {
    const replies = await Promise.all(this.processes.map((p) => p.request({ type: 'bench', firstStep, elements, wire, warmup, iterations })));
    return replies.map((m) => {
      if (m.type !== 'bench-done') throw new Error(`expected 'bench-done', got '${m.type}'`);
      return m.timesMs;
    });
  }

  /** CPU time of every rank's process so far. */
  cpuMs(): Promise<number[]> {
    return Promise.all(this.processes.map((p) => p.cpuMs()));
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close(CLOSE_GRACE_MS)));
  }
}
