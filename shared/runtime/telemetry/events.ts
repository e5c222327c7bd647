/**
 * Run events in JetStream: the coordinator appends them in order (`EventLog`), anyone replays a
 * run's history after the fact (`replayEvents`). Appending never blocks the caller: events queue in
 * memory and one drain loop stores them in order, retrying while NATS is away; each carries a
 * message id, so a retry after a lost acknowledgement is not stored twice.
 */
import { DiscardPolicy, JSONCodec, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import type { Logger } from '../log.js';
import type { TelemetryConnection } from './connection.js';
import {
  EVENTS_STREAM, EVENTS_SUBJECTS, TELEMETRY_VERSION, eventSubject, parseRunEvent, type RunEvent, type RunEventBody,
} from './payloads.js';

/** Pause between tries to store an event while JetStream does not answer. */
export const EVENT_RETRY_MS = 250;
/** How long one store may wait for JetStream's acknowledgement. */
export const EVENT_ACK_TIMEOUT_MS = 2_000;
/** Events kept per stream: a week of runs (nanoseconds, JetStream's unit). */
const STREAM_MAX_AGE_NS = 7 * 24 * 3600 * 1e9;
/** A stored message id is remembered this long for deduplication (nanoseconds). */
const DUPLICATE_WINDOW_NS = 10 * 60 * 1e9;

const json = JSONCodec<unknown>();

/** Creates the events stream if it is missing (file storage: it survives a server restart). */
export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const cfg = {
    name: EVENTS_STREAM, subjects: [EVENTS_SUBJECTS], storage: StorageType.File, retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old, max_age: STREAM_MAX_AGE_NS, duplicate_window: DUPLICATE_WINDOW_NS,
  };
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    await jsm.streams.add(cfg);
  }
}

export interface EventLogOptions {
  runId: string;
  telemetry: TelemetryConnection;
  log: Logger;
}

export class EventLog {
  private readonly queue: RunEvent[] = [];
  private seq = 0;
  /** Events JetStream has acknowledged. */
  stored = 0;
  private wake: (() => void) | undefined;
  private closing = false;
  private readonly drained: Promise<void>;

  constructor(readonly o: EventLogOptions) {
    this.drained = this.drain();
  }

  /** Queues an event; returns at once (the drain loop stores it). */
  append(body: RunEventBody): RunEvent {
    this.seq += 1;
    const event = { ...body, v: TELEMETRY_VERSION, runId: this.o.runId, seq: this.seq, atMs: Date.now() } as RunEvent;
    this.queue.push(event);
    this.wake?.();
    return event;
  }

  private async drain(): Promise<void> {
    const nc = await this.o.telemetry.connection();
    if (!nc) return;
    let streamReady = false;
    let failing = false;
    for (;;) {
      const next = this.queue[0];
      if (!next) {
        if (this.closing) return;
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = undefined;
        continue;
      }
      try {
        if (!streamReady) { await ensureEventsStream(nc); streamReady = true; }
        await nc.jetstream().publish(eventSubject(this.o.runId, next.type), json.encode(next), {
          msgID: `${this.o.runId}-${next.seq}`, timeout: EVENT_ACK_TIMEOUT_MS,
        });
        this.queue.shift();
        this.stored += 1;
        if (failing) this.o.log.warn({ pending: this.queue.length }, 'run events stored again in JetStream');
        failing = false;
      } catch (e) {
        if (nc.isClosed()) return;
        if (!failing) this.o.log.warn({ err: (e as Error).message, pending: this.queue.length }, 'cannot store run events in JetStream: they wait in memory, retrying');
        failing = true;
        await new Promise((r) => setTimeout(r, EVENT_RETRY_MS).unref());
      }
    }
  }

  /** Events not yet acknowledged. */
  get pending(): number {
    return this.queue.length;
  }

  /** Stores what is queued (waiting up to `timeoutMs`), then stops; events left are logged. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([this.drained, timeout]);
    clearTimeout(timer);
    if (this.queue.length > 0) this.o.log.warn({ lost: this.queue.length, types: this.queue.map((e) => e.type) }, 'run events not stored in JetStream before shutdown');
  }
}

/**
 * Replays a run's events from JetStream, in the order they were stored, then ends (it does not
 * wait for new ones). `runId` '*' replays every run's.
 */
export async function* replayEvents(nc: NatsConnection, runId: string): AsyncGenerator<RunEvent> {
  const subject = eventSubject(runId, '*');
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: subject });
  const total = Object.values(info.state.subjects ?? {}).reduce((n, c) => n + c, 0);
  if (total === 0) return;
  const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, { filterSubjects: subject });
  const messages = await consumer.consume();
  try {
    for await (const m of messages) {
      yield parseRunEvent(m.json<unknown>());
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}
