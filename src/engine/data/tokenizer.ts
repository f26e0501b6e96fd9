// Tokenizers from a model's tokenizer.json + tokenizer_config.json, through Hugging Face's
// own JavaScript implementation (@huggingface/tokenizers: the tokenizer.json format is
// theirs, the library is maintained with it, has no dependencies and runs in workers and
// Node alike). Chat templates render with @huggingface/jinja, as transformers.js does.

import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { readText, type ModelFiles } from '../io/model-files.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

type Json = Record<string, unknown>;

function parseObject(text: string, file: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${file} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenizerError(`${file} is not a JSON object`);
  return v as Json;
}

/** A special token in tokenizer_config.json: a string or {"content": string}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class TextTokenizer {
  readonly bosId?: number;
  readonly eosIds: number[];
  readonly chatTemplate?: string;
  private readonly bosText?: string;
  private readonly eosText?: string;

  private constructor(
    private readonly tok: Tokenizer,
    config: Json,
    extraEos: readonly number[],
  ) {
    this.bosText = tokenText(config.bos_token);
    this.eosText = tokenText(config.eos_token);
    this.bosId = this.bosText === undefined ? undefined : tok.token_to_id(this.bosText);
    const eos = this.eosText === undefined ? undefined : tok.token_to_id(this.eosText);
    this.eosIds = [...new Set([...(eos === undefined ? [] : [eos]), ...extraEos])];
    const t = config.chat_template;
    if (typeof t === 'string') this.chatTemplate = t;
    else if (Array.isArray(t)) {
      const named = t.find((x): x is { name: string; template: string } => typeof x === 'object' && x !== null && (x as Json).name === 'default');
      if (named && typeof named.template === 'string') this.chatTemplate = named.template;
    }
  }

  /**
   * @param tokenizerJson text of tokenizer.json
   * @param configJson text of tokenizer_config.json ('{}' when the model has none)
   * @param eosFromModel EOS ids from config.json / generation_config.json, added to the tokenizer's
   */
  static load(tokenizerJson: string, configJson = '{}', eosFromModel: readonly number[] = [], where = ''): TextTokenizer {
    const tj = parseObject(tokenizerJson, `${where}tokenizer.json`);
    const cfg = parseObject(configJson, `${where}tokenizer_config.json`);
    if (typeof tj.model !== 'object' || tj.model === null) throw new TokenizerError(`${where}tokenizer.json has no "model" object: is it a Hugging Face tokenizers file?`);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, cfg);
    } catch (e) {
      throw new TokenizerError(`${where}tokenizer.json could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    }
    return new TextTokenizer(tok, cfg, eosFromModel);
  }

  /** Token ids of `text`; with `addSpecial` the tokenizer's post-processor adds BOS etc. */
  encode(text: string, addSpecial = true): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecial }).ids;
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    return this.tok.decode([...ids], { skip_special_tokens: skipSpecial });
  }

  /** The model's chat template applied to `messages`, as text (tokenize with addSpecial = false). */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt = false): string {
    if (!this.chatTemplate) throw new TokenizerError('this tokenizer has no chat_template in tokenizer_config.json: map the data to plain text or prompt/completion instead');
    try {
      return new Template(this.chatTemplate).render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        bos_token: this.bosText ?? '',
        eos_token: this.eosText ?? '',
      });
    } catch (e) {
      throw new TokenizerError(`the chat template failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** The tokenizer of a model folder; EOS ids also from config.json's spec and generation_config.json. */
export async function loadTokenizer(files: ModelFiles, eosFromConfig: readonly number[] = []): Promise<TextTokenizer> {
  if (!(await files.has('tokenizer.json'))) {
    throw new TokenizerError(`${files.name}: no tokenizer.json: the model folder needs its Hugging Face tokenizer (tokenizer.json and tokenizer_config.json)`);
  }
  const cfg = (await files.has('tokenizer_config.json')) ? await readText(files, 'tokenizer_config.json') : '{}';
  const eos = [...eosFromConfig];
  if (await files.has('generation_config.json')) {
    try {
      const gen: unknown = JSON.parse(await readText(files, 'generation_config.json'));
      const e = typeof gen === 'object' && gen !== null ? (gen as Json).eos_token_id : undefined;
      for (const id of Array.isArray(e) ? e : [e]) if (typeof id === 'number') eos.push(id);
    } catch {
      // generation_config.json is advisory; a broken one leaves the tokenizer's EOS
    }
  }
  return TextTokenizer.load(await readText(files, 'tokenizer.json'), cfg, eos, `${files.name}/`);
}
