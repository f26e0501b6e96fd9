// The page's GGUF downloads (runs.ts): the merged model as model.gguf (F16) with its Ollama
// Modelfile, and the Modelfile beside an adapter-only GGUF export (FROM the base GGUF the
// run started from, or base.gguf when the base was a Hugging Face folder).

import { asGguf } from '../io/gguf-model.ts';
import { readText, type ModelFiles } from '../io/model-files.ts';
import { parseModelConfig } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import type { ExportFile } from '../methods/types.ts';
import { ggufVocab, ggufVocabOf } from './gguf-vocab.ts';
import { writeMergedGguf, type MergedGgufType } from './merged-gguf.ts';
import { memoryFolder } from './merged.ts';
import { ollamaModelfile } from './modelfile.ts';

export async function mergedGgufFiles(base: ModelFiles, files: readonly ExportFile[], precision: BasePrecision, type: MergedGgufType = 'F16'): Promise<ExportFile[]> {
  const folder = memoryFolder();
  const s = await writeMergedGguf(base, files, await folder.create('model.gguf'), { type, precision });
  return [
    { name: 'model.gguf', bytes: folder.files.get('model.gguf')! },
    { name: 'Modelfile', bytes: new TextEncoder().encode(ollamaModelfile({ from: './model.gguf', stops: s.vocab.stops })) },
  ];
}

export async function ggufAdapterModelfile(base: ModelFiles, baseName: string): Promise<string | undefined> {
  const g = await asGguf(base);
  let stops: string[] = [];
  try {
    stops = g ? ggufVocabOf(g).stops : (await ggufVocab(base, parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`))).stops;
  } catch {
    stops = []; // a tokenizer llama.cpp's vocab writer does not take: the Modelfile has no stop lines
  }
  const file = g ? baseName.split('/').pop()! : 'base.gguf';
  return ollamaModelfile({
    from: `./${file}`,
    note: g ? `${file}: the GGUF this run started from, beside this Modelfile` : `base.gguf: ${baseName} as a GGUF (the gguf-merged export of the base, or llama.cpp's convert_hf_to_gguf.py)`,
    adapter: './adapter.gguf',
    stops,
  });
}
