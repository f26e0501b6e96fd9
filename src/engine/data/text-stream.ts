// Generated text as it streams, for every host (the studio's worker and the CLI). A token
// alone does not decode to its share of the text: SentencePiece-style decoders (Metaspace,
// or Replace '▁' + Strip) drop a word's leading space at the start of what they decode, and
// byte-fallback tokens form a character only together (`<0xE2><0x80><0x9C>` is one “). So
// each new token is decoded with a few tokens before it, over the whole sequence prompt
// included, and only the text past what that window already gave is new; text that ends in
// an unfinished character (U+FFFD) waits for the bytes that finish it. This is the windowed
// incremental decode of Hugging Face's text-generation-inference (`decode_token`): the cost
// per token stays constant instead of decoding the whole sequence again.

/** Decodes ids to text (special tokens skipped), e.g. `(ids) => tokenizer.decode(ids)`. */
export type DecodeFn = (ids: readonly number[]) => string;

const UNFINISHED = '\uFFFD';

export class TextStream {
  private readonly ids: number[];
  /** Start of the window decoded with each new token. */
  private prefix: number;
  /** End of the text already given out. */
  private read: number;
  private shown = '';

  /**
   * @param decode the tokenizer's decode
   * @param prompt the prompt's ids (the continuation is decoded after them, so the space
   *   that joins the two is kept)
   * @param context tokens of the prompt decoded with the first new token
   */
  constructor(
    private readonly decode: DecodeFn,
    prompt: readonly number[],
    context = 6,
  ) {
    this.ids = [...prompt];
    this.read = prompt.length;
    this.prefix = Math.max(0, prompt.length - context);
  }

  /** Add a generated token; returns the text it completes ('' while a character or word
   *  start is still unfinished). */
  push(id: number): string {
    this.ids.push(id);
    return this.advance(false);
  }

  /** The text still held back at the end (an unfinished character is given as U+FFFD). */
  finish(): string {
    return this.advance(true);
  }

  /** The continuation given out so far: the concatenation of every push and finish. */
  get text(): string {
    return this.shown;
  }

  private advance(final: boolean): string {
    if (this.read === this.ids.length) return '';
    let before = this.decode(this.ids.slice(this.prefix, this.read));
    const now = this.decode(this.ids.slice(this.prefix));
    // A prompt that ends inside a character: the continuation finishes its bytes.
    if (!now.startsWith(before)) before = before.replace(/\uFFFD+$/, '');
    const grown = now.length > before.length && now.startsWith(before);
    if (!grown) {
      // Nothing new yet (a skipped special token, a word start waiting for its word).
      if (final) this.read = this.ids.length;
      return '';
    }
    // An unfinished character waits for its bytes; at the end it is given as U+FFFD.
    if (!final && now.endsWith(UNFINISHED)) return '';
    const delta = now.slice(before.length);
    this.prefix = this.read;
    this.read = this.ids.length;
    this.shown += delta;
    return delta;
  }
}

/** The continuation of `prompt` by `generated`, as the stream gives it in one piece. */
export function continuationText(decode: DecodeFn, prompt: readonly number[], generated: readonly number[]): string {
  const s = new TextStream(decode, prompt);
  for (const id of generated) s.push(id);
  s.finish();
  return s.text;
}
