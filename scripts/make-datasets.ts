// Writes webtune's sample datasets into public/datasets/ (each a JSONL file and a CARD.md),
// deterministically (seed 1611), from the King James Bible (public domain):
//
//   kjv-verse-ref.jsonl   prompt/completion: read the book, chapter or verse out of a reference
//   kjv-style-chat.jsonl  chat: a verse in modern English → the verse as the KJV has it
//
// Needs Debian's `bible-kjv` package (the `bible` program; the text is in `bible-kjv-text`):
//
//   apt-get install bible-kjv && npx tsx scripts/make-datasets.ts
//
// The generated files are committed, so nothing else needs the package. Token counts in the
// cards are measured with the built-in model's tokenizer (public/models/tiny-kjv) through
// the same encodeRows the trainer uses.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRows, parseDataset, type DatasetRow } from '../src/engine/data/dataset.ts';
import { loadTokenizer, type ChatMessage, type TextTokenizer } from '../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../src/engine/io/node-dir.ts';
import { uniform } from '../src/engine/rng/philox.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'public/datasets');
const SEED = 1611;

interface Verse {
  book: string;
  chapter: number;
  verse: number;
  text: string;
}

/** Every verse, from `bible "Gen1:1-Rev22:21"`: "Genesis 1" headings after a blank line, "  N text" verses, wrapped lines. */
function readKjv(): Verse[] {
  const raw = execFileSync('bible', ['Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = raw.split('\n');
  const verses: Verse[] = [];
  let book = '';
  let chapter = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heading = line.match(/^(\S.*) (\d+)$/);
    if (heading && (i === 0 || lines[i - 1] === '')) {
      [book, chapter] = [heading[1], Number(heading[2])];
      continue;
    }
    const v = line.match(/^\s+(\d+)\s+(.*)$/);
    if (v) verses.push({ book, chapter, verse: Number(v[1]), text: v[2].trim() });
    else if (line.trim() && verses.length) verses[verses.length - 1].text += ` ${line.trim()}`;
  }
  if (verses.length !== 31102) throw new Error(`expected the 31102 verses of the KJV, read ${verses.length}`);
  return verses;
}

/** A seeded permutation (Fisher–Yates on Philox uniform(seed, i)). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(uniform(seed, a.length - 1 - i) * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function tokenCounts(rows: DatasetRow[], tok: TextTokenizer): number[] {
  return encodeRows(rows, tok, { maxTokens: 1 << 20, maskPrompt: true, useChatTemplate: true }).examples.map((e) => e.tokens.length);
}

// ---------------------------------------------------------------------------------------
// kjv-verse-ref: "<Book> <chapter>:<verse> <book|chapter|verse>:" → " <answer>"

const REF_ROWS = 480;
const REF_MAX_TOKENS = 24; // BOS + prompt + completion + EOS

function verseRef(verses: Verse[], tok: TextTokenizer): { prompt: string; completion: string }[] {
  const rows: { prompt: string; completion: string }[] = [];
  const seen = new Set<string>();
  const asks = ['book', 'chapter', 'verse'] as const;
  for (const [k, v] of shuffled(verses, SEED).entries()) {
    const ask = asks[k % 3];
    const prompt = `${v.book} ${v.chapter}:${v.verse} ${ask}:`;
    const completion = ` ${ask === 'book' ? v.book : ask === 'chapter' ? v.chapter : v.verse}`;
    if (seen.has(prompt)) continue;
    const [n] = tokenCounts([{ kind: 'prompt', prompt, completion }], tok);
    if (n > REF_MAX_TOKENS) continue;
    seen.add(prompt);
    rows.push({ prompt, completion });
    if (rows.length === REF_ROWS) break;
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// kjv-style-chat: a verse put into modern English by rule, and back

const STYLE_ROWS = 600;
const STYLE_MAX_CHARS = 72; // of the KJV verse
const INSTRUCTION = 'Say it as the King James Bible does: ';

/** Archaic words with one modern form (lowercase; case of the first letter is kept). */
const WORDS: Record<string, string> = {
  thou: 'you', thee: 'you', ye: 'you', thy: 'your', thyself: 'yourself', unto: 'to',
  hath: 'has', doth: 'does', saith: 'says', spake: 'spoke', art: 'are', hast: 'have',
  wast: 'were', shalt: 'shall', wilt: 'will', canst: 'can', dost: 'do', didst: 'did',
  mayest: 'may', couldest: 'could', wouldest: 'would', shouldest: 'should', hadst: 'had',
};
/** Words that must not survive into the modern side. */
const ARCHAIC = new Set([...Object.keys(WORDS), 'thine', 'doeth', 'goeth']);
/** Lowercase words ending in -eth or -est that are not verb endings. */
const NOT_VERBS = new Set(['teeth', 'seth', 'breth', 'best', 'rest', 'west', 'east', 'least', 'feast', 'beast', 'priest', 'honest', 'harvest', 'forest', 'interest', 'midst', 'nest', 'chest', 'guest', 'test', 'lest', 'behest', 'request', 'conquest', 'breast', 'manifest', 'earnest', 'jest', 'quest', 'vest', 'pest', 'wrest', 'tempest', 'highest', 'greatest', 'eldest', 'youngest', 'oldest', 'strongest', 'fairest', 'sweetest', 'holiest', 'lowest', 'uttermost', 'utmost']);

function keepCase(src: string, repl: string): string {
  return src[0] === src[0].toUpperCase() ? repl[0].toUpperCase() + repl.slice(1) : repl;
}

/** The base form of an -eth / -est verb, by the KJV's own vocabulary (most frequent candidate). */
function verbBase(stem: string, freq: ReadonlyMap<string, number>): string | undefined {
  const cands = [stem, `${stem}e`];
  if (/([b-df-hj-np-tv-z])\1$/.test(stem)) cands.push(stem.slice(0, -1)); // runn → run
  if (stem.endsWith('i')) cands.push(`${stem.slice(0, -1)}y`); // carri → carry
  let best: string | undefined;
  for (const c of cands) if ((freq.get(c) ?? 0) > (best ? (freq.get(best) ?? 0) : 0)) best = c;
  return best;
}

function thirdPerson(base: string): string {
  if (base === 'do' || base === 'go') return `${base}es`;
  if (/(s|sh|ch|x|z)$/.test(base)) return `${base}es`;
  if (/[^aeiou]y$/.test(base)) return `${base.slice(0, -1)}ies`;
  return `${base}s`;
}

/** Lowercase -est / -st verb forms: words that follow "thou" somewhere in the KJV, or whose stem has an -eth form. */
function thouVerbs(verses: Verse[]): Set<string> {
  const out = new Set<string>();
  const words = new Set<string>();
  for (const v of verses) for (const w of v.text.toLowerCase().match(/[a-z]+/g) ?? []) words.add(w);
  for (const v of verses) for (const m of v.text.toLowerCase().matchAll(/\bthou ([a-z]+st)\b/g)) if (!NOT_VERBS.has(m[1])) out.add(m[1]);
  // and -est words whose stem also has an -eth form (inhabitest: inhabiteth); some superlatives
  // (lowest: loweth) are caught too, which only leaves a few more verses out
  for (const w of words) if (/est$/.test(w) && !NOT_VERBS.has(w) && (words.has(`${w.slice(0, -3)}eth`) || words.has(`${w.slice(0, -2)}eth`))) out.add(w);
  return out;
}

/** The verse in modern English, or undefined when the rules leave something archaic. */
function modernize(text: string, freq: ReadonlyMap<string, number>, thouVerb: ReadonlySet<string>): string | undefined {
  const parts = text.split(/([A-Za-z]+)/); // odd indices are words
  const out = [...parts];
  for (let i = 1; i < parts.length; i += 2) {
    const w = parts[i];
    const lw = w.toLowerCase();
    const prev = i >= 3 ? parts[i - 2].toLowerCase() : '';
    const next = i + 2 < parts.length ? parts[i + 2].toLowerCase() : '';
    if (next === 'thou' && /st$/.test(lw) && !(lw in WORDS)) return undefined; // "Revilest thou": an inverted question
    if (lw in WORDS) {
      out[i] = keepCase(w, WORDS[lw]);
      if (lw === 'art' && prev !== 'thou' && next !== 'thou') return undefined; // the noun
    } else if (lw === 'thine') {
      out[i] = keepCase(w, /^[a-z]/.test(next) && parts[i + 1] === ' ' ? (/^[aeiouh]/.test(next) ? 'your' : 'yours') : 'yours');
    } else if (lw.length > 4 && lw.endsWith('eth') && !NOT_VERBS.has(lw)) {
      const base = verbBase(lw.slice(0, -3), freq);
      if (base) out[i] = keepCase(w, thirdPerson(base));
      else if (w === lw) return undefined; // a capitalised one without a base is a name (Nazareth)
    } else if (thouVerb.has(lw) && prev === 'thou') {
      const base = verbBase(lw.replace(/e?st$/, ''), freq) ?? verbBase(lw.slice(0, -3), freq);
      if (!base) return undefined;
      out[i] = base;
    }
  }
  const modern = out.join('');
  const words = modern.toLowerCase().match(/[a-z]+/g) ?? [];
  // anything archaic left ("knowest thou", "thou that inhabitest") keeps the verse out
  if (words.some((w) => ARCHAIC.has(w) || thouVerb.has(w))) return undefined;
  return modern === text ? undefined : modern;
}

function styleChat(verses: Verse[]): { messages: ChatMessage[] }[] {
  const freq = new Map<string, number>();
  for (const v of verses) for (const w of v.text.match(/[a-z]+/g) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  const thouVerb = thouVerbs(verses);
  const rows: { messages: ChatMessage[] }[] = [];
  const seen = new Set<string>();
  for (const v of shuffled(verses, SEED + 1)) {
    if (v.text.length > STYLE_MAX_CHARS || seen.has(v.text)) continue;
    const modern = modernize(v.text, freq, thouVerb);
    if (!modern) continue;
    seen.add(v.text);
    rows.push({ messages: [{ role: 'user', content: INSTRUCTION + modern }, { role: 'assistant', content: v.text }] });
    if (rows.length === STYLE_ROWS) break;
  }
  return rows;
}

// ---------------------------------------------------------------------------------------

function writeJsonl(name: string, rows: object[]): string {
  const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  writeFileSync(join(OUT, name), text);
  return text;
}

function stats(name: string, text: string, tok: TextTokenizer) {
  const { rows, errors } = parseDataset(name, text);
  if (errors.length) throw new Error(`${name}: ${errors.length} rows do not parse (line ${errors[0].line}: ${errors[0].message})`);
  const n = tokenCounts(rows, tok);
  return { rows: rows.length, bytes: new TextEncoder().encode(text).length, minTokens: Math.min(...n), maxTokens: Math.max(...n), meanTokens: n.reduce((a, b) => a + b, 0) / n.length };
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const tok = await loadTokenizer(nodeModelDir(join(ROOT, 'public/models/tiny-kjv')), [2]);
  const verses = readKjv();

  const ref = writeJsonl('kjv-verse-ref.jsonl', verseRef(verses, tok));
  const rs = stats('kjv-verse-ref.jsonl', ref, tok);
  writeFileSync(join(OUT, 'kjv-verse-ref.CARD.md'), `# kjv-verse-ref — read a Bible reference

A prompt/completion task with an exact-match metric, designed for the built-in model
(\`public/models/tiny-kjv\`) to learn in a short fine-tune (rows of at most 24 tokens; one
copying rule): given a reference and the name of one of its parts, answer that part.

\`\`\`json
${ref.split('\n').slice(0, 3).join('\n')}
\`\`\`

- **Source**: verse references of the King James Version (1611; public domain), read from
  Debian's \`bible-kjv-text\` package with its \`bible\` program. Only the references are used,
  not the verse text.
- **License**: public domain (the KJV text is public domain outside the United Kingdom; the
  references themselves are facts). This file: CC0.
- **Size**: ${rs.rows} rows, ${rs.bytes} bytes. ${rs.minTokens}–${rs.maxTokens} tokens per row with the tiny-kjv tokenizer
  (BOS + prompt + completion + EOS; mean ${rs.meanTokens.toFixed(1)}); rows longer than ${REF_MAX_TOKENS} tokens are left out.
- **Fields**: \`prompt\` = \`"<Book> <chapter>:<verse> <part>:"\` with part \`book\`, \`chapter\` or \`verse\`
  (in turn); \`completion\` = a space and that part (\`" Psalms"\`, \`" 23"\`, \`" 1"\`).
- **How generated**: \`scripts/make-datasets.ts\` (\`apt-get install bible-kjv && npx tsx scripts/make-datasets.ts\`):
  the 31,102 verses shuffled with Philox seed ${SEED}, the first ${REF_ROWS} distinct prompts that fit kept.
- **Split**: none in the file. Split with \`splitDataset(rows, 0.2, seed)\`; the rule (copy the named part
  of the reference) is the same for unseen references, so held-out accuracy measures whether it was learnt,
  not memorised.
- **Metric**: exact match (\`exactMatch\` in \`src/engine/data/metric.ts\`): greedy generation from the
  prompt, cut at the first newline, whitespace-trimmed, equal to the trimmed completion. Train with
  \`maskPrompt\` so only the answer (and EOS) is a target.
- **Measured** (once, by hand, not in CI): a full fine-tune of tiny-kjv on the 384 training rows of
  \`splitDataset(rows, 0.2, 0)\`, 100 AdamW steps (lr 3e-3, β 0.9/0.99, clip 1.0) of 16 rows × 24 tokens,
  one example per row: train loss 2.16 at step 10, 0.83 at step 100; exact match 28 % on 60 held-out rows (17/60):
  the \`book\` questions are learnt, the numbers not yet (it answers a plausible number). With lr 1e-2
  it does not converge (3 %).
`);

  const chatRows = styleChat(verses);
  const chat = writeJsonl('kjv-style-chat.jsonl', chatRows);
  const cs = stats('kjv-style-chat.jsonl', chat, tok);
  writeFileSync(join(OUT, 'kjv-style-chat.CARD.md'), `# kjv-style-chat — modern English to King James style

An instruction set in chat format: the user gives a verse in plain modern English and the
assistant answers with the verse as the King James Version has it.

\`\`\`json
${JSON.stringify(chatRows[0])}
\`\`\`

- **Source**: the King James Version (1611; public domain), read from Debian's \`bible-kjv-text\`
  package with its \`bible\` program. The assistant side is the verse verbatim; the user side is
  that verse rewritten by fixed rules.
- **License**: public domain text; this file CC0.
- **Size**: ${cs.rows} rows, ${cs.bytes} bytes. ${cs.minTokens}–${cs.maxTokens} tokens per row with the tiny-kjv tokenizer
  (mean ${cs.meanTokens.toFixed(1)}); tiny-kjv has no chat template, so rows are rendered in webtune's plain
  chat format (\`user: …\\nassistant: …\\n\` + EOS, see \`renderPlainChat\`).
- **Fields**: \`messages\`: [{role: "user", content: instruction + modern verse}, {role: "assistant", content: KJV verse}].
- **How generated**: \`scripts/make-datasets.ts\`: verses of at most ${STYLE_MAX_CHARS} characters, shuffled with Philox
  seed ${SEED + 1}; modern English by rule: thou/thee/ye → you, thy → your, thine → your/yours, unto → to,
  hath → has, doth → does, saith → says, spake → spoke, thou art/hast/shalt/wilt/canst/dost/didst/wast →
  you are/have/shall/will/can/do/did/were, "thou knowest" → "you know" (a word that follows "thou" somewhere in the KJV and ends in -st is
  such a verb), "-eth" verbs → "-s" (the base form
  found in the KJV's own vocabulary: maketh → makes, runneth → runs, goeth → goes). Verses the rules
  cannot fully modernise (for example inverted questions, "knowest thou") or leave unchanged are left
  out; the first ${STYLE_ROWS} that remain are kept.
- **Metric**: held-out loss on the assistant tokens (train with \`maskPrompt\`); for a look at the
  style, generate from \`renderPlainChat([user message], true)\`. The modern side is mechanical, so the
  task is the inverse rewrite: learnable, but exact match needs most words right.
`);
  console.log({ 'kjv-verse-ref': rs, 'kjv-style-chat': cs });
}

await main();
