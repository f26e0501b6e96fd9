// Flags and progress output shared by the CLI's commands.

import type { HubProgress } from '../engine/io/hub.ts';
import type { BasePrecision } from '../engine/model/decoder.ts';
import { Flags, UsageError } from './args.ts';

const PRECISIONS: readonly BasePrecision[] = ['f32', 'q8', 'q4', 'nf4'];

export function precisionFlag(f: Flags): BasePrecision {
  const q = f.string('quant', 'f32');
  const p = PRECISIONS.find((x) => x === q);
  if (!p) throw new UsageError(`--quant should be one of ${PRECISIONS.join(', ')}, got "${q}"`);
  return p;
}

export function progressPrinter(json: boolean): (p: HubProgress) => void {
  return (p) => {
    if (json) console.log(JSON.stringify({ type: 'download', ...p }));
    else if (!p.fromCache) process.stderr.write(`\r${p.file}: ${(p.loaded / 1e6).toFixed(1)}${p.total ? ` / ${(p.total / 1e6).toFixed(1)}` : ''} MB`);
  };
}

