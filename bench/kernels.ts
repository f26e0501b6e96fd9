// npm run bench:kernels [-- --quick] [--only NAME]
// Runs every bench/cases/*.ts module (or those whose file name contains NAME), prints a
// table and writes bench/results/kernels.json (an array of BenchRow).

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Autotuner } from '../src/engine/gpu/autotune.ts';
import { Gpu } from '../src/engine/gpu/gpu.ts';
import { nodeHost } from '../src/engine/gpu/host-node.ts';
import type { BenchContext, BenchModule, BenchRow } from './harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;

const gpu = await Gpu.create(nodeHost());
const ctx: BenchContext = {
  autotuner: new Autotuner(gpu),
  quick,
  async time(run, reps = quick ? 2 : 5) {
    run();
    await gpu.flush();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      run();
      await gpu.flush();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  },
};

console.log(`adapter: ${gpu.adapter.vendor} / ${gpu.adapter.architecture} / ${gpu.adapter.description} (${gpu.adapter.host})`);
const rows: BenchRow[] = [];
const files = readdirSync(join(here, 'cases'))
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort();
for (const f of files) {
  const mod: { bench?: BenchModule } = await import(pathToFileURL(join(here, 'cases', f)).href);
  if (!mod.bench) throw new Error(`bench/cases/${f} exports no bench()`);
  const got = await mod.bench(gpu, ctx);
  for (const r of got) {
    rows.push(r);
    console.log(
      [r.kernel.padEnd(18), r.variant.padEnd(26), r.shape.padEnd(34), r.ms.toFixed(2).padStart(10), 'ms',
        r.gflops ? r.gflops.toFixed(2).padStart(8) + ' GFLOPS' : ''.padStart(15),
        r.gbps ? r.gbps.toFixed(2).padStart(8) + ' GB/s' : '', r.ofCopy !== undefined ? `${(100 * r.ofCopy).toFixed(0).padStart(4)} % of copy` : '',
        r.chosen ? '  <- chosen' : ''].join(' '),
    );
  }
}
const out = join(here, 'results', 'kernels.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(rows, null, 2) + '\n');
console.log(`wrote ${out} (${rows.length} rows)`);
gpu.destroy();
