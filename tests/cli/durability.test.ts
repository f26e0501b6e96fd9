// Files are never lost or half written by the CLI (issue 15, item 3), and wrong results stop
// loudly (item 7):
//  - a run killed with SIGKILL at seeded random moments and resumed with --resume gives the
//    uninterrupted run's loss curve step for step, and the same adapter bytes;
//  - an output that is, contains or lies inside an input is refused before anything is
//    opened (export --format merged into the base's folder truncated model.safetensors;
//    train --method full --out <model folder> replaced the base weights);
//  - an existing run folder is not reused without --resume / --overwrite, and a failed
//    --overwrite run leaves the old folder as it was;
//  - --lr 1e30 stops at the diverging step with exit code 1 (it reported "done");
//  - export --format peft of a truncated adapter fails and writes nothing (it reported success).

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, lines, ROOT } from '../helpers/cli.ts';
import { rng } from '../helpers/gpu.ts';
import { exportCommand } from '../../src/cli/export.ts';
import { trainCommand } from '../../src/cli/train.ts';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-durable-'));
/** A copy of the built-in model: the tests aim outputs at it, so a regression hurts only the copy. */
const BASE = join(TMP, 'base');
const STEPS = 6;
const EVERY = 2;
const RUN = ['--model', BASE, '--data', 'builtin:kjv-verse-ref', '--method', 'lora', '--rank', '4', '--targets', 'q_proj,v_proj', '--seq', '16', '--batch', '2', '--seed', '5',
  '--lr', '0.01', '--schedule', 'cosine', '--warmup', '2', '--steps', String(STEPS), '--checkpoint-every', String(EVERY), '--eval-every', '4', '--metric-rows', '0'];

const FULL = ['--model', BASE, '--data', 'builtin:kjv-verse-ref', '--method', 'full', '--steps', '2'];

const bytes = (p: string) => readFileSync(p);
const stepLosses = (text: string) => lines(text).filter((l) => l.type === 'step').map((l) => [l.step, l.loss]);

/** The CLI as a child process, SIGKILLed `delayMs` after it prints the step `killAfter` line. */
function killedRun(args: string[], killAfter: number, delayMs: number): Promise<{ stdout: string; killed: boolean }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT });
    let stdout = '';
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!armed && stepLosses(stdout).some(([s]) => s === killAfter)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.resume();
    child.on('exit', (_code, signal) => done({ stdout, killed: signal === 'SIGKILL' }));
  });
}

/** A command run in this process (the checks that refuse before any GPU work; no process start-up). */
async function inProcess(args: string[]): Promise<void> {
  const [cmd, ...rest] = args;
  const log = console.log;
  console.log = () => {};
  try {
    await (cmd === 'train' ? trainCommand(rest) : exportCommand(rest));
  } finally {
    console.log = log;
  }
}

let ref: Awaited<ReturnType<typeof cli>>;
const REF = join(TMP, 'ref');

beforeAll(async () => {
  cpSync(join(ROOT, 'public/models/tiny-kjv'), BASE, { recursive: true });
}, 60_000);

describe('CLI durability', () => {
  it('SIGKILL at seeded random moments, then --resume: the same loss curve step for step, the same adapter', async () => {
    const r = rng(15);
    const kills: { after: number; delay: number }[] = [];
    const chain = (async () => {
      const out = join(TMP, 'killed');
      // First kill after a step past the first checkpoint; the second anywhere after that.
      const first = { after: EVERY + 1 + Math.floor(r() * (STEPS - EVERY - 2)), delay: Math.floor(r() * 300) };
      kills.push(first);
      const a = await killedRun(['train', ...RUN, '--out', out, '--json'], first.after, first.delay);
      expect(a.killed).toBe(true);
      const second = { after: first.after + 1 + Math.floor(r() * (STEPS - first.after - 1)), delay: Math.floor(r() * 300) };
      kills.push(second);
      const b = await killedRun(['train', '--resume', out, '--json'], second.after, second.delay);
      const c = b.killed ? await cli('train', '--resume', out, '--json') : undefined;
      if (c) expect(c.code, c.stderr).toBe(0);
      return out;
    })();
    ref = await cli('train', ...RUN, '--out', REF, '--json');
    const out = await chain;
    expect(ref.code, ref.stderr).toBe(0);
    const want = stepLosses(ref.stdout);
    expect(want.map(([s]) => s)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    const got = stepLosses(readFileSync(join(out, 'metrics.jsonl'), 'utf8'));
    expect(got, `kills: ${JSON.stringify(kills)}`).toEqual(want);
    // The eval lines too (at step 4 and at the end), and the files the run leaves.
    // (their numbers; `ms` and the time fields are wall-clock and differ between any two runs)
    const evals = (p: string) => lines(readFileSync(p, 'utf8')).filter((l) => l.type === 'eval').map(({ ms: _ms, wallMs: _wallMs, ...rest }) => rest);
    expect(evals(join(out, 'metrics.jsonl'))).toEqual(evals(join(REF, 'metrics.jsonl')));
    expect(bytes(join(out, 'adapter_model.safetensors')).equals(bytes(join(REF, 'adapter_model.safetensors')))).toBe(true);
    expect(bytes(join(out, 'checkpoint.safetensors')).equals(bytes(join(REF, 'checkpoint.safetensors')))).toBe(true);
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
    // A finished run continues to a new --steps.
    const more = await cli('train', '--resume', REF, '--steps', String(STEPS + 1), '--json');
    expect(more.code, more.stderr).toBe(0);
    expect(stepLosses(more.stdout).map(([s]) => s)).toEqual([STEPS + 1]);
    await expect(inProcess(['train', '--resume', REF, '--steps', String(STEPS + 1)])).rejects.toThrow(/at step 7 already; give --steps above 7/);
  }, 600_000);

  it('an output that is, contains or lies inside an input is refused before anything is written', async () => {
    const weights = join(BASE, 'model.safetensors');
    const before = bytes(weights);
    // As a user runs it: exit code 2, the reason, no usage text after it.
    const r = await cli('export', '--run', REF, '--format', 'merged', '--out', BASE);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--out .*base is the run's base model .*writing there could destroy it\. Nothing was written/);
    expect(r.stderr).not.toMatch(/usage: npm run cli/);
    const cases: [string[], RegExp][] = [
      [['export', '--run', REF, '--format', 'merged', '--out', TMP], /--out .* contains --run/],
      [['export', '--run', REF, '--format', 'peft', '--out', join(REF, 'peft')], /lies inside --run/],
      [['train', ...FULL, '--out', BASE], /--out .*base is --model/],
      [['train', ...FULL, '--out', join(BASE, 'run'), '--overwrite'], /--out .*run lies inside --model/],
    ];
    for (const [args, msg] of cases) await expect(inProcess(args), args.join(' ')).rejects.toThrow(msg);
    expect(bytes(weights).equals(before)).toBe(true);
    expect(existsSync(join(REF, 'peft'))).toBe(false);
  }, 120_000);

  it('an existing run folder is reused only with --resume or --overwrite; a failed --overwrite run leaves it whole', async () => {
    const files = readdirSync(REF).filter((n) => !n.startsWith('.'));
    const before = new Map(files.map((n) => [n, bytes(join(REF, n))]));
    await expect(inProcess(['train', ...RUN, '--out', REF])).rejects.toThrow(/already holds a run .* --resume .* --overwrite/);
    // --lr 1e30 diverges: the run stops loudly at the step that went non-finite (exit code 1,
    // no "done"), and the folder it was to replace is as it was.
    const bad = await cli('train', ...RUN, '--lr', '1e30', '--out', REF, '--overwrite', '--json');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/TrainingDivergedError: Training diverged at step \d+: the (gradient norm|loss) is (NaN|Infinity).*learning rate .* too high/);
    expect(lines(bad.stdout).some((l) => l.type === 'done')).toBe(false);
    for (const [n, b] of before) expect(bytes(join(REF, n)).equals(b), n).toBe(true);
    expect(readdirSync(TMP).filter((n) => n.includes('.partial-'))).toEqual([]);
  }, 300_000);

  it('export verifies what it reads and writes: a truncated adapter is refused and nothing is written', async () => {
    const run = join(TMP, 'truncated');
    cpSync(REF, run, { recursive: true });
    const st = join(run, 'adapter_model.safetensors');
    truncateSync(st, statSync(st).size - 100);
    const out = join(TMP, 'peft-out');
    await expect(inProcess(['export', '--run', run, '--format', 'peft', '--out', out])).rejects.toThrow(/adapter_model\.safetensors is damaged .*not a valid safetensors file/);
    expect(existsSync(out)).toBe(false);
    // A good export lands whole; the same folder again needs --overwrite.
    await inProcess(['export', '--run', REF, '--format', 'peft', '--out', out]);
    expect(bytes(join(out, 'adapter_model.safetensors')).equals(bytes(join(REF, 'adapter_model.safetensors')))).toBe(true);
    await expect(inProcess(['export', '--run', REF, '--format', 'peft', '--out', out])).rejects.toThrow(/is not empty .* --overwrite/);
    await inProcess(['export', '--run', REF, '--format', 'peft', '--out', out, '--overwrite']);
    expect(readdirSync(TMP).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 120_000);
});
