/**
 * All-reduce benchmark: N real worker processes form a ring on 127.0.0.1 over each transport (raw TCP
 * and gRPC, alternating size by size so both see the same load) and all-reduce buffers of each size in
 * each wire format. Two ceilings are measured in the same run: a plain TCP socket between two processes
 * (the spec's), and N processes each sending to the next over plain sockets at once (what N ranks on
 * this host's cores can move per link at best, before any reduction). Figures follow nccl-tests
 * (doc/PERFORMANCE.md there):
 *   algbw = S / t, with S the fp32 buffer size in bytes (whatever the wire format) and t the time;
 *   busbw = algbw * 2(N-1)/N, the per-link rate a ring all-reduce needs for that time, comparable
 *           with a link's bandwidth whatever N.
 * t is, per size and wire, the median over iterations of the slowest rank's time; every timed call
 * follows a 1-element all-reduce so all ranks start together. GB/s are 1e9 bytes per second.
 * With netns hosts (netns_hosts.ts) each rank runs on a host of its own behind a link shaped to a
 * known rate, and busbw / link rate is the figure NCCL's users read: how much of the link the ring uses.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_CHUNK_BYTES, DEFAULT_PIPELINE_DEPTH, DEFAULT_TIMEOUT_MS } from '../../worker/collective/ring.js';
import type { Transport } from '../../worker/collective/peers.js';
import { TRANSPORTS } from '../../worker/collective/peers.js';
import { ProcessRing, RingProcess } from './ring_cluster.js';
import type { WireName } from '../../worker/collective/wire.js';
import type { NetnsHosts } from './netns_hosts.js';

const MiB = 1 << 20;
/** Untimed all-reduces per size and wire before the timed ones (connections, JIT, allocations). */
export const DEFAULT_WARMUP = 2;
/** The TCP ceiling moves this much per iteration (the size the 4-worker goal is set at). */
export const DEFAULT_TCP_BYTES = 64 * MiB;
const TCP_PROCESS_CLOSE_GRACE_MS = 5_000;

export interface BenchOptions {
  workers: number;
  sizesMiB: number[];
  wires: WireName[];
  iterations: number;
  /** @default DEFAULT_WARMUP */
  warmup?: number;
  /** @default ring.ts DEFAULT_CHUNK_BYTES */
  chunkBytes?: number;
  /** @default ring.ts DEFAULT_PIPELINE_DEPTH */
  pipelineDepth?: number;
  /** @default DEFAULT_TCP_BYTES */
  tcpBytes?: number;
  /** Each item done (a terminal's progress bar: LogConsole.progress); nothing is logged. */
  progress?: (msg: string, fields: object) => void;
  /** @default every transport */
  transports?: Transport[];
  /** Rank i on host rankHost(i) of these, each behind its own shaped link; @default all on 127.0.0.1 */
  hosts?: NetnsHosts;
}

export interface BenchRow {
  transport: Transport;
  sizeMiB: number;
  /** fp32 buffer size S. */
  bytes: number;
  wire: WireName;
  /** Median over iterations of the slowest rank's time. */
  timeMs: number;
  minMs: number;
  maxMs: number;
  algbwGBps: number;
  busbwGBps: number;
  /** busbw / the TCP ceiling. */
  busbwOverTcp: number;
  /** busbw / the N-process TCP ring ceiling. */
  busbwOverTcpRing: number;
  /** CPU time (user + system) of one all-reduce, mean over ranks: independent of how busy the host is. */
  cpuMsPerRank: number;
  /** busbw from cpuMsPerRank instead of the wall time: the rate with a free core per rank and an ideal network. */
  cpuBoundBusbwGBps: number;
  /** busbw / the link's rate (netns hosts); null on loopback, which has no rate. */
  busbwOverLink: number | null;
  /** Gradient elements (samples of the buffer, whatever the wire format) reduced per second: where fp16/bf16 win. */
  elementsPerS: number;
}

export interface BenchResult {
  workers: number;
  iterations: number;
  warmup: number;
  chunkBytes: number;
  pipelineDepth: number;
  host: { cpus: number; node: string; platform: string };
  rows: BenchRow[];
  /** One TCP stream between two processes: `bytes` in `timeMs` (median), `GBps`; CPU ms per transfer of each side. */
  tcp: { bytes: number; timeMs: number; GBps: number; senderCpuMs: number; receiverCpuMs: number; cpuBoundGBps: number };
  /** N processes, each sending `bytesPerLink` to the next while receiving as much (median of the slowest). */
  tcpRing: { workers: number; bytesPerLink: number; timeMs: number; perLinkGBps: number };
  /** With netns hosts: each link's rate (both directions) and the hosts' description; null on loopback. */
  link: { rateBps: number; GBps: number; hosts: string } | null;
  notes: string[];
}

export async function benchAllReduce(opts: BenchOptions): Promise<BenchResult> {
  const { workers, sizesMiB, wires, iterations } = opts;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers: ${workers} is not an integer >= 1`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations: ${iterations} is not an integer >= 1`);
  if (sizesMiB.some((s) => !(s > 0))) throw new Error(`sizesMiB: ${sizesMiB.join(',')} must all be > 0`);
  const warmup = opts.warmup ?? DEFAULT_WARMUP;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const pipelineDepth = opts.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH;
  const tcpBytes = opts.tcpBytes ?? DEFAULT_TCP_BYTES;

  // 1) the TCP ceiling, first, while nothing else runs
  const { hosts } = opts;
  const linkGBps = hosts ? hosts.linkRateBps / 8 / 1e9 : undefined;
  const tcp = await measureTcp(tcpBytes, warmup, iterations, hosts);

  // 2) the N-process ceiling: what a 64 MiB all-reduce sends per link, on plain sockets
  const tcpRing = await measureTcpRing(workers, Math.round((tcpBytes * 2 * (workers - 1)) / workers), warmup, iterations, hosts);

  // 3) the rings, one per transport; transports alternate size by size and wire by wire
  const transports = opts.transports ?? [...TRANSPORTS];
  const rings = new Map<Transport, ProcessRing>();
  const rows: BenchRow[] = [];
  try {
    for (const transport of transports)
      rings.set(transport, await ProcessRing.start({ worldSize: workers, transport, runId: `bench-${transport}`, chunkBytes, pipelineDepth, timeoutMs: DEFAULT_TIMEOUT_MS, ...(hosts ? { hosts } : {}) }));
    const steps = new Map<Transport, number>(transports.map((t) => [t, 0]));
    for (const sizeMiB of sizesMiB) {
      const elements = Math.floor((sizeMiB * MiB) / 4);
      const bytes = elements * 4;
      for (const wire of wires) for (const transport of transports) {
        const ring = rings.get(transport) as ProcessRing;
        const step = steps.get(transport) as number;
        const cpu0 = await ring.cpuMs();
        const perRank = await ring.bench(step, elements, wire, warmup, iterations); // [rank][iteration]
        const cpu1 = await ring.cpuMs();
        steps.set(transport, step + 2 * (warmup + iterations));
        // every call of the bench (warm-up included) is one all-reduce plus a 1-element barrier
        const cpuMsPerRank = cpu1.reduce((s, c, r) => s + c - (cpu0[r] ?? 0), 0) / workers / (warmup + iterations);
        const slowest = Array.from({ length: iterations }, (_, i) => Math.max(...perRank.map((t) => t[i] ?? NaN)));
        const timeMs = median(slowest);
        const algbwGBps = bytes / (timeMs / 1000) / 1e9;
        const busbwGBps = busbw(bytes, timeMs, workers);
        opts.progress?.('progress', { stage: 'bench allreduce', done: rows.length + 1, total: sizesMiB.length * wires.length * transports.length, unit: 'measurements' });
        rows.push({ transport, sizeMiB, bytes, wire, timeMs, minMs: Math.min(...slowest), maxMs: Math.max(...slowest),
          algbwGBps, busbwGBps, busbwOverTcp: busbwGBps / tcp.GBps, busbwOverTcpRing: busbwGBps / tcpRing.perLinkGBps,
          cpuMsPerRank, cpuBoundBusbwGBps: busbw(bytes, cpuMsPerRank, workers),
          busbwOverLink: linkGBps ? busbwGBps / linkGBps : null, elementsPerS: elements / (timeMs / 1000) });
      }
    }
  } finally {
    await Promise.all([...rings.values()].map((r) => r.close()));
  }
  return {
    workers, iterations, warmup, chunkBytes, pipelineDepth,
    host: { cpus: availableParallelism(), node: process.version, platform: process.platform },
    rows, tcp, tcpRing,
    link: hosts && linkGBps ? { rateBps: hosts.linkRateBps, GBps: linkGBps, hosts: hosts.describe() } : null,
    notes: [
      'algbw = fp32 bytes / time; busbw = algbw * 2(N-1)/N (nccl-tests); GB/s = 1e9 B/s',
      'time = median over iterations of the slowest rank; each timed all-reduce follows a 1-element barrier all-reduce',
      `tcp = one node:net stream between two processes, ${tcpBytes} bytes, median of ${iterations}`,
      `tcpRing = ${workers} processes in a ring, each sending ${tcpRing.bytesPerLink} bytes (a ${tcpBytes}-byte all-reduce's share per link) to the next at once; per-link GB/s, median of the slowest`,
      `all ${workers} processes share ${availableParallelism()} CPU cores; cpuBound* figures use CPU time instead of wall time`,
      ...(hosts ? [`each rank on its own netns host (${hosts.describe()}); busbwOverLink = busbw / link rate (1e9 bit/s = 0.125 GB/s)`] : []),
    ],
  };
}

async function measureTcp(bytes: number, warmup: number, iterations: number, hosts: NetnsHosts | undefined): Promise<BenchResult['tcp']> {
  const [sink, sender] = await Promise.all([RingProcess.spawn(0, hosts), RingProcess.spawn(1, hosts)]);
  try {
    const port = await sink.request({ type: 'tcp-sink', bytes });
    if (port.type !== 'tcp-port') throw new Error(`expected 'tcp-port', got '${port.type}'`);
    const times: number[] = [];
    const blast = async (): Promise<number> => {
      const done = await sender.request({ type: 'tcp-blast', host: sink.host, port: port.port, bytes });
      if (done.type !== 'tcp-done') throw new Error(`expected 'tcp-done', got '${done.type}'`);
      return done.ms;
    };
    for (let i = 0; i < warmup; i++) await blast();
    const [s0, r0] = await Promise.all([sender.cpuMs(), sink.cpuMs()]);
    for (let i = 0; i < iterations; i++) times.push(await blast());
    const [s1, r1] = await Promise.all([sender.cpuMs(), sink.cpuMs()]);
    const timeMs = median(times);
    const senderCpuMs = (s1 - s0) / iterations;
    const receiverCpuMs = (r1 - r0) / iterations;
    return { bytes, timeMs, GBps: bytes / (timeMs / 1000) / 1e9, senderCpuMs, receiverCpuMs,
      cpuBoundGBps: bytes / (Math.max(senderCpuMs, receiverCpuMs) / 1000) / 1e9 };
  } finally {
    await Promise.all([sink.close(TCP_PROCESS_CLOSE_GRACE_MS), sender.close(TCP_PROCESS_CLOSE_GRACE_MS)]);
  }
}

async function measureTcpRing(workers: number, bytesPerLink: number, warmup: number, iterations: number, hosts: NetnsHosts | undefined): Promise<BenchResult['tcpRing']> {
  const procs = await Promise.all(Array.from({ length: workers }, (_, i) => RingProcess.spawn(i, hosts)));
  try {
    const ports = await Promise.all(procs.map(async (p) => {
      const m = await p.request({ type: 'tcp-ring-listen' });
      if (m.type !== 'tcp-port') throw new Error(`expected 'tcp-port', got '${m.type}'`);
      return m.port;
    }));
    await Promise.all(procs.map((p, i) => p.request({ type: 'tcp-ring-connect', host: (procs[(i + 1) % workers] as RingProcess).host, port: ports[(i + 1) % workers] as number })));
    const round = async (): Promise<number> => {
      const ms = await Promise.all(procs.map(async (p) => {
        const m = await p.request({ type: 'tcp-ring-run', bytes: bytesPerLink });
        if (m.type !== 'tcp-done') throw new Error(`expected 'tcp-done', got '${m.type}'`);
        return m.ms;
      }));
      return Math.max(...ms);
    };
    for (let i = 0; i < warmup; i++) await round();
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) times.push(await round());
    const timeMs = median(times);
    return { workers, bytesPerLink, timeMs, perLinkGBps: bytesPerLink / (timeMs / 1000) / 1e9 };
  } finally {
    await Promise.all(procs.map((p) => p.close(TCP_PROCESS_CLOSE_GRACE_MS)));
  }
}

/** nccl-tests' bus bandwidth of an all-reduce of `bytes` in `ms` over `workers` ranks, GB/s. */
function busbw(bytes: number, ms: number, workers: number): number {
  return ((bytes / (ms / 1000) / 1e9) * 2 * (workers - 1)) / workers;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
