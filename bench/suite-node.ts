// What bench/train.ts, bench/decode.ts and bench/gpu.ts share in Node: the GPU, the methods,
// the built-in model's folder, flags (--only a,b by label substring; --quick: tiny-kjv only),
// a table printer and the results folder.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMethods } from '../src/cli/methods.ts';
import type { SuiteHost } from '../src/engine/bench/suite.ts';
import { Gpu } from '../src/engine/gpu/gpu.ts';
import { fileAutotuneStore, nodeHost } from '../src/engine/gpu/host-node.ts';
import { nodeModelDir } from '../src/engine/io/node-dir.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
export const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
export const has = (name: string): boolean => args.includes(`--${name}`);

/** Configurations whose label matches --only (comma-separated substrings); --quick keeps tiny-kjv. */
export function pick<C extends { label: string; model: string }>(all: readonly C[]): C[] {
  const only = flag('only')?.split(',');
  return all.filter((c) => (!only || only.some((o) => c.label.includes(o))) && (!has('quick') || c.model === 'tiny-kjv'));
}

export async function setup(): Promise<{ gpu: Gpu; host: SuiteHost }> {
  await loadMethods();
  const gpu = await Gpu.create(nodeHost());
  void fileAutotuneStore; // autotune choices are made per run by the kernels' own tuners
  const host: SuiteHost = {
    tinyKjv: () => nodeModelDir(join(ROOT, 'public/models/tiny-kjv')),
    onProgress: (w) => process.stderr.write(`… ${w}\n`),
  };
  return { gpu, host };
}

export function table(rows: readonly Record<string, string | number>[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2)) : v);
  const lines = [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${cols.map((c) => fmt(r[c])).join(' | ')} |`);
  return lines.join('\n');
}

export function writeResult(name: string, data: unknown): string {
  const path = join(ROOT, 'bench/results', name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}
