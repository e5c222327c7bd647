/**
 * What a netns host harness made must not outlive it: its namespaces (and with them every veth, the
 * bridge and the tc qdiscs inside) and the processes it started in them. Harnesses register their
 * namespaces here; on 'exit' (normal end, process.exit, an uncaught exception) and on SIGINT, SIGTERM
 * and SIGHUP every registered one is removed synchronously, because nothing asynchronous runs after
 * 'exit'. A harness killed with SIGKILL cannot clean up: the next harness removes namespaces whose
 * owner process is gone (sweepOrphans), which their names make possible.
 */
import { execFileSync } from 'node:child_process';

/** Every harness namespace starts with this; then the owner's pid (see namespaceName). */
export const NETNS_PREFIX = 'dsih-';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Namespaces of live harnesses in this process, by harness id. */
const live = new Map<string, string[]>();
let hooked = false;

/** `dsih-<pid>-<id>-<host>`: unique per harness, and its owner is readable from the name. */
export function namespaceName(id: string, host: string): string {
  return `${NETNS_PREFIX}${process.pid}-${id}-${host}`;
}

/** Names of every network namespace on the machine (`ip netns list`). */
export function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

/** Kills every process inside the namespaces, then deletes them; errors are collected, not thrown. */
export function removeNamespaces(names: string[]): string[] {
  const problems: string[] = [];
  const present = new Set(listNamespaces());
  for (const ns of names.filter((n) => present.has(n))) {
    try {
      // a process still inside would keep the namespace (and its addresses) alive after `ip netns del`
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter((p) => /^\d+$/.test(p));
      for (const pid of pids) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* exited meanwhile */ }
      execFileSync('ip', ['netns', 'del', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      problems.push(`${ns}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return problems;
}

/** Removes the namespaces of harnesses whose owner process no longer exists (one killed with SIGKILL). */
export function sweepOrphans(): string[] {
  const orphans = listNamespaces().filter((ns) => {
    const pid = Number(/^dsih-(\d+)-/.exec(ns)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid) return false;
    try { process.kill(pid, 0); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === 'ESRCH'; }
  });
  removeNamespaces(orphans);
  return orphans;
}

export function register(id: string, namespaces: string[]): void {
  hook();
  live.set(id, namespaces);
}

export function unregister(id: string): void {
  live.delete(id);
}

function removeAll(): void {
  for (const [id, names] of live) { removeNamespaces(names); live.delete(id); }
}

/** Installs the exit and signal handlers once per process. */
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      removeAll();
      // with no other handler the signal would have ended the process: do so, with its usual status
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
