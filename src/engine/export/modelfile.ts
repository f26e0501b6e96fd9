// An Ollama Modelfile for a GGUF export: `FROM` the model file (the merged GGUF, or the
// base GGUF the run started from), `ADAPTER` for an adapter-only export, and a `PARAMETER
// stop` line per token that ends a turn (EOS, and <|im_end|>-style tokens the chat template
// emits). Ollama takes the chat template from the GGUF's tokenizer.chat_template.
//   ollama create my-model -f Modelfile && ollama run my-model

export interface ModelfileOptions {
  /** Path of the model GGUF, relative to the Modelfile (e.g. ./model.gguf). */
  from: string;
  /** Path of the LoRA adapter GGUF, for an adapter-only export. */
  adapter?: string;
  stops: readonly string[];
  /** A comment line above FROM. */
  note?: string;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

export function ollamaModelfile(o: ModelfileOptions): string {
  const lines = ['# Ollama Modelfile written by webtune: ollama create NAME -f Modelfile'];
  if (o.note) lines.push(`# ${o.note.replace(/\n/g, ' ')}`);
  lines.push(`FROM ${o.from}`);
  if (o.adapter) lines.push(`ADAPTER ${o.adapter}`);
  for (const s of o.stops) lines.push(`PARAMETER stop ${quote(s)}`);
  return lines.join('\n') + '\n';
}
