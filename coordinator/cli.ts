#!/usr/bin/env node
/**
 * `coordinator <command>`: the one executable of the system. Each command lives in
 * coordinator/commands/<name>.ts and exports `run(args): Promise<number>` (the exit code).
 */
import { CheckpointWriteError, ConfigError, InputError, ModelFormatError } from '../shared/runtime/errors.js';

type Command = { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  start: { summary: 'train a DSI model (coordinator + N workers), evaluate, summarise', load: () => import('./commands/start.js') },
  search: { summary: 'search a trained run: "query" -> ranked docids with scores and passages', load: () => import('./commands/search.js') },
  prepare: { summary: 'MS MARCO (v1.1 jsonl/parquet, passage ranking, sample) -> prepared dataset: docids, augmentations, BM25', load: () => import('./commands/prepare.js') },
  eval: { summary: 'eval --bm25 --data DIR: BM25 Hits@1, Hits@10, MRR@10 on the held-out queries', load: () => import('./commands/eval.js') },
  top: { summary: 'top --coordinator HOST:PORT | --nats-url URL [--once]: live per-worker table of a running training', load: () => import('./commands/top.js') },
  bench: { summary: 'benchmarks: bench model, bench prepare', load: () => import('./commands/bench.js') },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `usage: coordinator <command> [--flags]\n\ncommands:\n${rows.join('\n')}\n\n` +
    `coordinator <command> --help lists every flag (all settings also come from --config FILE or DSI_* env).`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`coordinator: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(args);
}

/**
 * How long handles may linger after a command is done. A socket to a worker whose link went down
 * stays open once closed (FIN unacknowledged, the peer unreachable) until TCP gives up, ~15 minutes:
 * a finished run must not wait for that (test/multihost.test.ts pulls a worker's cable).
 */
const EXIT_GRACE_MS = 10_000;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();   // unref: a process with nothing left exits at once
  },
  (e: unknown) => {
    // Known input problems are the user's to fix: one clear line, no stack.
    if (e instanceof ConfigError || e instanceof InputError || e instanceof ModelFormatError) {
      process.stderr.write(`coordinator: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof CheckpointWriteError) {
      // the run's storage, not a bug: the message says what failed and what still resumes
      process.stderr.write(`coordinator: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`coordinator: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
    // a failed run may leave handles behind (a gRPC call, a timer): the error is final, so exit now
    process.exit();
  },
);
