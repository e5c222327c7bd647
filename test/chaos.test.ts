/**
 * `coordinator bench chaos` with fewer faults (1 worker kill, 1 SIGSTOP, 1 coordinator kill): real
 * processes, the run recovers from each, every example position of every step is applied exactly
 * once, and the final weights equal the fault-free run's bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from './run_cli.js';

test('bench chaos: 3 workers, a kill -9 restarted by --max-restarts, a SIGSTOP past the heartbeat timeout, a coordinator kill resumed with --resume=auto: nothing lost or repeated, the fault-free run\'s weights', { timeout: 900_000 }, async (t) => {
  const r = await cli(['bench', 'chaos', '--workers', '3', '--kills', '1', '--seed', '3', '--json'], { DSI_LOG_LEVEL: 'info' });
  assert.equal(r.code, 0, r.stderr.slice(-4000));
  const got = JSON.parse(r.stdout) as Record<string, number>;
  t.diagnostic(`bench chaos: ${r.stdout.trim()}`);
  assert.equal(got['kills'], 1);
  assert.equal(got['sigstops'], 1);
  assert.equal(got['coordinator_restarts'], 1);
  assert.equal(got['recovered'], 3);
  assert.equal(got['final_world_size'], 3);
  // 6 examples a step (every ring size from 1 to 3 divides it), each position once
  assert.equal(got['examples_applied'], (got['steps'] as number) * 6);
  assert.equal(got['examples_lost'], 0);
  assert.equal(got['examples_repeated'], 0);
  // the survivors wait for each restarted worker (cluster.restartWaitMs): every step ran on the full ring, bit-equal
  assert.equal(got['final_weights_rel_l2'], 0, `final weights ${got['final_weights_rel_l2']} from the fault-free run's`);
});
