// The CLI's GGUF exports beside export.ts: the merged model as one GGUF file plus an Ollama
// Modelfile, and the Modelfile of an adapter-only GGUF export (FROM the base GGUF).

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeMergedGguf, type MergedGgufType } from '../engine/export/merged-gguf.ts';
import { ggufVocab, ggufVocabOf } from '../engine/export/gguf-vocab.ts';
import { ollamaModelfile } from '../engine/export/modelfile.ts';
import type { OutFile } from '../engine/export/merged.ts';
import { asGguf } from '../engine/io/gguf-model.ts';
import { readText, type ModelFiles } from '../engine/io/model-files.ts';
import { parseModelConfig } from '../engine/model/config.ts';
import type { BasePrecision } from '../engine/model/decoder.ts';
import type { ExportFile } from '../engine/methods/types.ts';

export type { MergedGgufType };

function fileOut(path: string): OutFile {
  const s = createWriteStream(path);
  return {
    write: (b) => new Promise((resolve, reject) => s.write(b, (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve, reject) => s.end((e?: Error | null) => (e ? reject(e) : resolve()))),
  };
}

/** model.gguf written into `dir` (streamed, one tensor at a time), and its Modelfile's text. */
export async function exportMergedGguf(base: ModelFiles, files: readonly ExportFile[], dir: string, type: MergedGgufType, precision: BasePrecision, json: boolean) {
  await mkdir(dir, { recursive: true });
  const out = join(dir, 'model.gguf');
  const s = await writeMergedGguf(base, files, fileOut(out), { type, precision, onProgress: json ? (p) => console.log(JSON.stringify({ type: 'progress', ...p })) : undefined });
  return { out, arch: s.arch, bytes: s.bytes, merged: s.merged.length, fellBack: s.fellBack, modelfile: ollamaModelfile({ from: './model.gguf', stops: s.vocab.stops }) };
}

/** The Modelfile of an adapter-only export: FROM the base GGUF (the user's own file when the
 *  run started from one; else the base converted to GGUF, named base.gguf), ADAPTER beside it. */
export async function ggufModelfile(base: ModelFiles, modelSpec: string): Promise<string> {
  const g = await asGguf(base);
  const vocab = g ? ggufVocabOf(g) : await ggufVocab(base, parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`)).catch(() => undefined);
  return ollamaModelfile({
    from: g ? resolve(modelSpec) : './base.gguf',
    note: g ? 'the base GGUF this run started from' : `base.gguf: ${basename(modelSpec)} as a GGUF (llama.cpp's convert_hf_to_gguf.py, or webtune's gguf-merged export of a run on it)`,
    adapter: './adapter.gguf',
    stops: vocab?.stops ?? [],
  });
}
