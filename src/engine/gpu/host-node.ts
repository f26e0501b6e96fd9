// Node host: Dawn's Node bindings (npm package `webgpu`) and shaders read from disk. On a
// machine without a GPU, Dawn finds SwiftShader through VK_ICD_FILENAMES (set below to
// Debian chromium's copy when the variable is unset and the file exists). The Vulkan
// loader prints `error: XDG_RUNTIME_DIR is invalid or not set` when the process has no
// runtime directory (cron, CI, containers); a user reads that as a failure, so a private
// one (0700, removed at exit) is set before Dawn starts.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from 'webgpu';
import type { AutotuneStore } from './autotune.ts';
import type { GpuHost } from './host.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const SHADER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shaders');

let entry: GPU | undefined;

/** Give the process a private XDG_RUNTIME_DIR when it has none (or one that is not a
 *  directory), before the Vulkan loader reads it. Returns the directory in use. */
export function ensureRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const cur = env.XDG_RUNTIME_DIR;
  if (cur && isDir(cur)) return cur;
  const dir = mkdtempSync(join(tmpdir(), 'webtune-runtime-')); // mode 0700, as the XDG spec asks
  env.XDG_RUNTIME_DIR = dir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function nodeHost(): GpuHost {
  return {
    kind: 'node',
    gpu() {
      if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      ensureRuntimeDir();
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
