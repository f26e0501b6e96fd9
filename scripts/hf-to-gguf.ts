// A Hugging Face model folder (Llama family, Qwen2) as one GGUF model file, through the same
// writer as the gguf-merged export (tokenizer and chat template in the metadata):
//   npx tsx scripts/hf-to-gguf.ts MODEL_DIR OUT.gguf [f16|q8_0|q4_0|f32]
// The e2e specs use it to make the GGUF a person would drop on the page.

import { createWriteStream } from 'node:fs';
import { writeMergedGguf, MERGED_GGUF_TYPES, type MergedGgufType } from '../src/engine/export/merged-gguf.ts';
import { nodeModelDir } from '../src/engine/io/node-dir.ts';

const [dir, out, t = 'f16'] = process.argv.slice(2);
const type = t.toUpperCase() as MergedGgufType;
if (!dir || !out || !MERGED_GGUF_TYPES.includes(type)) {
  console.error(`usage: tsx scripts/hf-to-gguf.ts MODEL_DIR OUT.gguf [${MERGED_GGUF_TYPES.map((x) => x.toLowerCase()).join('|')}]`);
  process.exit(2);
}
const s = createWriteStream(out);
const summary = await writeMergedGguf(nodeModelDir(dir), [], {
  write: (b) => new Promise((resolve, reject) => s.write(b, (e) => (e ? reject(e) : resolve()))),
  close: () => new Promise((resolve, reject) => s.end((e?: Error | null) => (e ? reject(e) : resolve()))),
}, { type });
console.log(`${out}: ${summary.arch}, ${type}, ${summary.bytes} bytes${summary.fellBack.length ? `; ${summary.fellBack.length} tensors in F16 (rows not whole 32-blocks)` : ''}`);
