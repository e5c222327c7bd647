/**
 * `node dist/bench/allreduce.js [--workers 4] [--sizes 1,4,16,64] [--wires fp32,fp16,bf16]
 *   [--iterations 5] [--chunk-bytes 1048576] [--pipeline-depth 4]`: runs benchAllReduce and prints its
 * result as JSON on stdout and a table on stderr. (The `coordinator bench allreduce` command wraps the
 * same function.)
 */
import { flagValue } from '../shared/config.js';
import { benchAllReduce } from '../worker/collective/bench_allreduce.js';
import { WIRE_NAMES, type WireName } from '../worker/collective/wire.js';

function list(args: string[], name: string, fallback: string): string[] {
  return (flagValue(args, name) ?? fallback).split(',').filter((s) => s.length > 0);
}

function optionalInt(args: string[], name: string): number | undefined {
  const v = flagValue(args, name);
  return v === undefined ? undefined : Number(v);
}

const args = process.argv.slice(2);
const wires = list(args, 'wires', 'fp32,fp16,bf16').map((w): WireName => {
  const found = WIRE_NAMES.find((n) => n === w);
  if (!found) throw new Error(`--wires: '${w}' is not one of ${WIRE_NAMES.join(', ')}`);
  return found;
});
const result = await benchAllReduce({
  workers: Number(flagValue(args, 'workers') ?? 4),
  sizesMiB: list(args, 'sizes', '1,4,16,64').map(Number),
  wires,
  iterations: Number(flagValue(args, 'iterations') ?? 5),
  warmup: optionalInt(args, 'warmup'),
  chunkBytes: optionalInt(args, 'chunk-bytes'),
  pipelineDepth: optionalInt(args, 'pipeline-depth'),
});
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
const gb = (x: number): string => x.toFixed(3).padStart(7);
process.stderr.write(`workers ${result.workers}, chunk ${result.chunkBytes} B, depth ${result.pipelineDepth}; ` +
  `tcp ceiling ${gb(result.tcp.GBps)} GB/s (CPU-bound ${gb(result.tcp.cpuBoundGBps)})\n` +
  '  size  wire    time ms   algbw   busbw  busbw/tcp  cpu ms/rank  cpu-bound busbw\n');
for (const r of result.rows)
  process.stderr.write(`${String(r.sizeMiB).padStart(6)}  ${r.wire}  ${r.timeMs.toFixed(1).padStart(9)} ${gb(r.algbwGBps)} ${gb(r.busbwGBps)}  ${r.busbwOverTcp.toFixed(2).padStart(9)}  ${r.cpuMsPerRank.toFixed(1).padStart(11)}  ${gb(r.cpuBoundBusbwGBps)}\n`);
