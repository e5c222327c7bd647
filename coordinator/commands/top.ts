/**
 * `coordinator top --coordinator HOST:PORT | --nats-url URL [--run-id ID] [--once] [--interval-ms N]`:
 * a live table, one row per worker. HOST:PORT is the coordinator's monitoring address (logged as
 * `serving /metrics`; its /api/workers is read); from NATS the table is built from the workers' own
 * step messages, for the run given or the newest run in the events stream. `--once` prints one
 * snapshot (once every rank has reported, for NATS) and exits.
 */
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { flagValue, hasFlag } from '../../shared/runtime/config.js';
import { ConfigError } from '../../shared/runtime/errors.js';
import { optionalToken } from '../../shared/runtime/security.js';
import { natsAuth, type NatsAuth } from '../../shared/runtime/telemetry/nats_auth.js';
import { replayEvents } from '../../shared/runtime/telemetry/events.js';
import { parseStepTelemetry, stepSubject, type RunEvent } from '../../shared/runtime/telemetry/payloads.js';
import { TelemetryAggregator } from '../telemetry/aggregator.js';
import { parseWorkersSnapshot, workersSnapshot, type WorkersSnapshot } from '../telemetry/snapshot.js';
import { formatTopTable } from '../telemetry/top_table.js';

/** Refresh interval of the live table. */
const DEFAULT_INTERVAL_MS = 1000;
/** How long connecting to NATS may take before top gives up. */
const NATS_CONNECT_TIMEOUT_MS = 3000;
const FLAGS = new Set(['coordinator', 'nats-url', 'run-id', 'once', 'interval-ms', 'metrics-token-file', 'nats-user', 'nats-password-file', 'nats-creds-file', 'help']);
/** Clear the screen and move home (ANSI), for the live table. */
const CLEAR = '\x1b[H\x1b[2J';

export async function run(args: string[]): Promise<number> {
  if (hasFlag(args, 'help')) {
    process.stdout.write('usage: coordinator top --coordinator HOST:PORT (the monitoring address it logs) | --nats-url URL [--run-id ID] [--once] [--interval-ms N] [--metrics-token-file F] [--nats-user U --nats-password-file F | --nats-creds-file F]\n');
    return 0;
  }
  for (const a of args) {
    const name = a.startsWith('--') ? (a.slice(2).split('=')[0] ?? '') : '';
    if (name && !FLAGS.has(name)) throw new ConfigError(name, `unknown flag --${name}; top takes ${[...FLAGS].map((f) => `--${f}`).join(' ')}`);
  }
  const coordinator = flagValue(args, 'coordinator'), natsUrl = flagValue(args, 'nats-url');
  const once = hasFlag(args, 'once');
  const intervalMs = Number(flagValue(args, 'interval-ms') ?? DEFAULT_INTERVAL_MS);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0) throw new ConfigError('interval-ms', `'${flagValue(args, 'interval-ms')}' is not an integer > 0`);
  if (!coordinator === !natsUrl) throw new ConfigError('coordinator', 'give exactly one of --coordinator HOST:PORT and --nats-url URL');
  const show = (s: WorkersSnapshot): void => { process.stdout.write((once ? '' : CLEAR) + formatTopTable(s)); };
  const token = optionalToken(flagValue(args, 'metrics-token-file') ?? process.env['DSI_METRICS_TOKEN_FILE'] ?? '', 'metrics-token-file');
  if (coordinator) return fromCoordinator(coordinator, once, intervalMs, show, token);
  const env = (k: string): string => process.env[k] ?? '';
  const auth = natsAuth({
    nats: true, natsUrl: '', natsCredsFile: flagValue(args, 'nats-creds-file') ?? env('DSI_NATS_CREDS'), natsUser: flagValue(args, 'nats-user') ?? env('DSI_NATS_USER'),
    natsPasswordFile: flagValue(args, 'nats-password-file') ?? env('DSI_NATS_PASSWORD_FILE'), natsTls: false, metricsPort: -1, metricsHost: '', timeline: false,
  }, { joinTokenFile: '', insecure: false, metricsTokenFile: '', tlsCert: '', tlsKey: '', tlsCa: '', tlsServerName: '' });
  return fromNats(natsUrl as string, flagValue(args, 'run-id'), once, intervalMs, show, auth);   // one of the two is set (checked above)
}

async function fetchSnapshot(base: string, token: string | undefined): Promise<WorkersSnapshot> {
  const url = `${base}/api/workers`;
  let res: Response;
  try { res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {}); } catch (e) { throw new ConfigError('coordinator', `cannot reach ${url}: ${(e as Error).message}`, { cause: e }); }
  if (!res.ok) throw new ConfigError('coordinator', `${url} answered ${res.status}`);
  return parseWorkersSnapshot(await res.json());
}

async function fromCoordinator(hostPort: string, once: boolean, intervalMs: number, show: (s: WorkersSnapshot) => void, token: string | undefined): Promise<number> {
  const base = /^https?:\/\//.test(hostPort) ? hostPort : `http://${hostPort}`;
  show(await fetchSnapshot(base, token));
  if (once) return 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    show(await fetchSnapshot(base, token));
  }
}

/** The run's events so far (run_started gives the world size). */
async function runEvents(nc: NatsConnection, runId: string | undefined): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for await (const e of replayEvents(nc, runId ?? '*')) all.push(e);
  const id = runId ?? [...all].reverse().find((e) => e.type === 'run_started')?.runId;
  if (!id) throw new ConfigError('run-id', 'the events stream holds no run: start one, or give --run-id');
  return all.filter((e) => e.runId === id);
}

async function fromNats(url: string, runIdFlag: string | undefined, once: boolean, intervalMs: number, show: (s: WorkersSnapshot) => void, auth: NatsAuth): Promise<number> {
  let nc: NatsConnection;
  try { nc = await connect({ ...auth, servers: url.split(','), timeout: NATS_CONNECT_TIMEOUT_MS }); } catch (e) {
    throw new ConfigError('nats-url', `cannot connect to ${url}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const events = await runEvents(nc, runIdFlag);
    const started = events.find((e) => e.type === 'run_started');
    const runId = events[0]?.runId ?? runIdFlag ?? '';
    if (!started || started.type !== 'run_started') throw new ConfigError('run-id', `run ${runId} has no run_started event in the events stream`);
    if (events.some((e) => e.type === 'run_finished' || e.type === 'run_failed')) throw new ConfigError('run-id', `run ${runId} has ended: no live telemetry (its events replay from the DSI_EVENTS stream)`);
    const agg = new TelemetryAggregator(runId);
    // NATS is open to more than the run: figures only for ranks and steps the run has
    agg.accept = (t) => t.rank < started.worldSize && t.step <= started.steps;
    const snapshot = (): WorkersSnapshot => workersSnapshot(agg, { telemetry: 'nats', worldSize: started.worldSize });
    const json = JSONCodec<unknown>();
    const sub = nc.subscribe(stepSubject(runId, '*'));
    let timer: NodeJS.Timeout | undefined;
    if (!once) timer = setInterval(() => show(snapshot()), intervalMs);
    try {
      for await (const m of sub) {
        agg.record(parseStepTelemetry(json.decode(m.data)), 'nats');
        if (once && agg.ranks().length >= started.worldSize) break;   // every rank has reported
      }
    } finally {
      clearInterval(timer);
      sub.unsubscribe();
    }
    show(snapshot());
    return 0;
  } finally {
    await nc.close();
  }
}
