// The dataset layer: every file format (CSV edge cases included), auto-detection and explicit
// field mappings, bad rows reported by line while the rest load; loss masks for prompt and
// chat rows with the built-in model's real tokenizer; packing and padding; the split; and
// the shipped sample datasets.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batches, encodeRows, parseCsvRecords, parseDataset, renderPlainChat, splitDataset, tokenLengthHistogram,
  type DatasetRow, type EncodeOptions, type Example,
} from '../../src/engine/data/dataset.ts';
import { loadTokenizer, TextTokenizer } from '../../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const DATASETS = new URL('../../public/datasets/', import.meta.url).pathname;
const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

let tok: TextTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(nodeModelDir(MODEL), [2]);
});

const MASKED: EncodeOptions = { maxTokens: 1000, maskPrompt: true, useChatTemplate: true };

/** The text of the tokens that are training targets (specials kept). */
function targetText(t: TextTokenizer, e: Example): string {
  return t.decode(e.tokens.filter((_, i) => e.loss[i] === 1), false);
}

describe('parseDataset: JSONL', () => {
  it('auto-detects chat, every prompt/completion pair and text, skipping blank lines', () => {
    const lines = [
      '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
      '{"prompt": "2+2=", "completion": " 4"}',
      '',
      '{"input": "a", "output": "b"}',
      '{"question": "q?", "answer": "yes"}',
      '{"instruction": "do", "response": "done", "extra": 1}',
      '   ',
      '{"text": "In the beginning"}',
    ];
    const { rows, errors, format } = parseDataset('d.jsonl', lines.join('\n'));
    expect(format).toBe('jsonl');
    expect(errors).toEqual([]);
    expect(rows).toEqual<DatasetRow[]>([
      { kind: 'chat', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] },
      { kind: 'prompt', prompt: '2+2=', completion: ' 4' },
      { kind: 'prompt', prompt: 'a', completion: 'b' },
      { kind: 'prompt', prompt: 'q?', completion: 'yes' },
      { kind: 'prompt', prompt: 'do', completion: 'done' },
      { kind: 'text', text: 'In the beginning' },
    ]);
  });

  it('reports bad rows with their line and what was expected, and loads the rest', () => {
    const lines = [
      '{"text": "good one"}', // 1
      '{"text": 5}', // 2
      'not json', // 3
      '{"prompt": "p"}', // 4
      '[1, 2]', // 5
      '{"messages": [{"role": "user"}]}', // 6
      '{"messages": "hi"}', // 7
      '{"foo": "bar"}', // 8
      '{"text": "   "}', // 9
      '{"prompt": "p", "completion": "c"}', // 10
      '{"messages": []}', // 11
    ];
    const { rows, errors } = parseDataset('d.jsonl', lines.join('\r\n'));
    expect(rows).toEqual([{ kind: 'text', text: 'good one' }, { kind: 'prompt', prompt: 'p', completion: 'c' }]);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 11]);
    const msg = (line: number) => errors.find((e) => e.line === line)?.message ?? '';
    expect(msg(2)).toMatch(/"text" must be a string \(got number\)/);
    expect(msg(3)).toMatch(/not JSON/);
    expect(msg(4)).toMatch(/no "completion" field \(expected a string; fields here: "prompt"\)/);
    expect(msg(5)).toMatch(/expected a JSON object \(got an array\)/);
    expect(msg(6)).toMatch(/"messages"\[0\]\.content must be a string/);
    expect(msg(7)).toMatch(/"messages" must be an array of \{role, content\}/);
    expect(msg(8)).toMatch(/no known fields.*"foo"/);
    expect(msg(9)).toMatch(/"text" is empty/);
    expect(msg(11)).toMatch(/empty array/);
  });

  it('throws naming the file only when no line is readable at all', () => {
    expect(() => parseDataset('broken.jsonl', 'nope\nnot this either\n')).toThrow(/broken\.jsonl: no line is JSON \(line 1/);
    // a pretty-printed JSON array saved as .jsonl is still read
    const r = parseDataset('pretty.jsonl', '[\n  {"text": "a"},\n  {"text": "b"}\n]\n');
    expect(r.rows).toEqual([{ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' }]);
  });

  it('an empty file is one error, not a throw', () => {
    expect(parseDataset('e.jsonl', '\n\n')).toEqual({ rows: [], errors: [{ line: 1, message: 'the file is empty' }], format: 'jsonl' });
  });
});

describe('parseDataset: explicit field mappings', () => {
  const content = '{"q": "Who?", "a": " Moses", "body": "text here", "conv": [{"role": "user", "content": "x"}], "prompt": "ignored", "completion": "ignored"}';
  it('uses the named fields over auto-detection', () => {
    expect(parseDataset('m.jsonl', content, { prompt: 'q', completion: 'a' }).rows).toEqual([{ kind: 'prompt', prompt: 'Who?', completion: ' Moses' }]);
    expect(parseDataset('m.jsonl', content, { text: 'body' }).rows).toEqual([{ kind: 'text', text: 'text here' }]);
    expect(parseDataset('m.jsonl', content, { messages: 'conv' }).rows).toEqual([{ kind: 'chat', messages: [{ role: 'user', content: 'x' }] }]);
    expect(parseDataset('m.jsonl', content).rows).toEqual([{ kind: 'prompt', prompt: 'ignored', completion: 'ignored' }]);
  });
  it('names the mapped field when a row lacks it', () => {
    const { rows, errors } = parseDataset('m.jsonl', `${content}\n{"q": "only"}`, { prompt: 'q', completion: 'a' });
    expect(rows).toHaveLength(1);
    expect(errors).toEqual([{ line: 2, message: 'no "a" field (expected a string; fields here: "q")' }]);
  });
});

describe('parseDataset: JSON', () => {
  it('reads an array, or an object with "data" or "rows"; error lines are element index + 1', () => {
    const arr = JSON.stringify([{ text: 'a' }, { text: 1 }, 'x', { prompt: 'p', completion: 'c' }]);
    const r = parseDataset('d.json', arr);
    expect(r.format).toBe('json');
    expect(r.rows).toEqual([{ kind: 'text', text: 'a' }, { kind: 'prompt', prompt: 'p', completion: 'c' }]);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3]);
    expect(r.errors[1].message).toMatch(/expected a JSON object \(got string\)/);
    expect(parseDataset('d.json', JSON.stringify({ data: [{ text: 'x' }] })).rows).toEqual([{ kind: 'text', text: 'x' }]);
    expect(parseDataset('d.json', JSON.stringify({ rows: [{ text: 'y' }], meta: 1 })).rows).toEqual([{ kind: 'text', text: 'y' }]);
  });
  it('throws naming the file when the JSON does not parse or has no array', () => {
    expect(() => parseDataset('bad.json', '[{"text": "a"},')).toThrow(/bad\.json is not valid JSON/);
    expect(() => parseDataset('obj.json', '{"text": "a"}')).toThrow(/obj\.json: expected a JSON array of records, or an object with a "data" or "rows" array \(got an object\)/);
  });
});

describe('parseDataset: CSV (RFC 4180)', () => {
  it('reads quoted fields with commas, newlines and doubled quotes; CRLF; BOM; line numbers where records start', () => {
    const csv = '\ufeffprompt,completion\r\n' + // 1
      '"Say ""hi"", then go",plain\r\n' + // 2
      '"two\nlines",",comma,"\r\n' + // 3-4
      '\r\n' + // 5 (blank)
      'p,c\r\n' + // 6
      'only-one\r\n' + // 7
      'x,\r\n' + // 8: empty completion
      '"a"b,c\n' + // 9: text after a closing quote
      'bad"quote,c\n' + // 10
      '"last","row"'; // 11, no final newline
    const r = parseDataset('d.csv', csv);
    expect(r.format).toBe('csv');
    expect(r.rows).toEqual([
      { kind: 'prompt', prompt: 'Say "hi", then go', completion: 'plain' },
      { kind: 'prompt', prompt: 'two\nlines', completion: ',comma,' },
      { kind: 'prompt', prompt: 'p', completion: 'c' },
      { kind: 'prompt', prompt: 'last', completion: 'row' },
    ]);
    expect(r.errors.map((e) => e.line)).toEqual([7, 8, 9, 10]);
    expect(r.errors[0].message).toMatch(/1 fields where the header has 2 \("prompt", "completion"\)/);
    expect(r.errors[1].message).toMatch(/"completion" is empty/);
    expect(r.errors[2].message).toMatch(/unexpected text after a closing quote in field 1/);
    expect(r.errors[3].message).toMatch(/double quote inside unquoted field 1/);
  });

  it('reports an unterminated quote, keeps earlier rows; a conversation can be a JSON cell', () => {
    const conv = JSON.stringify([{ role: 'user', content: 'a, b' }, { role: 'assistant', content: 'c' }]).replaceAll('"', '""');
    const csv = `messages\n"${conv}"\n"[1]"\n"never closed\n`;
    const r = parseDataset('chat.csv', csv);
    expect(r.rows).toEqual([{ kind: 'chat', messages: [{ role: 'user', content: 'a, b' }, { role: 'assistant', content: 'c' }] }]);
    expect(r.errors).toEqual([
      { line: 3, message: '"messages"[0] must be an object {role, content} (got number)' },
      { line: 4, message: 'a quoted field is not closed before the end of the file' },
    ]);
  });

  it('maps columns by name; throws naming the file when the header cannot be read', () => {
    expect(parseDataset('t.csv', 'id,body\n1,"hello, world"\n', { text: 'body' }).rows).toEqual([{ kind: 'text', text: 'hello, world' }]);
    expect(() => parseDataset('h.csv', '"unclosed header,x\n')).toThrow(/h\.csv: cannot read the CSV header/);
  });

  it('parseCsvRecords keeps empty fields and a trailing empty field', () => {
    expect(parseCsvRecords('a,,b,\n"",x\n').records).toEqual([{ line: 1, fields: ['a', '', 'b', ''] }, { line: 2, fields: ['', 'x'] }]);
  });
});

describe('parseDataset: TXT and sniffing', () => {
  it('a .txt file is one text document', () => {
    expect(parseDataset('book.txt', 'line one\nline two\n')).toEqual({ rows: [{ kind: 'text', text: 'line one\nline two\n' }], errors: [], format: 'txt' });
  });
  it('an unknown extension is sniffed', () => {
    expect(parseDataset('data', '{"text": "a"}\n{"text": "b"}\n').format).toBe('jsonl');
    expect(parseDataset('data', '[{"text": "a"}]').format).toBe('json');
    expect(parseDataset('data', 'plain words').format).toBe('txt');
  });
});

describe('encodeRows with the tiny-kjv tokenizer', () => {
  it('text rows: BOS + text + EOS, all targets but the first', () => {
    const [e] = encodeRows([{ kind: 'text', text: 'In the beginning' }], tok, MASKED).examples;
    expect(e.tokens[0]).toBe(tok.bosId);
    expect(e.tokens.at(-1)).toBe(2);
    expect(tok.decode(e.tokens)).toBe('In the beginning');
    expect(e.loss).toEqual(e.tokens.map((_, i) => (i === 0 ? 0 : 1)));
  });

  it('prompt rows: the prompt is masked, completion + EOS are targets; unmasked without maskPrompt', () => {
    const row: DatasetRow = { kind: 'prompt', prompt: 'Psalms 23:1 chapter:', completion: ' 23' };
    const [e] = encodeRows([row], tok, MASKED).examples;
    const p = tok.encode(row.prompt, true);
    expect(e.tokens.slice(0, p.length)).toEqual(p);
    expect(e.loss.slice(0, p.length).every((x) => x === 0)).toBe(true);
    expect(e.loss.slice(p.length).every((x) => x === 1)).toBe(true);
    expect(targetText(tok, e)).toBe('23</s>');
    expect(tok.decode(e.tokens)).toBe('Psalms 23:1 chapter: 23');
    const [u] = encodeRows([row], tok, { ...MASKED, maskPrompt: false }).examples;
    expect(u.tokens).toEqual(e.tokens);
    expect(u.loss).toEqual(e.tokens.map((_, i) => (i === 0 ? 0 : 1)));
  });

  const conversation: DatasetRow = {
    kind: 'chat',
    messages: [
      { role: 'system', content: 'Speak as the KJV.' },
      { role: 'user', content: 'Who is my shepherd?' },
      { role: 'assistant', content: 'The LORD is my shepherd.' },
      { role: 'user', content: 'And then?' },
      { role: 'assistant', content: 'I shall not want.' },
    ],
  };

  it('chat rows without a template: the plain format, only assistant contents (and the final EOS) are targets', () => {
    expect(tok.chatTemplate).toBeUndefined();
    const [e] = encodeRows([conversation], tok, MASKED).examples;
    if (conversation.kind !== 'chat') throw new Error('chat');
    expect(tok.decode(e.tokens)).toBe(renderPlainChat(conversation.messages));
    expect(e.tokens.at(-1)).toBe(2);
    expect(targetText(tok, e)).toBe('The LORD is my shepherd.\n I shall not want.\n</s>');
    // targets are two contiguous spans
    const starts = e.loss.filter((x, i) => x === 1 && e.loss[i - 1] !== 1).length;
    expect(starts).toBe(2);
    const [u] = encodeRows([conversation], tok, { ...MASKED, maskPrompt: false }).examples;
    expect(u.loss.reduce((a, b) => a + b, 0)).toBe(u.tokens.length - 1);
  });

  it('chat rows with a template: rendered by it, assistant turns with their end-of-turn text are targets', () => {
    const cfg = JSON.stringify({ ...JSON.parse(readFileSync(`${MODEL}/tokenizer_config.json`, 'utf8')), chat_template: CHATML });
    const chat = TextTokenizer.load(readFileSync(`${MODEL}/tokenizer.json`, 'utf8'), cfg, [2]);
    const [e] = encodeRows([conversation], chat, MASKED).examples;
    expect(e.tokens[0]).not.toBe(chat.bosId); // the template has no BOS and specials are not added
    expect(chat.decode(e.tokens)).toBe('<|im_start|>system\nSpeak as the KJV.<|im_end|>\n<|im_start|>user\nWho is my shepherd?<|im_end|>\n<|im_start|>assistant\nThe LORD is my shepherd.<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\nI shall not want.<|im_end|>\n');
    expect(targetText(chat, e).replaceAll('\u2581', ' ')).toMatch(/^\s?The LORD is my shepherd\.<\|im_end\|>\n\s?I shall not want\.<\|im_end\|>\n$/);
    // useChatTemplate off: the plain format even though the tokenizer has a template
    const [plain] = encodeRows([conversation], chat, { ...MASKED, useChatTemplate: false }).examples;
    expect(chat.decode(plain.tokens)).toMatch(/^system: Speak as the KJV\.\nuser: /);
  });

  it('truncates to maxTokens and counts it', () => {
    const rows: DatasetRow[] = [{ kind: 'text', text: 'In the beginning God created the heaven and the earth.' }, { kind: 'text', text: 'Amen' }];
    const { examples, truncated } = encodeRows(rows, tok, { ...MASKED, maxTokens: 6 });
    expect(truncated).toBe(1);
    expect(examples[0].tokens).toHaveLength(6);
    expect(examples[0].loss).toHaveLength(6);
    expect(examples[1].tokens.length).toBeLessThanOrEqual(6);
    expect(() => encodeRows(rows, tok, { ...MASKED, maxTokens: 1 })).toThrow(RangeError);
  });
});

describe('batches', () => {
  const ex = (tokens: number[], loss: number[]): Example => ({ tokens, loss });
  const examples = [ex([1, 10, 11, 12, 2], [0, 0, 1, 1, 1]), ex([1, 20, 2], [0, 1, 1]), ex([1, 30, 31, 32, 33, 34, 35, 2], [0, 1, 1, 1, 1, 1, 1, 1])];

  it('one example per row: shifted targets, masks from loss[i + 1], padding masked, long ones cut to T + 1', () => {
    const bs = batches(examples, 2, 4, { pack: false, padId: 0 });
    expect(bs).toHaveLength(2);
    expect([...bs[0].ids]).toEqual([1, 10, 11, 12, 1, 20, 0, 0]);
    expect([...bs[0].targets]).toEqual([10, 11, 12, 2, 20, 2, 0, 0]);
    expect([...bs[0].mask]).toEqual([0, 1, 1, 1, 1, 1, 0, 0]);
    expect(bs[0].tokens).toBe(5);
    // the third example is cut to 5 tokens; the second row of the last batch is all padding
    expect([...bs[1].ids]).toEqual([1, 30, 31, 32, 0, 0, 0, 0]);
    expect([...bs[1].targets]).toEqual([30, 31, 32, 33, 0, 0, 0, 0]);
    expect([...bs[1].mask]).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('packed: one stream in windows of T + 1 overlapping by one, every target once, masks kept across joins', () => {
    const T = 4;
    const bs = batches(examples, 2, T, { pack: true, padId: -1 });
    const stream = examples.flatMap((e) => e.tokens);
    const loss = examples.flatMap((e) => e.loss);
    const ids = bs.flatMap((b) => [...b.ids]);
    const targets = bs.flatMap((b) => [...b.targets]);
    const mask = bs.flatMap((b) => [...b.mask]);
    // 16 tokens → 15 targets → 4 windows (4 + 4 + 4 + 3): 2 batches, the last window padded
    expect(bs).toHaveLength(2);
    expect(ids.slice(0, 15)).toEqual(stream.slice(0, 15));
    expect(targets.slice(0, 15)).toEqual(stream.slice(1));
    expect(mask.slice(0, 15)).toEqual(loss.slice(1));
    expect(ids[15]).toBe(-1);
    expect(mask[15]).toBe(0);
    // the BOS of an example is never a target (loss[0] = 0)
    targets.forEach((t, i) => t === 1 && expect(mask[i]).toBe(0));
    expect(bs.reduce((a, b) => a + b.tokens, 0)).toBe(loss.reduce((a, b) => a + b, 0));
  });

  it('is deterministic and rejects bad shapes', () => {
    const a = batches(examples, 3, 5, { pack: true, padId: 0 });
    const b = batches(examples, 3, 5, { pack: true, padId: 0 });
    expect(a).toEqual(b);
    expect(a[0].ids).toHaveLength(15);
    expect(() => batches(examples, 0, 4, { pack: true, padId: 0 })).toThrow(RangeError);
  });
});

describe('splitDataset and tokenLengthHistogram', () => {
  const rows = Array.from({ length: 50 }, (_, i) => i);
  it('is a deterministic shuffle by seed into disjoint train and eval', () => {
    const a = splitDataset(rows, 0.2, 7);
    expect(a).toEqual(splitDataset(rows, 0.2, 7));
    expect(a.eval).toHaveLength(10);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual(rows);
    expect(a.eval).not.toEqual(rows.slice(0, 10));
    expect(splitDataset(rows, 0.2, 8).eval).not.toEqual(a.eval);
  });
  it('keeps at least one eval row (and one train row) when asked for any', () => {
    expect(splitDataset([1, 2], 0.01, 0).eval).toHaveLength(1);
    expect(splitDataset([1, 2], 0.01, 0).train).toHaveLength(1);
    expect(splitDataset([1, 2, 3], 0.9, 0).train).toHaveLength(1);
    expect(splitDataset([1], 0.5, 0)).toEqual({ train: [1], eval: [] });
    expect(splitDataset(rows, 0, 0).eval).toEqual([]);
    expect(() => splitDataset(rows, 1, 0)).toThrow(RangeError);
  });
  it('counts token lengths in equal bins', () => {
    const ex = (n: number): Example => ({ tokens: new Array<number>(n).fill(1), loss: new Array<number>(n).fill(1) });
    const h = tokenLengthHistogram([ex(3), ex(4), ex(10), ex(12), ex(12)], 5);
    expect(h).toEqual({ min: 3, max: 12, lo: 3, width: 2, counts: [2, 0, 0, 1, 2] });
    expect(tokenLengthHistogram([], 3)).toEqual({ min: 0, max: 0, lo: 0, width: 1, counts: [0, 0, 0] });
  });
});

describe('the shipped sample datasets', () => {
  const load = (name: string) => parseDataset(name, readFileSync(`${DATASETS}${name}`, 'utf8'));

  it('kjv-verse-ref.jsonl: 480 prompt/completion rows, no errors, at most 24 tokens each', () => {
    const { rows, errors } = load('kjv-verse-ref.jsonl');
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(480);
    expect(rows.every((r) => r.kind === 'prompt')).toBe(true);
    const { examples } = encodeRows(rows, tok, MASKED);
    expect(Math.max(...examples.map((e) => e.tokens.length))).toBeLessThanOrEqual(24);
    const { train, eval: ev } = splitDataset(rows, 0.2, 0);
    expect([train.length, ev.length]).toEqual([384, 96]);
  });

  it('kjv-style-chat.jsonl: 600 user/assistant chats, no errors, each under 200 KB and with assistant targets', () => {
    const { rows, errors } = load('kjv-style-chat.jsonl');
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(600);
    expect(rows.every((r) => r.kind === 'chat' && r.messages.length === 2 && r.messages[1].role === 'assistant')).toBe(true);
    const { examples } = encodeRows(rows, tok, MASKED);
    expect(examples.every((e) => e.loss.some((x) => x === 1))).toBe(true);
    for (const f of ['kjv-verse-ref.jsonl', 'kjv-style-chat.jsonl']) expect(readFileSync(`${DATASETS}${f}`).length).toBeLessThan(200_000);
  });
});
