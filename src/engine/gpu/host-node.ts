// Node host: Dawn's Node bindings (npm package `webgpu`) and shaders read from disk. On a
// machine without a GPU, Dawn finds SwiftShader through VK_ICD_FILENAMES (set below to
// Debian chromium's copy when the variable is unset and the file exists).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from 'webgpu';
import type { AutotuneStore } from './autotune.ts';
import type { GpuHost } from './host.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const SHADER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shaders');

let entry: GPU | undefined;

export function nodeHost(): GpuHost {
  return {
    kind: 'node',
    gpu() {
      if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      entry ??= create([]);
      return entry;
    },
    loadShader(name: string): string {
      return readFileSync(join(SHADER_DIR, `${name}.wgsl`), 'utf8');
    },
    missingAdvice:
      'Dawn found no adapter. On a machine without a GPU install Debian\'s chromium and libvulkan1 ' +
      `(apt-get install chromium libvulkan1) and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}.`,
    get noAdapterAdvice() {
      return this.missingAdvice;
    },
  };
}

/** Autotune choices kept in a JSON file (default ~/.cache/webtune/autotune.json). */
export function fileAutotuneStore(path = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webtune', 'autotune.json')): AutotuneStore {
  return {
    load() {
      try {
        const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
        if (typeof data !== 'object' || data === null) return {};
        return Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string'));
      } catch {
        return {}; // no cache yet, or an unreadable one: measure again
      }
    },
    save(choices) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, JSON.stringify(choices, null, 2) + '\n');
    },
  };
}
