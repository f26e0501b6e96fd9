// The seeded mutation fuzzer for every reader of user files (issue 15).
//
//   npm run fuzz -- --target T|all [--cases N] [--seed S] [--jobs J] [--hang-ms MS] [--out bench/results/fuzz]
//
// Cases run in a child process (one per job) that is fed case numbers one at a time: a case
// that does not answer within the hang limit is a hang (the child is killed and replaced), a
// child that dies is a crash (or memory, when V8 says the heap ran out). Each case is
// classified: ok, error (a clear refusal that names the file), unhelpful (JavaScript's own
// message, or one that names no file), wrong (accepted, but the target's validity oracle says
// it should not have been), slow (more than a second plus a second per MB), hang, crash,
// memory (the child's peak resident memory grew by more than 256 MB + 8× the input).
// Writes <out>.json (merged per target) and <out>.md (the table).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BAD, OUTCOMES, runCase, timeLimitMs, type CaseResult, type FuzzTarget, type Outcome } from './fuzz/lib.ts';
import { cleanup, TARGETS } from './fuzz/targets.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

function arg(argv: string[], name: string, fallback?: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
}

function findTarget(name: string): FuzzTarget<unknown> {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t as FuzzTarget<unknown>;
}

// ---------------------------------------------------------------------------------------
// Child: set the target up once, then answer one line per case number read from stdin.

async function child(name: string, seed: number): Promise<void> {
  const target = findTarget(name);
  const ctx = await target.setup();
  const seeds = target.seeds(ctx);
  const memLimitMB = (bytes: number) => 256 + (8 * bytes) / 2 ** 20;
  process.stdout.write(JSON.stringify({ ready: true, seeds: seeds.length }) + '\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const index = Number(line);
    const before = process.resourceUsage().maxRSS / 1024;
    const r: CaseResult = await runCase(target, ctx, seeds, seed, index, (bytes) => process.stdout.write(JSON.stringify({ start: index, bytes }) + '\n'));
    r.rssMB = process.resourceUsage().maxRSS / 1024;
    if (r.rssMB - before > memLimitMB(r.bytes)) {
      r.message = `peak memory grew ${Math.round(r.rssMB - before)} MB on a ${(r.bytes / 2 ** 20).toFixed(2)} MB input (${r.outcome}${r.message ? `: ${r.message}` : ''})`;
      r.outcome = 'memory';
    }
    process.stdout.write(JSON.stringify(r) + '\n');
  }
  cleanup(ctx);
}

// ---------------------------------------------------------------------------------------
// Parent

interface TargetReport {
  target: string;
  title: string;
  cases: number;
  seed: number;
  counts: Record<Outcome, number>;
  peakRssMB: number;
  wallSeconds: number;
  slowestMs: number;
  /** Up to 5 examples per bad outcome: case number and message. */
  examples: Partial<Record<Outcome, { index: number; message?: string }[]>>;
  date: string;
}

class Worker {
  private proc!: ChildProcess;
  private pending?: { index: number; resolve: (r: CaseResult) => void; timer: NodeJS.Timeout };
  private stderr = '';
  private ready!: Promise<void>;
  peakRssMB = 0;

  constructor(private readonly target: string, private readonly seed: number, private readonly hangMs: number) {
    this.start();
  }

  private start(): void {
    this.stderr = '';
    this.proc = spawn(process.execPath, ['--max-old-space-size=3072', '--stack-size=984', '--import', 'tsx', SELF, '--child', this.target, '--seed', String(this.seed)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      let msg: { ready?: boolean; start?: number } & Partial<CaseResult>;
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return; // a reader's own console output
      }
      if (msg.ready) return readyResolve();
      const p = this.pending;
      if (p && msg.start === p.index) {
        // the input is made: from now on it has the hang limit for its size
        clearTimeout(p.timer);
        p.timer = setTimeout(() => this.hang(), this.hangMs + 2 * timeLimitMs(msg.bytes ?? 0));
        return;
      }
      if (p && msg.index === p.index) {
        clearTimeout(p.timer);
        this.pending = undefined;
        this.peakRssMB = Math.max(this.peakRssMB, msg.rssMB ?? 0);
        p.resolve(msg as CaseResult);
      }
    });
    this.proc.on('exit', (code, signal) => {
      const p = this.pending;
      if (!p) return;
      clearTimeout(p.timer);
      this.pending = undefined;
      const oom = /heap out of memory|Allocation failed|invalid size error|Out of memory/i.test(this.stderr);
      const tail = this.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
      p.resolve({ index: p.index, outcome: oom ? 'memory' : 'crash', message: `the process died (${signal ?? `exit ${code}`}): ${tail.slice(0, 300)}`, ms: 0, bytes: 0 });
      this.start();
    });
  }

  private hang(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.proc.removeAllListeners('exit');
    this.proc.kill('SIGKILL');
    this.start();
    p.resolve({ index: p.index, outcome: 'hang', message: `no answer within the hang limit (${this.hangMs} ms + 2 s + 2 s per MB)`, ms: 0, bytes: 0 });
  }

  async run(index: number): Promise<CaseResult> {
    await this.ready;
    return new Promise((resolve) => {
      // making a multi-MB input takes a moment: the clock for the case starts when it is made
      const timer = setTimeout(() => this.hang(), this.hangMs + 60_000);
      this.pending = { index, resolve, timer };
      this.proc.stdin!.write(`${index}\n`);
    });
  }

  close(): void {
    this.proc.removeAllListeners('exit');
    this.proc.stdin!.end();
  }
}

async function fuzzTarget(name: string, cases: number, seed: number, jobs: number, hangMs: number): Promise<TargetReport> {
  const target = findTarget(name);
  const t0 = performance.now();
  const workers = Array.from({ length: jobs }, () => new Worker(name, seed, hangMs));
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const examples: TargetReport['examples'] = {};
  let slowestMs = 0;
  let next = 0;
  let done = 0;
  await Promise.all(
    workers.map(async (w) => {
      while (next < cases) {
        const index = next++;
        const r = await w.run(index);
        counts[r.outcome]++;
        slowestMs = Math.max(slowestMs, r.ms);
        if (BAD.includes(r.outcome) || (r.outcome === 'error' && (examples.error?.length ?? 0) < 3)) {
          const list = (examples[r.outcome] ??= []);
          if (list.length < 5) list.push({ index, message: r.message });
          if (BAD.includes(r.outcome)) console.error(`  ${name} case ${index}: ${r.outcome}: ${r.message ?? ''}`);
        }
        if (++done % 500 === 0) console.error(`  ${name}: ${done}/${cases} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  for (const w of workers) w.close();
  return {
    target: name, title: target.title, cases, seed, counts, examples,
    peakRssMB: Math.round(Math.max(...workers.map((w) => w.peakRssMB))),
    wallSeconds: Math.round((performance.now() - t0) / 100) / 10,
    slowestMs: Math.round(slowestMs),
    date: new Date().toISOString(),
  };
}

function table(reports: TargetReport[]): string {
  const head = '| reader | inputs | OK | clear error | unhelpful | accepted wrongly | slow | hang | crash | memory | peak RSS | slowest case | wall |';
  const rows = reports.map((r) => {
    const c = r.counts;
    return `| ${r.target} | ${r.cases.toLocaleString('en-US')} | ${c.ok} | ${c.error} | ${c.unhelpful} | ${c.wrong} | ${c.slow} | ${c.hang} | ${c.crash} | ${c.memory} | ${r.peakRssMB} MB | ${r.slowestMs} ms | ${r.wallSeconds} s |`;
  });
  return [head, '|---|---|---|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], Number(arg(argv, 'seed', '1')));
  const which = arg(argv, 'target', 'all')!;
  const cases = Number(arg(argv, 'cases', '1000'));
  const seed = Number(arg(argv, 'seed', '1'));
  const jobs = Number(arg(argv, 'jobs', '1'));
  const hangMs = Number(arg(argv, 'hang-ms', '5000'));
  const out = resolve(ROOT, arg(argv, 'out', 'bench/results/fuzz')!);
  if (!(Number.isInteger(cases) && cases > 0 && Number.isInteger(seed) && Number.isInteger(jobs) && jobs > 0)) {
    throw new Error('usage: npm run fuzz -- --target T|all [--cases N] [--seed S] [--jobs J] [--hang-ms MS] [--out PATH]');
  }
  const names = which === 'all' ? TARGETS.map((t) => t.name) : which.split(',');
  names.forEach(findTarget);
  mkdirSync(dirname(out), { recursive: true });
  const previous: Record<string, TargetReport> = existsSync(`${out}.json`) ? (JSON.parse(readFileSync(`${out}.json`, 'utf8')) as { targets: Record<string, TargetReport> }).targets : {};
  let failed = false;
  for (const name of names) {
    console.error(`fuzz ${name}: ${cases} cases, seed ${seed}, ${jobs} job(s)`);
    const r = await fuzzTarget(name, cases, seed, jobs, hangMs);
    previous[name] = r;
    if (BAD.some((o) => r.counts[o] > 0)) failed = true;
    console.log(table([r]).split('\n').slice(-1)[0]);
    const ordered = TARGETS.map((t) => previous[t.name]).filter(Boolean);
    writeFileSync(`${out}.json`, JSON.stringify({ targets: previous }, null, 2) + '\n');
    writeFileSync(`${out}.md`, `# Fuzzing the readers\n\n\`npm run fuzz -- --target <reader> --cases N --seed S\`; each row is the last run of that reader.\n\n${table(ordered)}\n`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
