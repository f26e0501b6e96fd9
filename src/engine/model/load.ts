// Load any supported causal LM from a model folder (local, Hub or built-in).

import type { Gpu } from '../gpu/gpu.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { parseModelConfig } from './config.ts';
import type { DecoderLM, ForwardResult, LoadOptions } from './decoder.ts';
import { Gpt2Model } from './gpt2.ts';
import { LlamaModel } from './llama.ts';

export type CausalLM = DecoderLM<ForwardResult>;

export async function loadModel(gpu: Gpu, files: ModelFiles, opts: LoadOptions = {}): Promise<CausalLM> {
  const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
  const ckpt = await Checkpoint.open(files);
  return spec.family === 'gpt2' ? Gpt2Model.fromCheckpoint(gpu, files, spec, ckpt, opts) : LlamaModel.fromCheckpoint(gpu, files, spec, ckpt, opts);
}
