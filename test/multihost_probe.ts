/**
 * What multihost.test.ts runs on a netns host to look at the run from inside the harness's network
 * (the test process itself is outside it and cannot reach its addresses):
 *   `get URL`              the body of an HTTP GET (the coordinator's /metrics and /api/run)
 *   `events NATS_URL RUN`  the run's events replayed from the JetStream stream, as a JSON list
 * Without arguments it does nothing (`node --test dist/test/` runs every file in the folder).
 */
import { connect } from 'nats';
import { replayEvents } from '../shared/runtime/telemetry/events.js';
import type { RunEvent } from '../shared/runtime/telemetry/payloads.js';

const [what, a = '', b = ''] = process.argv.slice(2);
if (what === 'get') {
  const res = await fetch(a);
  if (!res.ok) throw new Error(`GET ${a}: ${res.status}`);
  process.stdout.write(await res.text());
} else if (what === 'events') {
  const nc = await connect({ servers: a });
  const events: RunEvent[] = [];
  for await (const e of replayEvents(nc, b)) events.push(e);
  await nc.close();
  process.stdout.write(JSON.stringify(events));
} else if (what !== undefined) {
  throw new Error(`multihost_probe: '${what}' is not get or events`);
}
