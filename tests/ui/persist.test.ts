// The pure parts of the page's run storage and export downloads (src/ui/persist.ts):
// the STORE-only zip writer checked byte by byte against the zip format (APPNOTE 4.3),
// CRC-32 against its check value, storage keys that survive a reload, byte counts; and the
// compare view's pure helpers (its row of numbers, the Pareto front, the config diff's keys).
import { describe, expect, it } from 'vitest';
import { crc32, exportDownload, formatBytes, recordBytes, safeName, storageKey, unzipStore, zipStore } from '../../src/ui/persist.ts';
import type { RunView } from '../../src/ui/store/runTypes.ts';
import { compareRow, flatConfig, paretoFront } from '../../src/ui/ComparePanel.tsx';

const enc = new TextEncoder();

describe('crc32', () => {
  it('gives the standard check value and the empty CRC', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(enc.encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });
});

describe('zipStore', () => {
  const files = [
    { name: 'adapter_config.json', bytes: enc.encode('{"peft_type":"LORA","r":8}') },
    { name: 'adapter_model.safetensors', bytes: Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff) },
    { name: 'empty.txt', bytes: new Uint8Array(0) },
  ];
  const when = new Date(2024, 5, 15, 13, 45, 30);
  const zip = zipStore(files, when);
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);

  it('has a local header with the stored bytes for every file, then the central directory and its end', () => {
    const nameBytes = files.reduce((a, f) => a + enc.encode(f.name).length, 0);
    const data = files.reduce((a, f) => a + f.bytes.length, 0);
    expect(zip.length).toBe(30 * 3 + 46 * 3 + 2 * nameBytes + data + 22);
    let p = 0;
    for (const f of files) {
      const name = enc.encode(f.name);
      expect(v.getUint32(p, true)).toBe(0x04034b50);
      expect(v.getUint16(p + 4, true)).toBe(20); // version needed 2.0
      expect(v.getUint16(p + 6, true)).toBe(0x0800); // UTF-8 names
      expect(v.getUint16(p + 8, true)).toBe(0); // STORE
      expect(v.getUint16(p + 10, true)).toBe((13 << 11) | (45 << 5) | 15); // DOS time, 2 s units
      expect(v.getUint16(p + 12, true)).toBe(((2024 - 1980) << 9) | (6 << 5) | 15);
      expect(v.getUint32(p + 14, true)).toBe(crc32(f.bytes));
      expect(v.getUint32(p + 18, true)).toBe(f.bytes.length); // compressed = uncompressed
      expect(v.getUint32(p + 22, true)).toBe(f.bytes.length);
      expect(v.getUint16(p + 26, true)).toBe(name.length);
      expect(v.getUint16(p + 28, true)).toBe(0);
      expect(zip.subarray(p + 30, p + 30 + name.length)).toEqual(name);
      expect(zip.subarray(p + 30 + name.length, p + 30 + name.length + f.bytes.length)).toEqual(f.bytes);
      p += 30 + name.length + f.bytes.length;
    }
    const end = zip.length - 22;
    expect(v.getUint32(end, true)).toBe(0x06054b50);
    expect(v.getUint16(end + 8, true)).toBe(3);
    expect(v.getUint16(end + 10, true)).toBe(3);
    expect(v.getUint32(end + 12, true)).toBe(46 * 3 + nameBytes); // central directory size
    expect(v.getUint32(end + 16, true)).toBe(p); // central directory offset
    let local = 0;
    for (const f of files) {
      const name = enc.encode(f.name);
      expect(v.getUint32(p, true)).toBe(0x02014b50);
      expect(v.getUint16(p + 10, true)).toBe(0);
      expect(v.getUint32(p + 16, true)).toBe(crc32(f.bytes));
      expect(v.getUint32(p + 20, true)).toBe(f.bytes.length);
      expect(v.getUint32(p + 24, true)).toBe(f.bytes.length);
      expect(v.getUint16(p + 28, true)).toBe(name.length);
      expect(v.getUint32(p + 42, true)).toBe(local); // its local header
      expect(zip.subarray(p + 46, p + 46 + name.length)).toEqual(name);
      local += 30 + name.length + f.bytes.length;
      p += 46 + name.length;
    }
    expect(p).toBe(end);
  });

  it('reads back to the same files, and a flipped byte fails the CRC', () => {
    expect(unzipStore(zip)).toEqual(files.map((f) => ({ name: f.name, bytes: Uint8Array.from(f.bytes) })));
    const bad = zip.slice();
    bad[30 + 'adapter_config.json'.length + 3] ^= 1;
    expect(() => unzipStore(bad)).toThrow(/CRC/);
  });
});

describe('export downloads', () => {
  it('is the file itself for one file and a zip for several', () => {
    const one = exportDownload('LoRA r=8 / run 1', 'safetensors', [{ name: 'model.safetensors', bytes: new Uint8Array([1, 2]) }]);
    expect(one.name).toBe('LoRA-r-8-run-1-model.safetensors');
    expect(one.bytes).toEqual(new Uint8Array([1, 2]));
    const two = exportDownload('lora', 'peft', [{ name: 'a.json', bytes: enc.encode('{}') }, { name: 'b.bin', bytes: new Uint8Array([9]) }]);
    expect(two.name).toBe('lora-peft.zip');
    expect(two.type).toBe('application/zip');
    expect(unzipStore(two.bytes).map((f) => f.name)).toEqual(['a.json', 'b.bin']);
    expect(safeName('  ')).toBe('run');
  });
});

describe('storage', () => {
  it('keys worker run ids by session, keeps keys that are already stored ones', () => {
    expect(storageKey('run-3', 'lx2a')).toBe('run-3.lx2a');
    expect(storageKey('run-3.lx2a', 'zz')).toBe('run-3.lx2a');
  });

  it('counts the JSON record and the files', () => {
    const view = { id: 'run-1', label: 'x' } as unknown as RunView;
    const json = JSON.stringify(view).length;
    expect(recordBytes(view)).toBe(json);
    expect(recordBytes(view, [{ name: 'a', bytes: new Uint8Array(100) }])).toBe(json + 100);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.00 MiB');
  });
});

describe('compare view helpers', () => {
  const step = (n: number, tps: number, peak: number) => ({ step: n, loss: 5 - n / 10, lr: 1e-3, tokensPerSec: tps, wallMs: n * 100, tokens: n * 96, memory: { weights: 0, adapter: 0, gradients: 0, optimizer: 0, activations: 0, scratch: 0, total: peak, peak } });
  const view = (over: Partial<RunView>): RunView => ({
    id: 'run-1', label: 'a', phase: 'done', createdAt: 0, datasetName: 'd.jsonl',
    request: { datasetId: 'data-1', method: 'lora', methodConfig: { rank: 8, targets: ['q_proj'] }, trainer: { steps: 3, lr: 1e-3 }, B: 4, T: 24, seed: 0, data: { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 4 } },
    model: { name: 'builtin:tiny-kjv', precision: 'f32', parameters: 1000 },
    steps: [step(1, 10, 50), step(2, 100, 80), step(3, 120, 70)], evals: [{ step: 3, loss: 4.2, metric: 0.25 }],
    ...over,
  });

  it('takes the summary where there is one, else the points; tokens over the time in steps', () => {
    const r = compareRow(view({ trainableParams: 25 }));
    expect(r).toMatchObject({ params: 25, pctBase: 2.5, peakBytes: 80, trainLoss: 4.7, evalLoss: 4.2, metric: 0.25, wallMs: 300 });
    expect(r.tokensPerSec).toBeCloseTo(3 / (1 / 10 + 1 / 100 + 1 / 120), 9);
    const s = compareRow(view({ summary: { steps: 3, finalLoss: 4.6, evalLoss: 4.1, peakBytes: 90, trainableParams: 30, wallMs: 400, stopped: false } }));
    expect(s).toMatchObject({ params: 30, peakBytes: 90, trainLoss: 4.6, evalLoss: 4.1, wallMs: 400 });
    expect(compareRow(view({ steps: [], evals: [{ step: 1, loss: Number.NaN }] })).evalLoss).toBeUndefined();
  });

  it('keeps the points no other beats on both axes', () => {
    const pts = [{ x: 1, y: 5 }, { x: 2, y: 3 }, { x: 3, y: 4 }, { x: 4, y: 1 }, { x: 2, y: 6 }];
    expect(paretoFront(pts)).toEqual([{ x: 1, y: 5 }, { x: 2, y: 3 }, { x: 4, y: 1 }]);
    expect(paretoFront([])).toEqual([]);
  });

  it('flattens a run\'s settings for the diff', () => {
    const f = flatConfig(view({}));
    expect(f).toMatchObject({ method: 'lora', model: 'builtin:tiny-kjv (f32)', B: '4', T: '24', 'method.rank': '8', 'method.targets': '["q_proj"]', 'trainer.lr': '0.001', 'data.metricRows': '4' });
  });
});
