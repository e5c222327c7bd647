/**
 * The netns host harness (coordinator/bench/netns_hosts.ts): real namespaces, a bridge, tbf-shaped
 * veth links. Traffic between hosts goes through the shaping and never reaches the machine's own
 * network; everything made is gone after close(), after SIGINT/SIGTERM, an uncaught exception,
 * process.exit, and (swept by the next harness) after SIGKILL; `bench allreduce --hosts netns` runs
 * its ranks through it. Skips only where namespaces cannot be made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../shared/runtime/paths.js';
import { NetnsHosts, netnsUnavailable } from '../coordinator/bench/netns_hosts.js';
import { listNamespaces } from '../coordinator/bench/netns_cleanup.js';
import { parseLinkRate } from '../coordinator/bench/link_rate.js';
import { cli } from './run_cli.js';

const skip = netnsUnavailable();
if (skip) process.stderr.write(`netns_hosts.test: skipped: ${skip}\n`);
const CHILD = path.join(REPO_ROOT, 'dist', 'test', 'netns_child.js');
const MB = 1e6;

/** Node one-liners run inside a host: a sink that counts bytes, a sender, a dialler. */
const SINK = `const s=require('net').createServer(c=>{let n=0;c.on('data',b=>{n+=b.length});c.on('end',()=>{console.log(n);process.exit(0)})});s.listen(5001,process.argv[1],()=>console.log('ready'))`;
const SEND = `const t=Date.now(),c=require('net').connect(5001,process.argv[1],()=>c.end(Buffer.alloc(Number(process.argv[2]),1)));c.on('close',()=>console.log(Date.now()-t))`;
const DIAL = `const c=require('net').connect(Number(process.argv[2]),process.argv[1]);c.setTimeout(2000);c.on('connect',()=>{console.log('connected');process.exit(0)});c.on('error',e=>{console.log(e.code);process.exit(0)});c.on('timeout',()=>{console.log('timeout');process.exit(0)})`;

test('link rates are parsed as tc writes them; anything else names the flag', () => {
  assert.equal(parseLinkRate('100mbit'), 1e8);
  assert.equal(parseLinkRate('1gbit'), 1e9);
  assert.equal(parseLinkRate('2.5Gbit'), 2.5e9);
  assert.throws(() => parseLinkRate('1gbps'), /config 'link-rate': '1gbps' is not a link rate/);
  assert.throws(() => parseLinkRate('10bit'), /outside/);
});

test('hosts on a bridge: addresses from 198.18/15, tbf on both ends of each link, traffic shaped and kept inside', { skip, timeout: 120_000 }, async () => {
  const hosts = await NetnsHosts.create({ hosts: ['a', 'b', 'c'], linkRateBps: parseLinkRate('100mbit') });
  const made = hosts.hosts.map((h) => hosts.namespace(h));
  try {
    assert.deepEqual(made.filter((n) => listNamespaces().includes(n)), made);
    for (const h of hosts.hosts) assert.match(hosts.address(h), /^198\.18\.\d+\.\d+$/);
    const qdisc = await hosts.exec('a', ['tc', 'qdisc', 'show', 'dev', 'eth0']);
    assert.match(qdisc, /qdisc tbf \S+ root .*rate 100Mbit/);
    // 4 MB from b to a: through b's shaped uplink, at most 100 Mbit/s (plus one 64 KiB bucket)
    const sink = hosts.spawn('a', [process.execPath, '-e', SINK, hosts.address('a')]);
    const sinkExited = new Promise<void>((resolve) => sink.once('exit', () => resolve()));
    let received = '';
    sink.stdout?.on('data', (d: Buffer) => { received += d.toString(); });
    await new Promise<void>((resolve) => sink.stdout?.once('data', () => resolve()));
    const before = await hosts.sentBytes('b');
    const ms = Number(await hosts.exec('b', [process.execPath, '-e', SEND, hosts.address('a'), String(4 * MB)]));
    await sinkExited;
    assert.equal(received.trim().split('\n')[1], String(4 * MB));
    const shaped = (await hosts.sentBytes('b')) - before;
    assert.ok(shaped >= 4 * MB, `${shaped} bytes went through b's tbf`);
    const floorMs = ((4 * MB - 64 * 1024) * 8) / 1e8 * 1000;   // what 100 Mbit/s allows at best
    assert.ok(ms >= floorMs, `4 MB in ${ms} ms: faster than the link's ${floorMs.toFixed(0)} ms, so not shaped`);
    // the machine's own addresses (and anything beyond) are unreachable from a host
    const out = await hosts.exec('c', [process.execPath, '-e', DIAL, '192.0.2.2', '22']);
    assert.equal(out.trim(), 'ENETUNREACH');
    // the cable out: c cannot reach a; back in: it can
    await hosts.setLink('c', false);
    const down = await hosts.exec('c', [process.execPath, '-e', DIAL, hosts.address('a'), '9']);
    assert.notEqual(down.trim(), 'connected');
    assert.notEqual(down.trim(), 'ECONNREFUSED', 'a answered while c was unplugged');
    await hosts.setLink('c', true);
    // until c's failed ARP entry for a expires, dials end EHOSTUNREACH, as on a real host
    let back = '';
    for (const until = Date.now() + 60_000; back !== 'ECONNREFUSED' && Date.now() < until;)
      back = (await hosts.exec('c', [process.execPath, '-e', DIAL, hosts.address('a'), '9'])).trim();
    assert.equal(back, 'ECONNREFUSED', 'a answers again (nothing listens on 9)');
  } finally {
    await hosts.close();
  }
  assert.deepEqual(made.filter((n) => listNamespaces().includes(n)), [], 'namespaces left after close()');
});

test('two harnesses at once: their own names, each reaches its own hosts and not the other\'s', { skip, timeout: 60_000 }, async () => {
  const [one, two] = await Promise.all([0, 1].map(() => NetnsHosts.create({ hosts: ['a', 'b'], linkRateBps: 1e9 })));
  try {
    const names = [one, two].flatMap((h) => h?.hosts.map((x) => h.namespace(x)) ?? []);
    assert.equal(new Set(names).size, 4);
    const dial = (from: NetnsHosts, to: string): Promise<string> => from.exec('a', [process.execPath, '-e', DIAL, to, '9']).then((o) => o.trim());
    assert.equal(await dial(one as NetnsHosts, (one as NetnsHosts).address('b')), 'ECONNREFUSED', 'its own b answers');
    assert.notEqual(await dial(one as NetnsHosts, (two as NetnsHosts).address('b')), 'ECONNREFUSED', 'the other harness\'s b is out of reach');
  } finally {
    await Promise.all([one?.close(), two?.close()]);
  }
});

/** Starts netns_child.js ending `how`; its namespaces and how it exited. */
async function child(how: string, signal?: NodeJS.Signals): Promise<{ namespaces: string[]; code: number | null; signal: string | null; stderr: string }> {
  const c = spawn(process.execPath, [CHILD, how], { cwd: REPO_ROOT });
  let stdout = '', stderr = '';
  c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<[number | null, string | null]>((resolve) => c.once('exit', (code, sig) => resolve([code, sig])));
  await new Promise<void>((resolve, reject) => {
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.includes('\n')) resolve(); });
    c.once('exit', () => reject(new Error(`netns_child ${how} exited before making its hosts: ${stderr}`)));
  });
  const { namespaces } = JSON.parse(stdout) as { namespaces: string[] };
  assert.equal(namespaces.filter((n) => listNamespaces().includes(n)).length, namespaces.length, 'made');
  if (signal) c.kill(signal);
  const [code, sig] = await exited;
  return { namespaces, code, signal: sig, stderr };
}

for (const [how, signal] of [['wait', 'SIGINT'], ['wait', 'SIGTERM'], ['throw', undefined], ['exit', undefined]] as const) {
  test(`a harness user that ends by ${signal ?? how} leaves no namespace behind`, { skip, timeout: 60_000 }, async () => {
    const r = await child(how, signal);
    if (signal) assert.equal(r.signal, signal, 'the signal still ends the process as it would have');
    else assert.notEqual(r.code, 0, r.stderr);
    assert.deepEqual(r.namespaces.filter((n) => listNamespaces().includes(n)), []);
  });
}

test('a harness killed with SIGKILL cannot clean up; the next harness removes what it left', { skip, timeout: 60_000 }, async () => {
  const r = await child('wait', 'SIGKILL');
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.namespaces.filter((n) => listNamespaces().includes(n)).length, r.namespaces.length, 'left behind');
  const next = await NetnsHosts.create({ hosts: ['x'], linkRateBps: 1e9 });
  await next.close();
  assert.deepEqual(r.namespaces.filter((n) => listNamespaces().includes(n)), []);
});

test('bench allreduce --hosts netns: each rank behind its own shaped link; busbw / link rate reported and never above what the link allows; bad flags named', { skip, timeout: 180_000 }, async () => {
  const before = listNamespaces();
  const r = await cli(['bench', 'allreduce', '--hosts', 'netns', '--workers', '2', '--link-rate', '1gbit', '--sizes', '16', '--wires', 'fp32', '--transports', 'tcp', '--iterations', '1', '--json', '--log-format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout) as { link: { rateBps: number; GBps: number; hosts: string }; rows: Array<{ busbwGBps: number; busbwOverLink: number; elementsPerS: number }> };
  assert.deepEqual([b.link.rateBps, b.link.GBps], [1e9, 0.125]);
  assert.match(b.link.hosts, /^2 netns hosts on 198\.18\.\d+\.0\/24, 1gbit links/);
  const [row] = b.rows;
  assert.ok(row && row.busbwOverLink === row.busbwGBps / 0.125 && row.elementsPerS > 0, JSON.stringify(row));
  // 16 MiB through 1 Gbit/s links: the token bucket's 250 KB burst is 1.5% of it, so more than that is not shaped
  assert.ok(row.busbwOverLink < 1.03, `busbw ${row.busbwOverLink} of the link: the ranks did not go through the shaped links`);
  assert.deepEqual(listNamespaces().filter((n) => !before.includes(n)), [], 'the bench removed its hosts');
  const bad = await cli(['bench', 'allreduce', '--hosts', 'netns', '--workers', '2', '--link-rate', '1gbps']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /config 'link-rate': '1gbps' is not a link rate/);
  const missing = await cli(['bench', 'allreduce', '--hosts', 'netns', '--workers', '2']);
  assert.match(missing.stderr, /config 'link-rate': --hosts netns needs --link-rate/);
});
