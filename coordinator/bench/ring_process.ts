/**
 * A process that runs only the collective (its own event loop), driven by its parent over IPC:
 * tests and the all-reduce benchmark fork it as `node dist/coordinator/bench/ring_process.js [--host H]`
 * (with --hosts netns, inside its own namespace host, H its address there).
 * It binds a Collective server on H:0, reports the address, then serves the parent's requests in order
 * (ring_ipc.ts): form a ring, all-reduce, benchmark, TCP ceiling, close. With DSI_TLS_CERT,
 * DSI_TLS_KEY and DSI_TLS_CA in the environment its rings use mutual TLS (the cost of --tls-*).
 */
import { createLogger } from '../../shared/runtime/log.js';
import { flagValue } from '../../shared/runtime/config.js';
import { loadTls } from '../../shared/runtime/security.js';
import { CollectiveServer } from '../../worker/collective/grpc_peer.js';
import { createPeer } from '../../worker/collective/peers.js';
import { Ring } from '../../worker/collective/ring.js';
import { type FromRingProcess, parseToRingProcess, type ToRingProcess } from './ring_ipc.js';
import { tcpBlast, tcpSink, TcpRingProbe } from './tcp_probe.js';

/** Value of every benchmark buffer element before the first all-reduce: any normal number works. */
const BENCH_FILL = 0.5;

async function main(): Promise<void> {
  const log = createLogger().child({ component: 'ring-process', pid: process.pid });
  const host = flagValue(process.argv.slice(2), 'host') ?? '127.0.0.1';
  const env = (k: string): string => process.env[k] ?? '';
  const tls = loadTls({ joinTokenFile: '', insecure: false, metricsTokenFile: '', tlsCert: env('DSI_TLS_CERT'), tlsKey: env('DSI_TLS_KEY'), tlsCa: env('DSI_TLS_CA'), tlsServerName: '' });
  const server = await CollectiveServer.start({ host, log, ...(tls ? { tls } : {}) });
  let ring: Ring | undefined;
  const sinks: Array<() => Promise<void>> = [];
  let ringProbe: TcpRingProbe | undefined;
  const reply = (m: FromRingProcess): void => { process.send?.(m); };

  async function handle(m: ToRingProcess): Promise<void> {
    switch (m.type) {
      case 'form': {
        await ring?.close();
        const peer = createPeer(m.transport, { server, runId: m.runId, epoch: m.epoch, rank: m.rank, addresses: m.addresses, log });
        ring = new Ring(peer, { runId: m.runId, epoch: m.epoch, rank: m.rank, worldSize: m.addresses.length,
          chunkBytes: m.chunkBytes, timeoutMs: m.timeoutMs, pipelineDepth: m.pipelineDepth, log });
        reply({ type: 'formed', id: m.id });
        return;
      }
      case 'allreduce': {
        const r = requireRing(ring);
        const result = await r.allReduceMean(m.input, { step: m.step, wire: m.wire });
        reply({ type: 'allreduced', id: m.id, output: m.input, overflow: result.overflow });
        return;
      }
      case 'bench': {
        const r = requireRing(ring);
        const buffer = new Float32Array(m.elements).fill(BENCH_FILL);
        const barrier = new Float32Array(1);
        const timesMs: number[] = [];
        let step = m.firstStep;
        for (let i = 0; i < m.warmup + m.iterations; i++) {
          await r.allReduceMean(barrier, { step: step++, wire: 'fp32' }); // no rank starts the clock early
          const t0 = performance.now();
          await r.allReduceMean(buffer, { step: step++, wire: m.wire });
          if (i >= m.warmup) timesMs.push(performance.now() - t0);
        }
        reply({ type: 'bench-done', id: m.id, timesMs });
        return;
      }
      case 'tcp-sink': {
        const sink = await tcpSink(m.bytes, host);
        sinks.push(sink.close);
        reply({ type: 'tcp-port', id: m.id, port: sink.port });
        return;
      }
      case 'tcp-blast':
        reply({ type: 'tcp-done', id: m.id, ms: await tcpBlast(m.port, m.bytes, m.host) });
        return;
      case 'tcp-ring-listen': {
        ringProbe = await TcpRingProbe.listen(host);
        sinks.push(() => (ringProbe as TcpRingProbe).close());
        reply({ type: 'tcp-port', id: m.id, port: ringProbe.port });
        return;
      }
      case 'tcp-ring-connect':
        await requireProbe(ringProbe).connect(m.port, m.host);
        reply({ type: 'tcp-done', id: m.id, ms: 0 });
        return;
      case 'tcp-ring-run':
        reply({ type: 'tcp-done', id: m.id, ms: await requireProbe(ringProbe).run(m.bytes) });
        return;
      case 'cpu': {
        const { user, system } = process.cpuUsage(); // microseconds
        reply({ type: 'cpu-time', id: m.id, cpuMs: (user + system) / 1000 });
        return;
      }
      case 'close':
        await ring?.close();
        await Promise.all(sinks.map((close) => close()));
        await server.close();
        reply({ type: 'closed', id: m.id });
        process.disconnect();
        return;
    }
  }

  // one request at a time, in arrival order
  let queue = Promise.resolve();
  process.on('message', (raw: unknown) => {
    queue = queue.then(async () => {
      let id = -1;
      try {
        const m = parseToRingProcess(raw);
        id = m.id;
        await handle(m);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        log.warn({ err }, 'request failed');
        reply({ type: 'failed', id, name: err.name, message: err.message });
      }
    });
  });
  process.on('disconnect', () => { void ring?.close().then(() => server.close()); });
  reply({ type: 'listening', address: server.address });
}

function requireProbe(p: TcpRingProbe | undefined): TcpRingProbe {
  if (!p) throw new Error("no TCP ring probe yet: send 'tcp-ring-listen' first");
  return p;
}

function requireRing(ring: Ring | undefined): Ring {
  if (!ring) throw new Error("no ring formed yet: send 'form' first");
  return ring;
}

main().catch((e: unknown) => {
  process.stderr.write(`ring_process: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
  process.disconnect?.();
});
