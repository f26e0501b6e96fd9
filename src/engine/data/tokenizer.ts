// Tokenizers from a model's tokenizer.json + tokenizer_config.json, through Hugging Face's
// own JavaScript implementation (@huggingface/tokenizers: the tokenizer.json format is
// theirs, the library is maintained with it, has no dependencies and runs in workers and
// Node alike). Chat templates render with @huggingface/jinja, as transformers.js does.

import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  describeValue, formatBytes, isRawJsError, templateBudget, type TemplateBudget, MAX_NORMALIZER_GROWTH, MAX_TEMPLATE_CHARS, MAX_TEMPLATE_OUTPUT, MAX_TEMPLATE_STEPS, MAX_VOCAB, parseJsonLimited, TOKENIZE_MARGIN,
} from '../io/limits.ts';
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
  const v = parseJsonLimited(text, file, (m) => new TokenizerError(m));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenizerError(`${file} is not a JSON object (found ${describeValue(v)})`);
  return v as Json;
}

/** Entries of a vocabulary given as an object (BPE, WordLevel) or a list (Unigram). */
function vocabSize(model: Json): number {
  const v = model.vocab;
  if (Array.isArray(v)) return v.length;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length;
  return 0;
}

/**
 * How many times the normalizer can grow a text at most: the product over its Replace steps
 * of (replacement length / shortest match), 1 + replacement length for a pattern that can
 * match empty text. Sequences nest; other normalizers change a text by a bounded amount.
 */
function normalizerGrowth(n: unknown): number {
  if (typeof n !== 'object' || n === null) return 1;
  const o = n as Json;
  if (o.type === 'Sequence' && Array.isArray(o.normalizers)) return o.normalizers.reduce((g: number, x: unknown) => g * normalizerGrowth(x), 1);
  if (o.type === 'Replace') {
    const content = typeof o.content === 'string' ? o.content.length : 0;
    const p = (o.pattern ?? {}) as Json;
    let shortest = 1;
    if (typeof p.String === 'string') shortest = p.String.length;
    else if (typeof p.Regex === 'string') {
      try {
        shortest = new RegExp(p.Regex, 'u').test('') ? 0 : 1;
      } catch {
        shortest = 1; // the library reports the pattern itself
      }
    }
    return shortest === 0 ? 1 + content : Math.max(1, content / shortest);
  }
  return 1;
}

/** A render of a chat template that stops after MAX_TEMPLATE_STEPS interpreter steps or MAX_TEMPLATE_OUTPUT characters. */
class BudgetInterpreter extends Interpreter {
  constructor(env: Environment, private readonly maxChars: number, private readonly budget: TemplateBudget) {
    super(env);
  }
  override evaluate(...args: Parameters<Interpreter['evaluate']>): ReturnType<Interpreter['evaluate']> {
    if (--this.budget.steps < 0) {
      throw new TokenizerError(`the chat template took more than ${MAX_TEMPLATE_STEPS.toLocaleString('en-US')} steps (MAX_TEMPLATE_STEPS) for one conversation: it loops without end or far longer than a chat template should; fix chat_template in tokenizer_config.json`);
    }
    const v = super.evaluate(...args);
    if (typeof v.value === 'string' && v.value.length > this.maxChars) {
      throw new TokenizerError(`the chat template made a text of more than ${this.maxChars.toLocaleString('en-US')} characters (its messages plus MAX_TEMPLATE_OUTPUT); fix chat_template in tokenizer_config.json`);
    }
    return v;
  }
}

/** range() for templates: at most 100,000 items, as a template needs a few. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new TokenizerError('the chat template (tokenizer_config.json) called range() with step 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (!(n <= 100_000)) throw new TokenizerError(`the chat template (tokenizer_config.json) called range() for ${n} items; templates may ask for at most 100,000`);
  return Array.from({ length: n }, (_, i) => start + i * step);
}

function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  return String(format).replace(/%[YmdbBHM%]/g, (t) =>
    t === '%Y' ? String(d.getFullYear()) : t === '%m' ? pad(d.getMonth() + 1) : t === '%d' ? pad(d.getDate()) : t === '%b' ? month('short') : t === '%B' ? month('long') : t === '%H' ? pad(d.getHours()) : t === '%M' ? pad(d.getMinutes()) : '%');
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
    private readonly source = 'tokenizer.json',
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
    if (this.chatTemplate !== undefined) {
      if (this.chatTemplate.length > MAX_TEMPLATE_CHARS) {
        throw new TokenizerError(`tokenizer_config.json: chat_template is ${this.chatTemplate.length} characters; webtune reads templates up to ${MAX_TEMPLATE_CHARS} (MAX_TEMPLATE_CHARS)`);
      }
      try {
        this.template = new Template(this.chatTemplate);
      } catch (e) {
        throw new TokenizerError(`tokenizer_config.json: chat_template cannot be read (${isRawJsError(e) ? 'it nests too deeply or is damaged' : (e as Error).message})`);
      }
    }
  }
  private readonly template?: Template;

  /**
   * @param tokenizerJson text of tokenizer.json
   * @param configJson text of tokenizer_config.json ('{}' when the model has none)
   * @param eosFromModel EOS ids from config.json / generation_config.json, added to the tokenizer's
   */
  static load(tokenizerJson: string, configJson = '{}', eosFromModel: readonly number[] = [], where = ''): TextTokenizer {
    const tj = parseObject(tokenizerJson, `${where}tokenizer.json`);
    const cfg = parseObject(configJson, `${where}tokenizer_config.json`);
    if (typeof tj.model !== 'object' || tj.model === null || Array.isArray(tj.model)) throw new TokenizerError(`${where}tokenizer.json has no "model" object: is it a Hugging Face tokenizers file?`);
    const n = vocabSize(tj.model as Json) + (Array.isArray(tj.added_tokens) ? tj.added_tokens.length : 0);
    if (n > MAX_VOCAB) throw new TokenizerError(`${where}tokenizer.json: ${n} tokens; webtune reads vocabularies up to ${MAX_VOCAB} (MAX_VOCAB)`);
    const growth = normalizerGrowth(tj.normalizer);
    if (!(growth <= MAX_NORMALIZER_GROWTH)) {
      throw new TokenizerError(`${where}tokenizer.json: its normalizer's Replace steps can grow a text ${growth > 1e9 ? 'more than a billion' : Math.round(growth)}-fold; webtune allows ${MAX_NORMALIZER_GROWTH} (MAX_NORMALIZER_GROWTH): the normalizer is damaged`);
    }
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, cfg);
      tok.encode('Hello, world. 123', { add_special_tokens: true });
    } catch (e) {
      throw new TokenizerError(`${where}tokenizer.json could not be loaded: ${isRawJsError(e) ? 'a required part is missing or has the wrong type (is it a Hugging Face tokenizers file?)' : (e as Error).message}`);
    }
    try {
      return new TextTokenizer(tok, cfg, eosFromModel, `${where}tokenizer.json`);
    } catch (e) {
      if (e instanceof TokenizerError) throw new TokenizerError(`${where}${e.message}`);
      throw e;
    }
  }

  /** Token ids of `text`; with `addSpecial` the tokenizer's post-processor adds BOS etc. */
  encode(text: string, addSpecial = true): number[] {
    try {
      return this.tok.encode(text, { add_special_tokens: addSpecial }).ids;
    } catch (e) {
      if (!isRawJsError(e)) throw e;
      throw new TokenizerError(`${this.source}: the tokenizer failed on a text of ${formatBytes(text.length)} (${e instanceof RangeError ? 'it ran out of room: its tokenizer.json grows texts without bound' : 'tokenizer.json is damaged'})`);
    }
  }

  /**
   * The first `maxTokens` + 1 ids of `text` (all of them when it has fewer: more than
   * maxTokens means the text goes on past the cut) at a cost that grows
   * with maxTokens, not with the text: a prefix of the text is tokenized, growing fourfold
   * until it gives TOKENIZE_MARGIN ids more than asked for, so the ids before the cut are those
   * of the whole text (tokenizers merge locally). `complete` says whether the whole text was
   * tokenized.
   */
  encodePrefix(text: string, addSpecial: boolean, maxTokens: number): { ids: number[]; complete: boolean } {
    const need = maxTokens + 1 + TOKENIZE_MARGIN;
    let chars = Math.max(1024, need * 16);
    for (;;) {
      if (chars >= text.length) return { ids: this.encode(text, addSpecial), complete: true };
      let cut = chars;
      // end the prefix at whitespace when there is some in its last quarter, never inside a surrogate pair
      const ws = text.slice(cut - (cut >> 2), cut).search(/\s[^\s]*$/);
      if (ws >= 0) cut = cut - (cut >> 2) + ws;
      const c = text.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut--;
      const ids = this.encode(text.slice(0, cut), addSpecial);
      if (ids.length >= need) return { ids: ids.slice(0, maxTokens + 1), complete: false };
      chars *= 4;
    }
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    try {
      return this.tok.decode([...ids], { skip_special_tokens: skipSpecial });
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new TokenizerError(`${this.source}: cannot decode ${ids.length} token ids (${isRawJsError(e) ? 'tokenizer.json is damaged' : (e as Error).message})`);
    }
  }

  /** The model's chat template applied to `messages`, as text (tokenize with addSpecial = false). */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt = false, budget: TemplateBudget = templateBudget()): string {
    if (!this.template) throw new TokenizerError('this tokenizer has no chat_template in tokenizer_config.json: map the data to plain text or prompt/completion instead');
    const env = new Environment();
    const globals: Record<string, unknown> = {
      false: false, true: true, none: null, False: false, True: true, None: null,
      raise_exception: (m: unknown) => {
        throw new TokenizerError(`the chat template (tokenizer_config.json) refused the conversation: ${describeValue(m)}`);
      },
      range: boundedRange,
      strftime_now: strftimeNow,
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.bosText ?? '',
      eos_token: this.eosText ?? '',
    };
    for (const [k, v] of Object.entries(globals)) env.set(k, v);
    const own = messages.reduce((a, m) => a + m.content.length + m.role.length, 0);
    try {
      const out = new BudgetInterpreter(env, own + MAX_TEMPLATE_OUTPUT, budget).run(this.template.parsed).value;
      if (typeof out !== 'string') throw new TokenizerError('the chat template (tokenizer_config.json) did not produce text');
      return out;
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new TokenizerError(`the chat template (tokenizer_config.json) failed: ${isRawJsError(e) ? 'it nests or recurses too deeply, or uses a value the wrong way' : (e as Error).message}`);
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
