// The real llama.cpp for tests: one child process (tests/llama-cpp/runner.mjs, node-llama-cpp
// 3.21.1's prebuilt CPU build, installed by scripts/ensure-llama-cpp.sh from `npm test`) per
// test file, asked questions one JSON line at a time.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll } from 'vitest';

const DIR = new URL('../llama-cpp/', import.meta.url).pathname;

export interface Greedy {
  tokens: number[];
  /** Per generated token, the `top` most likely next tokens [id, p] (p: softmax of the logits). */
  probs: [number, number][][];
  /** Per generated token, log-softmax of the logits over the vocabulary (with full: true). */
  logprobs?: number[][];
}

export interface LlamaCpp {
  greedy(model: string, prompt: number[], n: number, opts?: { lora?: string; top?: number; full?: boolean }): Promise<Greedy>;
  tokenize(model: string, text: string, special?: boolean): Promise<number[]>;
  detokenize(model: string, tokens: number[]): Promise<string>;
  meta(model: string): Promise<{ arch: string; chatTemplate: string | null }>;
  unload(model: string): Promise<void>;
}

let proc: Promise<LlamaCpp> | undefined;

/** The llama.cpp process of this test file (started on first use, ended after the file). */
export function llamaCpp(): Promise<LlamaCpp> {
  if (!proc) {
    if (!existsSync(`${DIR}node_modules/node-llama-cpp/package.json`)) {
      throw new Error('tests/llama-cpp/node_modules is missing: run `bash scripts/ensure-llama-cpp.sh` (npm test does)');
    }
    proc = start();
    afterAll(async () => {
      const p = await proc;
      proc = undefined;
      await (p as LlamaCpp & { close(): Promise<void> }).close();
    });
  }
  return proc;
}

function start(): Promise<LlamaCpp> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [`${DIR}runner.mjs`], { cwd: DIR, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const waiting = new Map<number, { resolve(v: Record<string, unknown>): void; reject(e: Error): void }>();
  let next = 1;
  return new Promise((resolveReady, rejectReady) => {
    const lines = createInterface({ input: child.stdout });
    child.on('exit', (code) => {
      const e = new Error(`llama.cpp runner exited (${code}): ${stderr}`);
      rejectReady(e);
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    });
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (msg.ready) {
        resolveReady(api);
        return;
      }
      const w = waiting.get(msg.id as number);
      if (!w) return;
      waiting.delete(msg.id as number);
      if (typeof msg.error === 'string') w.reject(new Error(`llama.cpp: ${msg.error}\n${stderr}`));
      else w.resolve(msg);
    });
    const ask = (req: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        child.stdin.write(JSON.stringify({ id, ...req }) + '\n');
      });
    const api: LlamaCpp & { close(): Promise<void> } = {
      async greedy(model, prompt, n, opts = {}) {
        const r = await ask({ op: 'greedy', model, prompt, n, ...opts });
        return { tokens: r.tokens as number[], probs: r.probs as [number, number][][], logprobs: r.logprobs as number[][] | undefined };
      },
      async tokenize(model, text, special = false) {
        return (await ask({ op: 'tokenize', model, text, special })).tokens as number[];
      },
      async detokenize(model, tokens) {
        return (await ask({ op: 'detokenize', model, tokens })).text as string;
      },
      async meta(model) {
        const r = await ask({ op: 'meta', model });
        return { arch: r.arch as string, chatTemplate: (r.chatTemplate as string | null) ?? null };
      },
      async unload(model) {
        await ask({ op: 'unload', model });
      },
      close: () =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.stdin.end();
          setTimeout(() => child.kill(), 10_000).unref();
        }),
    };
  });
}
