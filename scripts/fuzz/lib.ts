// The fuzzer's parts that do not know any reader: a seeded PRNG, the mutations, and how an
// outcome is classified. scripts/fuzz.ts runs cases in child processes (a hang or an abort
// is observed, not suffered); tests/fuzz/fuzz.test.ts runs a short slice in-process.

import { isRawJsError } from '../../src/engine/io/limits.ts';

/** One input: the files a reader is given (the first is the one most mutated). */
export interface FuzzFile {
  name: string;
  bytes: Uint8Array;
}
export type FuzzInput = FuzzFile[];

export type Outcome = 'ok' | 'error' | 'unhelpful' | 'wrong' | 'slow' | 'hang' | 'crash' | 'memory';
export const OUTCOMES: readonly Outcome[] = ['ok', 'error', 'unhelpful', 'wrong', 'slow', 'hang', 'crash', 'memory'];
/** Outcomes that fail the run (and the test slice). */
export const BAD: readonly Outcome[] = ['unhelpful', 'wrong', 'slow', 'hang', 'crash', 'memory'];

/**
 * A reader under test. `run` reads the input as the product does (throws to refuse it);
 * `wrong`, where a validity oracle exists, says why an accepted input should have been refused.
 */
export interface FuzzTarget<C = unknown> {
  name: string;
  /** What the reader is, for the table. */
  title: string;
  setup(): Promise<C>;
  seeds(ctx: C): FuzzInput[];
  /** Format-aware mutation of one input (a header, a JSON tree, records); undefined: none applies. */
  structured?(input: FuzzInput, rng: Rng, ctx: C): FuzzInput | undefined;
  run(input: FuzzInput, ctx: C): Promise<unknown>;
  wrong?(input: FuzzInput, result: unknown, ctx: C): string | undefined;
  /** Words that count as naming what is wrong, besides the file names (a writer has no file). */
  mentions?: readonly string[];
}

// ---------------------------------------------------------------------------------------
// PRNG (mulberry32), one stream per (seed, case)

export class Rng {
  private s: number;
  constructor(seed: number, index: number) {
    this.s = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
    for (let i = 0; i < 4; i++) this.next();
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------------------
// Mutations

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function splice(b: Uint8Array, at: number, del: number, ins: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - del + ins.length);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(at + del), at + ins.length);
  return out;
}

/** Lengths to cut at: every small size, powers of two and their neighbours, and near the end. */
function truncationLength(n: number, rng: Rng): number {
  const classes = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 1023, 1024, 4095, 4096, n >> 1, n - 1, n - 2, n - 8, n - 9, rng.int(n + 1)];
  return Math.max(0, Math.min(n, rng.pick(classes)));
}

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0x80], [0xe2, 0x82], [0xef, 0xbb, 0xbf]];
const EXTREME_NUMBERS = ['NaN', 'Infinity', '-Infinity', '-1', '0', '-0', '1e308', '-1e308', '1e-320', '9007199254740993', '1.5', '4294967296', '18446744073709551616', '1e30', '2147483648', '255', '256', '65536', '1e999', '0.0', '3'];

/** Multi-megabyte text: one word, words, lines, or a run of one character (a 64 KiB piece repeated: cheap to make). */
export function bigText(rng: Rng, mb = rng.pick([0.25, 0.5, 1, 2, 4])): string {
  const n = Math.floor(mb * 1024 * 1024);
  const kind = rng.int(4);
  if (kind === 0) return 'a'.repeat(n);
  const word = 'thee thou hast spoken unto the lord'.split(' ');
  const parts: string[] = [];
  for (let len = 0; len < 65536; ) {
    const w = kind === 1 ? word[rng.int(word.length)] + 'xyzq'.repeat(rng.int(50)) : word[rng.int(word.length)];
    parts.push(w);
    len += w.length + 1;
  }
  const piece = parts.join(kind === 3 ? '\n' : kind === 1 ? '' : ' ');
  return piece.repeat(Math.ceil(n / piece.length)).slice(0, n);
}

/** Positions just after `:` or `[` or `,` in JSON text where a value starts. */
function valueStarts(text: string, rng: Rng, want = 8): number[] {
  const out: number[] = [];
  for (let tries = 0; tries < want * 8 && out.length < want && text.length > 0; tries++) {
    const i = rng.int(text.length);
    const j = text.indexOf(':', i);
    if (j >= 0) out.push(j + 1);
  }
  return out;
}

/** One byte-level or text-level mutation of one file. */
export function mutateBytes(b: Uint8Array, rng: Rng): Uint8Array {
  const n = b.length;
  // the multi-megabyte and deep mutations (9, 10, 11, 13) are one case in ten or so
  const kind = rng.chance(0.12) ? rng.pick([9, 10, 11, 13]) : rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 12]);
  const at = rng.int(n + 1);
  switch (kind) {
    case 0: {
      const out = b.slice();
      const flips = 1 + rng.int(8);
      for (let k = 0; k < flips && n > 0; k++) out[rng.int(n)] ^= 1 << rng.int(8);
      return out;
    }
    case 1:
      return b.slice(0, truncationLength(n, rng));
    case 2:
      return splice(b, at, 0, Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.pick([0, 0xff, 0x7f, 0x80, 0x22, 0x7b, 0x5b, 0x5d, 0x7d, 0x2c, 0x0a, 0x5c, rng.int(256)])));
    case 3:
      return splice(b, at, 0, Uint8Array.from(rng.pick(INVALID_UTF8)));
    case 4: {
      const out = b.slice();
      if (n >= 8) {
        const dv = new DataView(out.buffer);
        const p = rng.int(n - 7);
        const v = rng.pick([0n, 0xffffffffffffffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 40n, BigInt(rng.int(1 << 30))]);
        const w = rng.pick([1, 2, 4, 8]);
        if (w === 8) dv.setBigUint64(p, v, true);
        else if (w === 4) dv.setUint32(p, Number(v & 0xffffffffn), true);
        else if (w === 2) dv.setUint16(p, Number(v & 0xffffn), true);
        else dv.setUint8(p, Number(v & 0xffn));
      }
      return out;
    }
    case 5:
      return splice(b, at, Math.min(n - at, 1 + rng.int(64)), new Uint8Array(0));
    case 6: {
      const from = rng.int(n + 1);
      const len = Math.min(n - from, 1 + rng.int(256));
      return splice(b, at, 0, b.slice(from, from + len));
    }
    case 7: {
      // a number replaced by an extreme one (NaN and Infinity are not JSON: they test the error)
      const text = dec.decode(b);
      const m = [...text.matchAll(/-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
      if (!m.length) return mutateBytes(b, rng);
      const hit = rng.pick(m);
      return enc.encode(text.slice(0, hit.index) + rng.pick(EXTREME_NUMBERS) + text.slice(hit.index + hit[0].length));
    }
    case 8: {
      // a duplicate key with another value
      const text = dec.decode(b);
      const m = [...text.matchAll(/"([^"\\\n]{1,40})"\s*:/g)];
      if (!m.length) return mutateBytes(b, rng);
      const hit = rng.pick(m);
      const value = rng.pick(['1e308', '-1', 'null', '"x"', '[]', '{}', 'true', '0']);
      return enc.encode(text.slice(0, hit.index) + `"${hit[1]}": ${value}, ` + text.slice(hit.index));
    }
    case 9: {
      // deep nesting at a value position
      const text = dec.decode(b);
      const p = valueStarts(text, rng, 1)[0] ?? at;
      const d = rng.pick([65, 200, 5000, 100000]);
      const open = rng.chance(0.5) ? '['.repeat(d) : '{"a":'.repeat(d);
      const close = open[0] === '[' ? ']'.repeat(d) : '}'.repeat(d);
      return enc.encode(`${text.slice(0, p)}${open}1${close}${rng.chance(0.5) ? ',' : ''}${text.slice(p)}`);
    }
    case 10: {
      // a multi-megabyte string at a value position
      const text = dec.decode(b);
      const p = valueStarts(text, rng, 1)[0] ?? at;
      return enc.encode(`${text.slice(0, p)}${JSON.stringify(bigText(rng))}${rng.chance(0.5) ? ',' : ''}${text.slice(p)}`);
    }
    case 11: {
      // a multi-megabyte line
      const text = dec.decode(b);
      const nl = text.indexOf('\n', rng.int(text.length + 1));
      const p = nl < 0 ? text.length : nl + 1;
      const line = rng.chance(0.5) ? JSON.stringify({ text: bigText(rng) }) : bigText(rng);
      return enc.encode(`${text.slice(0, p)}${line}\n${text.slice(p)}`);
    }
    case 12:
      // a byte-order mark in front
      return splice(b, 0, 0, Uint8Array.from([0xef, 0xbb, 0xbf]));
    default: {
      // a range repeated many times (a long header or line made of the file's own bytes)
      const from = rng.int(n + 1);
      const len = Math.min(n - from, 1 + rng.int(64));
      const piece = b.slice(from, from + len);
      const times = rng.pick([10, 1000, 100000]);
      const rep = new Uint8Array(piece.length * times);
      for (let k = 0; k < times; k++) rep.set(piece, k * piece.length);
      return splice(b, at, 0, rep);
    }
  }
}

/** A value to put somewhere in a JSON tree: of another type, extreme, huge or deep. */
function wildValue(rng: Rng): unknown {
  switch (rng.int(14)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return '';
    case 3: return rng.pick(['x', 'LlamaForCausalLM', 'GPT2LMHeadModel', 'default', 'llama3', 'linear', 'BPE', 'Sequence', 'Replace', 'assistant', 'user', '<s>', '</s>']);
    case 4: return rng.pick([-1, 0, 0.5, 1, 2, 3, 1e308, -1e308, 1e-320, 2 ** 53 + 2, 2 ** 31, 2 ** 32, 1e9, 7, 64, 65536]);
    case 5: return [];
    case 6: return {};
    case 7: return Array.from({ length: rng.chance(0.8) ? 3 : rng.pick([1000, 100000]) }, (_, i) => i);
    case 8: return 'z'.repeat(rng.chance(0.8) ? 100 : rng.pick([100000, 2_000_000]));
    case 9: {
      let v: unknown = 1;
      for (let d = rng.pick([10, 70, 70, 3000]); d > 0; d--) v = [v];
      return v;
    }
    case 10: return [rng.pick([1, -1, 1e308, 2 ** 40]), 'x'];
    case 11: return { type: rng.pick(['Replace', 'Sequence', 'Prepend', 'NFC', 'Split']), pattern: { String: ' ' }, content: '  ', normalizers: [] };
    case 12: return rng.pick([0.9, 1.5, 1e-7, -0.0, 1e-30]);
    default: return '{% for i in range(999999999) %}{{ i }}{% endfor %}';
  }
}

/** One mutation of a parsed JSON tree: a key deleted, a value replaced, a key added, or a subtree copied. */
export function mutateJsonTree(root: unknown, rng: Rng): unknown {
  const copy: unknown = structuredClone(root);
  // pick a random container on a random path
  const path: (string | number)[] = [];
  let node: unknown = copy;
  for (let d = 0; d < 6; d++) {
    const kids = typeof node === 'object' && node !== null ? (Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)) : [];
    if (!kids.length || (d > 0 && rng.chance(0.35))) break;
    const k = rng.pick(kids as (string | number)[]);
    const child = (node as Record<string | number, unknown>)[k];
    if (typeof child !== 'object' || child === null) {
      path.push(k);
      break;
    }
    path.push(k);
    node = child;
  }
  if (!path.length) return copy;
  let parent: Record<string | number, unknown> = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path[path.length - 1];
  const op = rng.int(5);
  if (op === 0 && !Array.isArray(parent)) delete parent[key];
  else if (op === 1 && !Array.isArray(parent)) parent[rng.pick(['vocab_size', 'eos_token_id', 'bos_token_id', 'partial_rotary_factor', 'rms_norm_eps', 'rope_scaling', 'head_dim', 'rank_pattern', 'alpha_pattern', 'chat_template', 'normalizer', 'dtype', 'shape', 'data_offsets', 'step', `extra${rng.int(9)}`])] = wildValue(rng);
  else if (op === 2 && Array.isArray(parent)) parent.push(rng.chance(0.5) ? structuredClone(parent[0]) : wildValue(rng));
  else parent[key] = wildValue(rng);
  return copy;
}

/** Apply 1 to 3 mutations to one of the files of a seed. */
export function mutate<C>(seed: FuzzInput, rng: Rng, target: FuzzTarget<C>, ctx: C): FuzzInput {
  let input = seed.map((f) => ({ name: f.name, bytes: f.bytes }));
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    if (target.structured && rng.chance(0.45)) {
      let s: FuzzInput | undefined;
      try {
        s = target.structured(input, rng, ctx);
      } catch {
        s = undefined; // the fuzzer's own JSON tools give up on a tree too deep for them
      }
      if (s) {
        input = s;
        continue;
      }
    }
    const i = input.length > 1 && rng.chance(0.4) ? 1 + rng.int(input.length - 1) : 0;
    input[i] = { name: input[i].name, bytes: mutateBytes(input[i].bytes, rng) };
  }
  return input;
}

/** The input of case `index`: a seed (case 0.. are the seeds themselves), mutated. */
export function caseInput<C>(target: FuzzTarget<C>, ctx: C, seeds: FuzzInput[], seed: number, index: number): FuzzInput {
  if (index < seeds.length) return seeds[index];
  const rng = new Rng(seed, index);
  return mutate(rng.pick(seeds), rng, target, ctx);
}

// ---------------------------------------------------------------------------------------
// Classification

export function inputBytes(input: FuzzInput): number {
  return input.reduce((a, f) => a + f.bytes.length, 0);
}

/** The time an input may take: a second plus a second per MB (issue 15's bound, with a second of grace for a tiny input on a loaded machine). */
export function timeLimitMs(bytes: number): number {
  return 1000 + (1000 * bytes) / (1024 * 1024);
}

/** A refusal is clear when it is a reader's own sentence and names the file it is about. */
export function classifyError(e: unknown, input: FuzzInput, mentions: readonly string[] = []): { outcome: Outcome; message: string } {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const short = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  if (isRawJsError(e)) return { outcome: 'unhelpful', message: short };
  const names = [...input.flatMap((f) => [f.name, f.name.split('/').pop() ?? f.name]), ...mentions];
  if (!names.some((n) => message.includes(n))) return { outcome: 'unhelpful', message: `does not name the file: ${short}` };
  if (message.length > 2000) return { outcome: 'unhelpful', message: `a ${message.length}-character message: ${short}` };
  return { outcome: 'error', message: short };
}

export interface CaseResult {
  index: number;
  outcome: Outcome;
  message?: string;
  ms: number;
  bytes: number;
  /** This process's peak resident memory after the case, MB. */
  rssMB?: number;
}

/** Run one case in this process and classify it (hang, crash and memory are seen by the parent). */
export async function runCase<C>(target: FuzzTarget<C>, ctx: C, seeds: FuzzInput[], seed: number, index: number, onStart?: (bytes: number) => void): Promise<CaseResult> {
  const input = caseInput(target, ctx, seeds, seed, index);
  const bytes = inputBytes(input);
  onStart?.(bytes);
  const attempt = async () => {
    const t0 = performance.now();
    let outcome: Outcome = 'ok';
    let message: string | undefined;
    try {
      const result = await target.run(input, ctx);
      const why = target.wrong?.(input, result, ctx);
      if (why) {
        outcome = 'wrong';
        message = why;
      }
    } catch (e) {
      ({ outcome, message } = classifyError(e, input, target.mentions));
    }
    return { outcome, message, ms: performance.now() - t0 };
  };
  let { outcome, message, ms } = await attempt();
  if ((outcome === 'ok' || outcome === 'error') && ms > timeLimitMs(bytes)) {
    // once more before calling it slow: the first run pays for compiling the reader, and the machine is shared
    ms = Math.min(ms, (await attempt()).ms);
  }
  if ((outcome === 'ok' || outcome === 'error') && ms > timeLimitMs(bytes)) {
    message = `${Math.round(ms)} ms for ${(bytes / 1024).toFixed(0)} KiB (${outcome}${message ? `: ${message}` : ''})`;
    outcome = 'slow';
  }
  return { index, outcome, message, ms, bytes };
}
