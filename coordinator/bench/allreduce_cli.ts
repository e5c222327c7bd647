/**
 * `coordinator bench allreduce [--workers N] [--sizes 1,4,16,64] [--wires fp32,fp16,bf16] [--transports tcp,grpc] [--iterations 5]
 *  [--hosts local|netns --link-rate 1gbit]`: ring all-reduce between N real worker processes, with the
 * bandwidth of a plain TCP socket between two processes measured in the same run as the ceiling.
 * algbw and busbw as nccl-tests define them. --hosts netns puts each rank on a network-namespace host
 * of its own behind a link shaped to --link-rate (root only) and adds busbw / link rate.
 */
import { flagValue } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { benchAllReduce, type BenchResult } from './allreduce.js';
import { TRANSPORTS, type Transport } from '../../worker/collective/peers.js';
import { WIRE_NAMES, type WireName } from '../../worker/collective/wire.js';
import { formatLinkRate, parseLinkRate } from './link_rate.js';
import { NetnsHosts, netnsUnavailable } from './netns_hosts.js';
import { rankHost } from './ring_cluster.js';

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
  const hosts = await netnsHosts(args, workers);
  let result: BenchResult;
  try {
    result = await benchAllReduce({
      workers, sizesMiB, wires, transports, iterations: int(args, 'iterations') ?? DEFAULT_ITERATIONS,
      chunkBytes: int(args, 'chunk-bytes'), pipelineDepth: int(args, 'pipeline-depth'), ...(progress ? { progress } : {}), ...(hosts ? { hosts } : {}),
    });
  } finally {
    await hosts?.close();
  }
  process.stdout.write(json ? JSON.stringify(result) + '\n' : formatAllReduce(result));
  return 0;
}

/** --hosts netns: one host per rank behind --link-rate links; --hosts local (the default): none. */
async function netnsHosts(args: string[], workers: number): Promise<NetnsHosts | undefined> {
  const where = flagValue(args, 'hosts') ?? 'local';
  const rate = flagValue(args, 'link-rate');
  if (where === 'local') {
    if (rate !== undefined) throw new ConfigError('link-rate', '--link-rate shapes netns hosts\' links: give --hosts netns with it');
    return undefined;
  }
  if (where !== 'netns') throw new ConfigError('hosts', `'${where}' is not one of local, netns`);
  if (rate === undefined) throw new ConfigError('link-rate', '--hosts netns needs --link-rate (e.g. 100mbit, 1gbit, 10gbit)');
  const linkRateBps = parseLinkRate(rate);
  const why = netnsUnavailable();
  if (why) throw new ConfigError('hosts', `--hosts netns: ${why}`);
  return NetnsHosts.create({ hosts: Array.from({ length: workers }, (_, i) => rankHost(i)), linkRateBps });
}

export function formatAllReduce(result: BenchResult): string {
  const gb = (x: number): string => x.toFixed(3).padStart(7);
  const ts = [...new Set(result.rows.map((r) => r.transport))];
  const link = result.link;
  const head = link
    ? `| ${'time ms'.padStart(12)}   busbw /link Melem/s `
    : `| ${'time ms'.padStart(12)}   busbw  /tcp /ring `;
  let out = `ring all-reduce, ${result.workers} worker processes, chunk ${result.chunkBytes} B, pipeline depth ${result.pipelineDepth}\n` +
    (link ? `hosts: ${link.hosts}\nlink rate:                                              ${gb(link.GBps)} GB/s (${formatLinkRate(link.rateBps)})\n` : '') +
    `TCP ceiling (2 processes, one socket):                  ${gb(result.tcp.GBps)} GB/s\n` +
    `TCP ring ceiling (${result.workers} processes, all links at once): ${gb(result.tcpRing.perLinkGBps)} GB/s per link\n` +
    `  MiB  wire ${ts.map((t) => `${t.padEnd(4)} ${head}`).join('')}  (GB/s = 1e9 B/s, busbw = algbw x 2(N-1)/N)\n`;
  const keys = [...new Set(result.rows.map((r) => `${r.sizeMiB} ${r.wire}`))];
  for (const key of keys) {
    const rows = ts.map((t) => result.rows.find((r) => `${r.sizeMiB} ${r.wire}` === key && r.transport === t));
    const first = rows.find((r) => r !== undefined);
    if (!first) continue;
    out += `${String(first.sizeMiB).padStart(5)}  ${first.wire} ` + rows.map((r) => {
      if (!r) return ' '.repeat(5 + head.length);
      const ratios = link
        ? `${(r.busbwOverLink ?? NaN).toFixed(2).padStart(5)} ${(r.elementsPerS / 1e6).toFixed(1).padStart(7)}`
        : `${r.busbwOverTcp.toFixed(2).padStart(5)} ${r.busbwOverTcpRing.toFixed(2).padStart(5)}`;
      return `     | ${r.timeMs.toFixed(1).padStart(12)} ${gb(r.busbwGBps)} ${ratios} `;
    }).join('') + '\n';
  }
  return out;
}
