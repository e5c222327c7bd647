/**
 * A NATS connection for telemetry that never stands in training's way: it connects in the
 * background and keeps retrying (a server that is down at start is fine), reconnects forever when
 * the server goes away, logs every gap with its length, and drops what cannot be sent while it has
 * never been connected (counted, logged when the gap ends). nats.js buffers publishes during a
 * reconnect, so after the first connection a gap loses nothing that fits its buffer.
 */
import { connect, JSONCodec, Events, type NatsConnection, type Subscription } from 'nats';
import type { NatsAuth } from './nats_auth.js';
import type { Logger } from '../log.js';

/** Pause between connection attempts before the first connection. */
export const DEFAULT_RETRY_MS = 500;
/** nats.js reconnect pause once connected (it retries forever: maxReconnectAttempts -1). */
export const DEFAULT_RECONNECT_WAIT_MS = 250;
/** How long one connection attempt may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;

export interface TelemetryConnectionOptions {
  /** nats://host:port (comma-separated for several). */
  url: string;
  /** Connection name the server shows (e.g. `dsi-worker-rank-1`). */
  name: string;
  /** Credentials and TLS (nats_auth.ts). @default none: an open server */
  auth?: NatsAuth;
  log: Logger;
  /** @default DEFAULT_RETRY_MS */
  retryMs?: number;
  /** @default DEFAULT_RECONNECT_WAIT_MS */
  reconnectWaitMs?: number;
  /** @default DEFAULT_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number;
}

/** Where the connection stands: a discriminated union like nats.js's Status. */
export type TelemetryState =
  | { type: 'connecting'; sinceMs: number }
  | { type: 'connected'; server: string }
  | { type: 'disconnected'; sinceMs: number }
  | { type: 'closed' };

const json = JSONCodec<unknown>();

export class TelemetryConnection {
  state: TelemetryState = { type: 'connecting', sinceMs: Date.now() };
  /** Payloads dropped because no connection had been made yet. */
  dropped = 0;
  /** Gaps (the first connection, then every reconnect) with their length. */
  readonly gaps: Array<{ ms: number; dropped: number }> = [];
  private nc: NatsConnection | undefined;
  private readonly waiters: Array<(nc: NatsConnection | undefined) => void> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly done: Promise<void | Error>;
  private resolveDone: (v: void | Error) => void = () => undefined;

  constructor(readonly o: TelemetryConnectionOptions) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    void this.attempt(true);
  }

  /** A method, not an inline check: state changes across awaits, which narrowing cannot see. */
  private isClosed(): boolean {
    return this.state.type === 'closed';
  }

  get connected(): boolean {
    return this.state.type === 'connected';
  }

  /** Resolves with the connection once made (undefined if closed first). */
  connection(): Promise<NatsConnection | undefined> {
    if (this.nc || this.state.type === 'closed') return Promise.resolve(this.nc);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async attempt(first: boolean): Promise<void> {
    if (this.state.type === 'closed') return;
    try {
      const nc = await connect({
        ...this.o.auth, servers: this.o.url.split(','), name: this.o.name, timeout: this.o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: this.o.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
      });
      if (this.isClosed()) { await nc.close(); return; }   // close() ran while connecting
      const since = this.state.type === 'connecting' ? this.state.sinceMs : Date.now();
      this.nc = nc;
      this.state = { type: 'connected', server: nc.getServer() };
      if (!first) this.endGap(since, 'telemetry connected to NATS after a gap');
      else this.o.log.info({ url: this.o.url }, 'telemetry connected to NATS');
      void this.watch(nc);
      for (const w of this.waiters.splice(0)) w(nc);
    } catch (e) {
      if (first) this.o.log.warn({ url: this.o.url, err: (e as Error).message }, 'NATS not reachable: training goes on, telemetry retries in the background');
      this.retryTimer = setTimeout(() => void this.attempt(false), this.o.retryMs ?? DEFAULT_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private endGap(sinceMs: number, msg: string): void {
    const gap = { ms: Date.now() - sinceMs, dropped: this.dropped };
    this.gaps.push(gap);
    this.o.log.warn({ url: this.o.url, gapMs: gap.ms, dropped: gap.dropped }, msg);
    this.dropped = 0;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect && this.state.type === 'connected') {
        this.state = { type: 'disconnected', sinceMs: Date.now() };
        this.o.log.warn({ url: this.o.url }, 'telemetry lost its NATS connection: training goes on, reconnecting');
      } else if (s.type === Events.Reconnect && this.state.type === 'disconnected') {
        const since = this.state.sinceMs;
        this.state = { type: 'connected', server: nc.getServer() };
        this.endGap(since, 'telemetry resumed: NATS reconnected');
      }
    }
    const err = await nc.closed();
    if (this.state.type !== 'closed') {
      this.state = { type: 'closed' };
      this.resolveDone(err);
    }
  }

  /** Publishes a JSON payload; before the first connection it is dropped and counted. */
  publish(subject: string, payload: unknown): void {
    const nc = this.nc;
    if (!nc || nc.isClosed()) { this.dropped += 1; return; }
    nc.publish(subject, json.encode(payload));
  }

  /**
   * Payloads on `subject` (wildcards allowed), narrowed by `parse`; a payload `parse` refuses is
   * logged and skipped. Waits for the connection; `break` or close() ends it and unsubscribes.
   */
  async *subscribe<T>(subject: string, parse: (x: unknown) => T): AsyncGenerator<T> {
    const nc = await this.connection();
    if (!nc) return;
    const sub: Subscription = nc.subscribe(subject);
    try {
      for await (const m of sub) {
        let value: T;
        try { value = parse(json.decode(m.data)); } catch (e) {
          this.o.log.warn({ subject: m.subject, err: (e as Error).message }, 'telemetry payload refused');
          continue;
        }
        yield value;
      }
    } finally {
      sub.unsubscribe();
    }
  }

  /** Flushes what is buffered (bounded by `timeoutMs`) and closes; idempotent. */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.state.type === 'closed') return;
    clearTimeout(this.retryTimer);
    const nc = this.nc;
    this.state = { type: 'closed' };
    for (const w of this.waiters.splice(0)) w(undefined);
    if (nc && !nc.isClosed()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
      await Promise.race([nc.flush().catch(() => undefined), timeout]);
      clearTimeout(timer);
      await nc.close();
    }
    this.resolveDone();
  }

  /** Resolves (never rejects) when closed: with the error that closed it, if any. */
  closed(): Promise<void | Error> {
    return this.done;
  }
}
