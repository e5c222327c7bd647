/**
 * A process that makes netns hosts and then ends the way argv[2] says, for netns_hosts.test.ts:
 * `wait` (until a signal), `throw` (an uncaught exception), `exit` (process.exit(3) without close()).
 * It prints the namespaces it made as one JSON line first. Without an argument it does nothing:
 * `node --test dist/test/` runs every file in the folder, this one included.
 */
import { NetnsHosts } from '../coordinator/bench/netns_hosts.js';

async function makeAndEnd(how: 'wait' | 'throw' | 'exit'): Promise<void> {
  const hosts = await NetnsHosts.create({ hosts: ['a', 'b'], linkRateBps: 1e8 });
  // a process inside a host that would keep its namespace alive if cleanup did not end it
  hosts.spawn('a', ['sleep', '600'], { stdio: 'ignore' });
  process.stdout.write(JSON.stringify({ namespaces: hosts.hosts.map((h) => hosts.namespace(h)) }) + '\n');
  if (how === 'throw') setTimeout(() => { throw new Error('failure inside a harness user'); }, 100);
  else if (how === 'exit') setTimeout(() => process.exit(3), 100);
  else setInterval(() => undefined, 1000);
}

const how = process.argv[2];
if (how === 'wait' || how === 'throw' || how === 'exit') await makeAndEnd(how);
