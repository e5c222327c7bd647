/**
 * `coordinator bench allreduce [--workers N] [--sizes 1,4,16,64] [--wires fp32,fp16,bf16] [--transports tcp,grpc] [--iterations 5]`:
 * ring all-reduce between N real worker processes, with the bandwidth of a plain TCP socket between
 * two processes measured in the same run as the ceiling. algbw and busbw as nccl-tests define them.
 */
import { flagValue } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { benchAllReduce } from './allreduce.js';
import { TRANSPORTS, type Transport } from '../../worker/collective/peers.js';
import { WIRE_NAMES, type WireName } from '../../worker/collective/wire.js';

const DEFAULT_SIZES_MIB = '1,4,16,64';
const DEFAULT_ITERATIONS = 5;

function list(args: string[], name: string, fallback: string): string[] {
  return (flagValue(args, name) ?? fallback).split(',').filter((s) => s.length > 0);
}

function int(args: string[], name: string): number | undefined {
  const v = flagValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(name, `--${name} ${v}: must be an integer > 0`);
  return n;
}

export async function benchAllReduceCommand(args: string[], workers: number, json: boolean, progress?: (msg: string, fields: object) => void): Promise<number> {
  const wires = list(args, 'wires', WIRE_NAMES.join(',')).map((w): WireName => {
    const found = WIRE_NAMES.find((n) => n === w);
    if (!found) throw new ConfigError('wires', `'${w}' is not one of ${WIRE_NAMES.join(', ')}`);
    return found;
  });
  const sizesMiB = list(args, 'sizes', DEFAULT_SIZES_MIB).map((s) => {
    const n = Number(s);
    if (!(n > 0)) throw new ConfigError('sizes', `'${s}' is not a size in MiB`);
    return n;
  });
  const transports = list(args, 'transports', TRANSPORTS.join(',')).map((t): Transport => {
    const found = TRANSPORTS.find((n) => n === t);
    if (!found) throw new ConfigError('transports', `'${t}' is not one of ${TRANSPORTS.join(', ')}`);
    return found;
  });
  const result = await benchAllReduce({
    workers, sizesMiB, wires, transports, iterations: int(args, 'iterations') ?? DEFAULT_ITERATIONS,
    chunkBytes: int(args, 'chunk-bytes'), pipelineDepth: int(args, 'pipeline-depth'), ...(progress ? { progress } : {}),
  });
  if (json) { process.stdout.write(JSON.stringify(result) + '\n'); return 0; }
  const gb = (x: number): string => x.toFixed(3).padStart(7);
  const ts = [...new Set(result.rows.map((r) => r.transport))];
  process.stdout.write(`ring all-reduce, ${result.workers} worker processes, chunk ${result.chunkBytes} B, pipeline depth ${result.pipelineDepth}\n` +
    `TCP ceiling (2 processes, one socket):                  ${gb(result.tcp.GBps)} GB/s\n` +
    `TCP ring ceiling (${result.workers} processes, all links at once): ${gb(result.tcpRing.perLinkGBps)} GB/s per link\n` +
    `  MiB  wire ${ts.map((t) => `| ${t.padEnd(4)} time ms   busbw  /tcp /ring `).join('')}  (GB/s = 1e9 B/s, busbw = algbw x 2(N-1)/N)\n`);
  const keys = [...new Set(result.rows.map((r) => `${r.sizeMiB} ${r.wire}`))];
  for (const key of keys) {
    const rows = ts.map((t) => result.rows.find((r) => `${r.sizeMiB} ${r.wire}` === key && r.transport === t));
    const first = rows.find((r) => r !== undefined);
    if (!first) continue;
    process.stdout.write(`${String(first.sizeMiB).padStart(5)}  ${first.wire} ` + rows.map((r) => (r
      ? `| ${r.timeMs.toFixed(1).padStart(12)} ${gb(r.busbwGBps)} ${r.busbwOverTcp.toFixed(2).padStart(5)} ${r.busbwOverTcpRing.toFixed(2).padStart(5)} `
      : '|' + ' '.repeat(33))).join('') + '\n');
  }
  return 0;
}
