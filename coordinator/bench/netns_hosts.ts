/**
 * Hosts made of Linux network namespaces, for the all-reduce bench and the multi-host test: one
 * namespace per host, each joined by a veth pair to one bridge that lives in a namespace of its own
 * (the switch), every link shaped with tc's token bucket (tbf: netem is not in every kernel) in both
 * directions, so each host has a full-duplex link of the given rate to the switch.
 *
 *   host ns "w0"  eth0 198.18.X.1/24 --veth-- p0 ┐
 *   host ns "w1"  eth0 198.18.X.2/24 --veth-- p1 ├ br0 (bridge ns)
 *   ...                                          ┘
 *
 * Addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for benchmarks: no real network
 * uses it, and the harness refuses to start if this machine does. Nothing routes out: the bridge has
 * no address and no link to the machine's own namespace, and the hosts have no default route, so
 * traffic stays between the harness's namespaces. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and
 * iproute2's `ip` and `tc`. Everything it makes is removed by close(), on exit and on SIGINT/SIGTERM
 * (netns_cleanup.ts).
 */
import { type ChildProcess, execFile, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { formatLinkRate } from './link_rate.js';
import { namespaceName, register, removeNamespaces, sweepOrphans, unregister } from './netns_cleanup.js';

const run = promisify(execFile);

/** RFC 2544's benchmark range; each harness takes one /24 of it at random. */
const SUBNET_PREFIX = '198.18.';
const MAX_HOSTS = 250;
/** The host side of every link, inside each host's namespace. */
export const HOST_INTERFACE = 'eth0';
const BRIDGE = 'br0';
const BRIDGE_HOST = 'switch';
/** The smallest token bucket: one 64 KiB GSO super-packet must fit, or tbf splits every one of them. */
const MIN_BURST_BYTES = 64 * 1024;
/** The bucket holds 2 ms at the link rate: fine-grained enough that a 64 MiB transfer sees the rate. */
const BURST_SECONDS = 0.002;
/** How long a packet may wait in a link's queue before tbf drops it (the switch's buffer). */
const QUEUE_LATENCY = '20ms';
/** Time processes get after SIGTERM before close() kills them. */
const CLOSE_GRACE_MS = 5_000;

export interface NetnsHostsOptions {
  /** Host names: lowercase letters, digits and '-', 1-12 characters, distinct. */
  hosts: string[];
  /** Rate of every link, each direction, bits per second (link_rate.ts parses `1gbit`). */
  linkRateBps: number;
}

/** Why network namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux's; this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'making network namespaces needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); run as root, as CI does';
  for (const tool of [['ip', 'netns', 'list'], ['tc', '-V']] as const) {
    try { execFileSync(tool[0], tool.slice(1), { stdio: 'ignore' }); } catch (e) {
      return `'${tool.join(' ')}' failed (${(e as Error).message}): install iproute2`;
    }
  }
  // root in a container without CAP_SYS_ADMIN cannot: try one
  const probe = namespaceName('probe', 'x');
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `'ip netns add' failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  }
  removeNamespaces([probe]);
  return undefined;
}

export class NetnsHosts {
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  private constructor(readonly id: string, readonly subnet: string, readonly linkRateBps: number,
    private readonly addresses: Map<string, string>, private readonly namespaces: string[]) {}

  /** Makes the namespaces, the bridge, the links and their shaping; removes what it made if any step fails. */
  static async create(o: NetnsHostsOptions): Promise<NetnsHosts> {
    validate(o);
    sweepOrphans();
    const id = randomBytes(3).toString('hex');
    const octet = freeOctet();
    const addresses = new Map(o.hosts.map((h, i) => [h, `${SUBNET_PREFIX}${octet}.${i + 1}`]));
    const bridgeNs = namespaceName(id, BRIDGE_HOST);
    const namespaces = [bridgeNs, ...o.hosts.map((h) => namespaceName(id, h))];
    register(id, namespaces);                          // from here on, exit and signals remove them
    const hosts = new NetnsHosts(id, `${SUBNET_PREFIX}${octet}.0/24`, o.linkRateBps, addresses, namespaces);
    try {
      await ip('netns', 'add', bridgeNs);
      await ip('-n', bridgeNs, 'link', 'add', BRIDGE, 'type', 'bridge');
      await ip('-n', bridgeNs, 'link', 'set', BRIDGE, 'up');
      for (const [i, host] of o.hosts.entries()) await hosts.plug(host, i, bridgeNs);
    } catch (e) {
      await hosts.close();
      throw e;
    }
    return hosts;
  }

  /** Host `host`'s namespace, with its link to the switch as port p<i>, shaped both ways. */
  private async plug(host: string, i: number, bridgeNs: string): Promise<void> {
    const ns = this.namespace(host), port = bridgePort(i);
    await ip('netns', 'add', ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', HOST_INTERFACE, 'netns', ns);
    await ip('-n', bridgeNs, 'link', 'set', port, 'master', BRIDGE, 'up');
    await ip('-n', ns, 'addr', 'add', `${this.address(host)}/24`, 'dev', HOST_INTERFACE);
    await ip('-n', ns, 'link', 'set', HOST_INTERFACE, 'up');
    // egress on both ends: the host's uplink (eth0) and its downlink (the switch port)
    const burst = Math.max(MIN_BURST_BYTES, Math.ceil((this.linkRateBps / 8) * BURST_SECONDS));
    const tbf = ['root', 'tbf', 'rate', `${this.linkRateBps}bit`, 'burst', String(burst), 'latency', QUEUE_LATENCY];
    await tc('-n', ns, 'qdisc', 'add', 'dev', HOST_INTERFACE, ...tbf);
    await tc('-n', bridgeNs, 'qdisc', 'add', 'dev', port, ...tbf);
  }

  get hosts(): string[] {
    return [...this.addresses.keys()];
  }

  address(host: string): string {
    const a = this.addresses.get(host);
    if (a === undefined) throw new Error(`netns hosts ${this.id}: no host '${host}' (hosts: ${this.hosts.join(', ')})`);
    return a;
  }

  namespace(host: string): string {
    this.address(host);                                // throws for an unknown host
    return namespaceName(this.id, host);
  }

  /** The argv that runs `argv` on `host`: `ip netns exec NS ...argv` (file descriptors, IPC included, pass through). */
  command(host: string, argv: string[]): { file: string; args: string[] } {
    return { file: 'ip', args: ['netns', 'exec', this.namespace(host), ...argv] };
  }

  /** Starts `argv` on `host`; close() ends it if it is still running. */
  spawn(host: string, argv: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.closed) throw new Error(`netns hosts ${this.id} are closed`);
    const c = this.command(host, argv);
    const child = spawn(c.file, c.args, options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `argv` on `host` to its end; its stdout. */
  async exec(host: string, argv: string[]): Promise<string> {
    const c = this.command(host, argv);
    return (await run(c.file, c.args, { encoding: 'utf8', maxBuffer: 16 << 20 })).stdout;
  }

  /** Takes `host`'s cable out (or puts it back): its switch port goes down, and with it the host's carrier. */
  async setLink(host: string, up: boolean): Promise<void> {
    this.address(host);                                // throws naming an unknown host
    const i = this.hosts.indexOf(host);
    await ip('-n', namespaceName(this.id, BRIDGE_HOST), 'link', 'set', bridgePort(i), up ? 'up' : 'down');
  }

  /** Bytes that left `host` through its shaped uplink so far (tc's counter). */
  async sentBytes(host: string): Promise<number> {
    const out = await tool('tc', ['-s', '-n', this.namespace(host), 'qdisc', 'show', 'dev', HOST_INTERFACE]);
    const m = /qdisc tbf [\s\S]*?Sent (\d+) bytes/.exec(out);
    if (!m?.[1]) throw new Error(`netns hosts ${this.id}: no tbf counter on ${host}'s ${HOST_INTERFACE}: ${out}`);
    return Number(m[1]);
  }

  describe(): string {
    return `${this.hosts.length} netns hosts on ${this.subnet}, ${formatLinkRate(this.linkRateBps)} links (tbf), harness ${this.id}`;
  }

  /** Ends the processes it started (TERM, then KILL), then removes every namespace it made. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(running.map((c) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => c.kill('SIGKILL'), CLOSE_GRACE_MS);
      c.once('exit', () => { clearTimeout(timer); resolve(); });
      c.kill('SIGTERM');
    })));
    const problems = removeNamespaces(this.namespaces);
    unregister(this.id);
    if (problems.length > 0) throw new Error(`netns hosts ${this.id}: could not remove ${problems.join('; ')}`);
  }
}

function bridgePort(i: number): string {
  return `p${i}`;
}

function validate(o: NetnsHostsOptions): void {
  if (o.hosts.length < 1 || o.hosts.length > MAX_HOSTS) throw new Error(`hosts: ${o.hosts.length} hosts, expected 1-${MAX_HOSTS}`);
  for (const h of o.hosts) if (!/^[a-z0-9-]{1,12}$/.test(h) || h === BRIDGE_HOST) throw new Error(`hosts: '${h}' is not a host name (a-z, 0-9, '-', 1-12 characters, not '${BRIDGE_HOST}')`);
  if (new Set(o.hosts).size !== o.hosts.length) throw new Error(`hosts: ${o.hosts.join(', ')} has a name twice`);
  if (!(o.linkRateBps > 0)) throw new Error(`linkRateBps: ${o.linkRateBps} is not a rate`);
}

/** A /24 of 198.18.0.0/16 at random; refuses when the machine itself has an address in 198.18/15. */
function freeOctet(): number {
  const own = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const clash = /inet (198\.1[89]\.\d+\.\d+)/.exec(own);
  if (clash) throw new Error(`this machine has ${clash[1]}, inside 198.18.0.0/15 that the netns harness uses for its hosts`);
  return randomInt(0, 256);
}

async function ip(...args: string[]): Promise<void> {
  await tool('ip', args);
}

async function tc(...args: string[]): Promise<void> {
  await tool('tc', args);
}

async function tool(file: string, args: string[]): Promise<string> {
  try {
    return (await run(file, args, { encoding: 'utf8' })).stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`netns hosts: '${file} ${args.join(' ')}' failed: ${stderr || (e as Error).message}`, { cause: e });
  }
}
