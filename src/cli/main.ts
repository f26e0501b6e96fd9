// webtune CLI (Node, Dawn's WebGPU bindings): the same engine as the page, headless.
//   npm run cli -- info [--json]     the adapter, its features and limits, and a kernel self-check

import { Gpu } from '../engine/gpu/gpu.ts';
import { nodeHost } from '../engine/gpu/host-node.ts';
import { fmtBytes } from '../engine/gpu/arena.ts';
import { axpby } from '../engine/kernels/elementwise.ts';
import { axpbyRef } from '../engine/kernels/elementwise.ref.ts';

const USAGE = `usage: npm run cli -- <command> [flags]

commands:
  info [--json]   show the WebGPU adapter Node sees (features, limits) and run a kernel self-check
`;

async function info(json: boolean): Promise<void> {
  const gpu = await Gpu.create(nodeHost());
  try {
    const n = 4099;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const bx = await gpu.upload('scratch', x, 'x');
    const by = await gpu.upload('scratch', y, 'y');
    axpby(gpu, bx, by, n, 0.5, 2);
    const got = await gpu.readF32(by);
    const ref = axpbyRef(x, y, 0.5, 2);
    let maxAbsError = 0;
    for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - ref[i]));
    if (json) {
      console.log(JSON.stringify({ type: 'info', adapter: gpu.adapter, selfCheck: { n, maxAbsError } }));
      return;
    }
    const a = gpu.adapter;
    console.log(`adapter         ${a.vendor} / ${a.architecture}${a.description ? ` (${a.description})` : ''}${a.isFallbackAdapter ? ' [fallback]' : ''}`);
    console.log(`host            ${a.host}`);
    for (const f of ['shader-f16', 'subgroups', 'timestamp-query']) console.log(`${f.padEnd(16)}${a.features.includes(f) ? 'yes' : 'no'}`);
    for (const [k, v] of Object.entries(a.limits)) console.log(`${k.padEnd(36)}${k.endsWith('Size') ? fmtBytes(v) : v}`);
    console.log(`self-check      axpby on ${n} values: max |gpu - ref| = ${maxAbsError.toExponential(2)}`);
  } finally {
    gpu.destroy();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'info':
      await info(rest.includes('--json'));
      return 0;
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${cmd}"\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`${err.name}: ${err.message}\n`);
    process.exit(1);
  },
);
