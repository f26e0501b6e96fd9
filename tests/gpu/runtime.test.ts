// The GPU runtime: ledger bookkeeping, arena pooling and disposal, typed errors, device
// loss, uniform ring overflow, program order of host writes, and the autotuner.

import { describe, expect, it } from 'vitest';
import { Autotuner, type AutotuneStore } from '../../src/engine/gpu/autotune.ts';
import { DeviceLostError, GpuOutOfMemoryError, ShaderCompileError } from '../../src/engine/gpu/errors.ts';
import { Gpu, type GpuEvent } from '../../src/engine/gpu/gpu.ts';
import { nodeHost } from '../../src/engine/gpu/host-node.ts';
import { LEDGER_CATEGORIES, MemoryLedger } from '../../src/engine/gpu/ledger.ts';
import { KernelRegistry } from '../../src/engine/gpu/registry.ts';
import { axpby, fill, scale } from '../../src/engine/kernels/elementwise.ts';
import { randn, testGpu } from '../helpers/gpu.ts';

describe('memory ledger', () => {
  it('tracks live and peak per category and in total', () => {
    const l = new MemoryLedger();
    l.add('weights', 100);
    l.add('activations', 50);
    l.remove('activations', 50);
    l.add('gradients', 30);
    const s = l.snapshot();
    expect(s.live).toEqual({ weights: 100, adapter: 0, gradients: 30, optimizer: 0, activations: 0, scratch: 0 });
    expect(s.peak.activations).toBe(50);
    expect(s.totalLive).toBe(130);
    expect(s.totalPeak).toBe(150);
    l.resetPeak();
    expect(l.snapshot().peak.activations).toBe(0);
    expect(l.snapshot().totalPeak).toBe(130);
    expect(() => l.remove('optimizer', 1)).toThrow(/only 0 B are live/);
  });
});

describe('arena', () => {
  it('puts every buffer on the ledger and returns live bytes to zero when a run is disposed', async () => {
    const gpu = await testGpu();
    const before = gpu.ledger.snapshot();
    const run = gpu.arena.child();
    gpu.ledger.resetPeak();
    const sizes = [1000, 2048, 12, 4096, 64, 333];
    const bufs = await Promise.all(LEDGER_CATEGORIES.map((c, i) => run.alloc(c, sizes[i], `t-${c}`)));
    const live = gpu.ledger.snapshot().live;
    LEDGER_CATEGORIES.forEach((c, i) => {
      if (c !== 'scratch') expect(live[c] - before.live[c]).toBe(Math.ceil(sizes[i] / 4) * 4);
    });
    // A "step": scratch from the pool, released, taken again: the same GPU buffer comes back.
    const s1 = await run.scratch(3000, 'step-scratch');
    const first = s1.buffer;
    fill(gpu, s1, 750, 2);
    s1.release();
    const s2 = await run.scratch(2900, 'step-scratch');
    expect(s2.buffer).toBe(first);
    s2.release();
    expect(run.bufferCount).toBe(LEDGER_CATEGORIES.length + 1);
    bufs[0].release();
    await gpu.flush();
    run.dispose();
    const after = gpu.ledger.snapshot();
    expect(after.live).toEqual(before.live);
    expect(after.peak.scratch).toBeGreaterThanOrEqual(4096);
    expect(run.bufferCount).toBe(0);
    await expect(run.alloc('weights', 4, 'late')).rejects.toThrow(/after dispose/);
  });

  it('refuses a buffer over the device limit with an actionable typed error', async () => {
    const gpu = await testGpu();
    const tooBig = gpu.device.limits.maxBufferSize + 4;
    const err = await gpu.arena.alloc('weights', tooBig, 'huge.weight').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(String((err as Error).message)).toMatch(/huge\.weight \(weights\).*maxBufferSize/);
  });
});

describe('kernel registry', () => {
  it('turns a WGSL compile error into a ShaderCompileError naming file and line', async () => {
    const gpu = await testGpu();
    const src = '@group(0) @binding(0) var<uniform> p: vec4u;\n@compute @workgroup_size(1)\nfn main() { let x: f32 = undefined_thing; }\n';
    const reg = new KernelRegistry(gpu.device, () => src);
    reg.pipeline({ shader: 'broken', entry: 'main', bindings: [] });
    const err = await reg.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect(String((err as Error).message)).toMatch(/shaders\/broken\.wgsl:3:\d+/);
  });

  it('caches pipelines per (file, entry, overrides)', async () => {
    const gpu = await testGpu();
    const y = await gpu.arena.alloc('scratch', 64, 'y');
    fill(gpu, y, 16, 1);
    const n = gpu.kernels.pipelineCount;
    fill(gpu, y, 16, 2);
    expect(gpu.kernels.pipelineCount).toBe(n);
    await gpu.flush();
    y.release();
  });
});

describe('dispatch', () => {
  it('keeps order across more dispatches than the uniform ring holds, and around host writes', async () => {
    const gpu = await testGpu();
    const n = 37;
    const x = randn(n, 7);
    const bx = await gpu.upload('activations', x, 'x');
    const by = await gpu.upload('activations', new Float32Array(n), 'y');
    for (let i = 0; i < 1200; i++) axpby(gpu, bx, by, n, 1, 1); // y = 1200 x
    scale(gpu, by, n, 0.5);
    gpu.write(bx, new Float32Array(n)); // must not overtake the recorded work above
    const y = await gpu.readF32(by);
    for (let i = 0; i < n; i++) expect(Math.abs(y[i] - 600 * x[i])).toBeLessThanOrEqual(1e-3 * Math.abs(600 * x[i]) + 1e-4);
    bx.release();
    by.release();
  });
});

describe('device loss', () => {
  it('is surfaced as an event and later calls fail with DeviceLostError', async () => {
    const gpu = await Gpu.create(nodeHost());
    const events: GpuEvent[] = [];
    gpu.on((e) => events.push(e));
    const b = await gpu.arena.alloc('weights', 16, 'w');
    gpu.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20 && !gpu.lost; i++) await new Promise((r) => setTimeout(r, 50));
    expect(events.some((e) => e.type === 'lost')).toBe(true);
    expect(() => fill(gpu, b, 4, 1)).toThrow(DeviceLostError);
  });
});

describe('autotune', () => {
  it('measures each variant once per adapter and shape, then answers from its cache and store', async () => {
    const gpu = await testGpu();
    const y = await gpu.arena.alloc('scratch', 4096, 'y');
    let saved: Record<string, string> = {};
    const store: AutotuneStore = { load: () => ({}), save: (c) => void (saved = c) };
    const tuner = new Autotuner(gpu, store);
    const runs: string[] = [];
    const variants = ['one', 'many'] as const;
    const run = (v: (typeof variants)[number]) => {
      runs.push(v);
      for (let i = 0; i < (v === 'one' ? 1 : 40); i++) scale(gpu, y, 1024, 1);
    };
    const first = await tuner.pick('scale-test', 'n=1024', variants, run, 3);
    expect(first.cached).toBe(false);
    expect(first.measurements.map((m) => m.variant)).toEqual(['one', 'many']);
    expect(first.chosen).toBe('one'); // 40 dispatches cannot beat one
    expect(Object.values(saved)).toEqual(['one']);
    const n = runs.length;
    const again = await tuner.pick('scale-test', 'n=1024', variants, run);
    expect(again).toMatchObject({ chosen: 'one', cached: true });
    expect(runs.length).toBe(n);
    const fromStore = new Autotuner(gpu, { load: () => saved, save: () => {} });
    expect(fromStore.cached('scale-test', 'n=1024', variants)).toBe('one');
    y.release();
  });
});
