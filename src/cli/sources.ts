// Where a model comes from on the command line: a folder, hf:<owner>/<name>[@revision]
// (downloaded into ~/.cache/webtune/hub, token from HF_TOKEN), or builtin:<name> (public/models).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubModelFiles, type HubProgress } from '../engine/io/hub.ts';
import type { ModelFiles } from '../engine/io/model-files.ts';
import { nodeDirCache } from '../engine/io/node-cache.ts';
import { nodeModelDir } from '../engine/io/node-dir.ts';
import { UsageError } from './args.ts';

export const BUILTIN_MODELS = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/models');

export function resolveModel(spec: string, progress?: (p: HubProgress) => void): ModelFiles {
  if (spec.startsWith('hf:')) {
    const [repo, revision = 'main'] = spec.slice(3).split('@');
    return hubModelFiles(repo, { revision, token: process.env.HF_TOKEN, cache: nodeDirCache(), onProgress: progress });
  }
  if (spec.startsWith('builtin:')) {
    const name = spec.slice(8);
    const have = existsSync(BUILTIN_MODELS) ? readdirSync(BUILTIN_MODELS).filter((d) => statSync(join(BUILTIN_MODELS, d)).isDirectory()) : [];
    if (!have.includes(name)) {
      throw new UsageError(`no built-in model "${name}" (built-in: ${have.length ? have.join(', ') : 'none yet'}); give a folder or hf:<owner>/<name>`);
    }
    return nodeModelDir(join(BUILTIN_MODELS, name));
  }
  if (!existsSync(spec) || !statSync(spec).isDirectory()) {
    throw new UsageError(`--model ${spec}: not a folder (expected a Hugging Face model folder, hf:<owner>/<name>[@revision] or builtin:<name>)`);
  }
  return nodeModelDir(spec);
}
