// "Continue at scale" (src/engine/export/recipe.ts): the Axolotl YAML parses (PyYAML, through
// python3, which CI has) and names every hyperparameter of the run; train_trl.py compiles
// (python3 -m py_compile) and its constants (read with Python's ast) carry the same values;
// the dataset JSONL round-trips; methods the tools cannot express get the closest recipe with
// a note, or a clear error when asked.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDataset, type DatasetRow } from '../../src/engine/data/dataset.ts';
import '../../src/engine/methods/all.ts';
import { continueAtScale, parseRunRecord, yamlNumber, type Recipe, type RunRecord } from '../../src/engine/export/recipe.ts';
import { ConfigError } from '../../src/engine/config/schema.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';

const DATASETS = new URL('../../public/datasets/', import.meta.url).pathname;
const GPT2 = parseModelConfig(readFileSync(new URL('../fixtures/models/gpt2/config.json', import.meta.url), 'utf8'));

function python(args: string[], input?: string): string {
  const r = spawnSync('python3', args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`python3 is needed for this test (the recipe's YAML and script are checked with it) and could not be run: ${r.error.message}. Install python3 (with PyYAML).`);
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ').slice(0, 60)} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const loadYaml = (text: string): Record<string, unknown> =>
  JSON.parse(python(['-c', 'import json, sys\ntry:\n    import yaml\nexcept ImportError:\n    sys.exit("PyYAML is missing: pip install pyyaml (or apt-get install python3-yaml)")\nprint(json.dumps(yaml.safe_load(sys.stdin.read())))'], text)) as Record<string, unknown>;

/** py_compile the script, then its top-level constants by ast.literal_eval. */
function checkScript(text: string): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'recipe-'));
  try {
    const f = join(dir, 'train_trl.py');
    writeFileSync(f, text);
    python(['-m', 'py_compile', f]);
    const code = 'import ast, json, sys\nt = ast.parse(open(sys.argv[1]).read())\nout = {}\nfor n in t.body:\n    if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):\n        out[n.targets[0].id] = ast.literal_eval(n.value)\nprint(json.dumps(out))';
    return JSON.parse(python(['-c', code, f])) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rows(name: string, n = 6): DatasetRow[] {
  return parseDataset(name, readFileSync(join(DATASETS, name), 'utf8')).rows.slice(0, n);
}

const file = (r: Recipe, name: string) => {
  const f = r.files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} among ${r.files.map((x) => x.name).join(', ')}`);
  return f.text;
};

function run(p: Partial<RunRecord> & { trainer?: Record<string, unknown> }): RunRecord {
  return { model: 'hf:HuggingFaceTB/SmolLM2-135M', data: 'builtin:kjv-verse-ref', method: 'lora', methodConfig: {}, B: 4, T: 48, precision: 'f32', seed: 0, ...p, trainer: { ...trainerConfig(), ...p.trainer } };
}

describe('continue at scale', () => {
  it('yamlNumber writes floats PyYAML reads as floats', () => {
    expect(yamlNumber(2e-7)).toBe('2.0e-7');
    expect(yamlNumber(1.5e-5)).toBe('0.000015');
    expect(yamlNumber(1.5e-7)).toBe('1.5e-7');
    expect(yamlNumber(3e21)).toBe('3.0e+21');
    expect(yamlNumber(0.001)).toBe('0.001');
    expect(loadYaml('a: 2.0e-7\nb: 1.5e-5\nc: 3.0e+21\n')).toEqual({ a: 2e-7, b: 1.5e-5, c: 3e21 });
  });

  it('a QLoRA run on prompt/completion rows: every hyperparameter in axolotl.yaml and train_trl.py', () => {
    const trainer = { steps: 250, lr: 3e-4, schedule: 'cosine', warmup: 12, optimizer: 'adamw', weightDecay: 0.01, beta1: 0.85, beta2: 0.995, maxGradNorm: 0.5, accum: 3, evalEvery: 50 };
    const r = run({ methodConfig: { rank: 6, alpha: 12, targets: ['q_proj', 'k_proj', 'v_proj'], rslora: true, dora: true }, trainer, precision: 'nf4', seed: 17, B: 5, T: 40 });
    // as the CLI writes run.json (with estimate and all)
    const recipe = continueAtScale(JSON.stringify({ ...r, estimate: { total: 1 } }), rows('kjv-verse-ref.jsonl'), { evalFraction: 0.2 });
    expect(recipe.kind).toBe('lora');
    const y = loadYaml(file(recipe, 'axolotl.yaml'));
    expect(y).toMatchObject({
      base_model: 'HuggingFaceTB/SmolLM2-135M', adapter: 'qlora', load_in_4bit: true, load_in_8bit: false, lora_model_dir: 'adapter',
      lora_r: 6, lora_alpha: 12, lora_dropout: 0, lora_target_modules: ['q_proj', 'k_proj', 'v_proj'], peft_use_rslora: true, peft_use_dora: true,
      learning_rate: 3e-4, lr_scheduler: 'cosine', warmup_steps: 12, max_steps: 250, micro_batch_size: 5, gradient_accumulation_steps: 3,
      sequence_len: 40, optimizer: 'adamw_torch', adam_beta1: 0.85, adam_beta2: 0.995, weight_decay: 0.01, max_grad_norm: 0.5, seed: 17,
      eval_steps: 50, val_set_size: 0.2, train_on_inputs: false, sample_packing: false,
      datasets: [{ path: 'dataset.axolotl.jsonl', ds_type: 'json', type: 'input_output' }],
    });
    const seg = file(recipe, 'dataset.axolotl.jsonl').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(seg[0]).toEqual({ segments: [{ label: false, text: 'Luke 20:46 chapter:' }, { label: true, text: ' 20' }] });
    const ds = file(recipe, 'dataset.jsonl').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(ds).toHaveLength(6);
    expect(ds[0]).toEqual({ prompt: 'Luke 20:46 chapter:', completion: ' 20' });
    const py = checkScript(file(recipe, 'train_trl.py'));
    expect(py).toMatchObject({
      BASE_MODEL: 'HuggingFaceTB/SmolLM2-135M', START_FROM: 'adapter', LORA: true, LOAD_IN_4BIT: true, LORA_R: 6, LORA_ALPHA: 12,
      TARGET_MODULES: ['q_proj', 'k_proj', 'v_proj'], USE_RSLORA: true, USE_DORA: true, LEARNING_RATE: 3e-4, LR_SCHEDULER: 'cosine',
      WARMUP_STEPS: 12, MAX_STEPS: 250, BATCH_SIZE: 5, GRAD_ACCUM: 3, SEQ_LEN: 40, OPTIMIZER: 'adamw_torch', ADAM_BETA1: 0.85,
      ADAM_BETA2: 0.995, WEIGHT_DECAY: 0.01, MAX_GRAD_NORM: 0.5, SEED: 17, EVAL_FRACTION: 0.2, EVAL_STEPS: 50, TRAIN_ON_PROMPT: false,
      DATA_FILES: ['dataset.jsonl'],
    });
    const text = file(recipe, 'train_trl.py');
    for (const w of ['SFTTrainer(', 'SFTConfig(', 'PeftModel.from_pretrained(model, START_FROM, is_trainable=True)', 'LoraConfig(', 'accelerate launch', 'BitsAndBytesConfig(load_in_4bit=True']) expect(text).toContain(w);
    expect(recipe.notes.join(' ')).toMatch(/nf4/);
  });

  it('chat rows, SGD with momentum, constant schedule with warm-up, all-linear on GPT-2, local base: chat_template and fan_in_fan_out', () => {
    const r = run({ model: '../models/my-gpt2', methodConfig: { rank: 4, alpha: 4, targets: 'all-linear' }, trainer: { optimizer: 'sgd', momentum: 0.9, lr: 0.05, warmup: 5, maxGradNorm: 0 } });
    const recipe = continueAtScale(r, rows('kjv-style-chat.jsonl', 3), { spec: GPT2, startFrom: 'run1' });
    const yt = file(recipe, 'axolotl.yaml');
    expect(yt).toMatch(/# the run used the local folder \.\.\/models\/my-gpt2/);
    expect(yt).toMatch(/# webtune's SGD had momentum 0.9/);
    expect(file(recipe, 'train_trl.py')).toContain('optimizer_cls_and_kwargs=custom_optimizer');
    const y = loadYaml(yt);
    expect(y).toMatchObject({
      base_model: '../models/my-gpt2', adapter: 'lora', load_in_4bit: false, lora_model_dir: 'run1', lora_target_linear: true, lora_fan_in_fan_out: true,
      optimizer: 'sgd', learning_rate: 0.05, lr_scheduler: 'constant_with_warmup', warmup_steps: 5, max_grad_norm: 0,
      chat_template: 'tokenizer_default',
      datasets: [{ path: 'dataset.jsonl', type: 'chat_template', field_messages: 'messages', roles_to_train: ['assistant'] }],
    });
    expect(y).not.toHaveProperty('adam_beta1');
    expect(y).not.toHaveProperty('lora_target_modules');
    const ds = file(recipe, 'dataset.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { messages: unknown[] });
    expect(ds[0].messages).toHaveLength(2);
    const py = checkScript(file(recipe, 'train_trl.py'));
    expect(py).toMatchObject({ TARGET_MODULES: 'all-linear', FAN_IN_FAN_OUT: true, OPTIMIZER: 'sgd', SGD_MOMENTUM: 0.9, LR_SCHEDULER: 'constant_with_warmup', START_FROM: 'run1' });
    // Empty targets: PEFT's default for the architecture (GPT-2: c_attn; Llama without a spec: q_proj, v_proj).
    expect(loadYaml(file(continueAtScale(run({}), rows('kjv-verse-ref.jsonl'), { spec: GPT2 }), 'axolotl.yaml')).lora_target_modules).toEqual(['c_attn']);
    expect(loadYaml(file(continueAtScale(run({}), rows('kjv-verse-ref.jsonl')), 'axolotl.yaml')).lora_target_modules).toEqual(['q_proj', 'v_proj']);
  });

  it('text rows → completion; a built-in base → a placeholder with a comment; packing and prompt training', () => {
    const text: DatasetRow[] = [{ kind: 'text', text: 'In the beginning' }, { kind: 'text', text: 'And the earth' }];
    const recipe = continueAtScale(run({ model: 'builtin:tiny-kjv', precision: 'q8' }), text, { pack: true, trainOnPrompt: true });
    const yt = file(recipe, 'axolotl.yaml');
    expect(yt).toMatch(/# the run used webtune's built-in model tiny-kjv/);
    expect(loadYaml(yt)).toMatchObject({ base_model: './tiny-kjv', load_in_8bit: true, adapter: 'lora', sample_packing: true, train_on_inputs: true, datasets: [{ path: 'dataset.jsonl', type: 'completion', field: 'text' }] });
    expect(file(recipe, 'dataset.jsonl')).toBe('{"text":"In the beginning"}\n{"text":"And the earth"}\n');
    expect(checkScript(file(recipe, 'train_trl.py'))).toMatchObject({ PACKING: true, TRAIN_ON_PROMPT: true, LOAD_IN_8BIT: true });
  });

  it('full fine-tune: no adapter, starts from the exported weights', () => {
    const recipe = continueAtScale(run({ method: 'full', methodConfig: { targets: ['mlp'], layers: [] }, trainer: { lr: 1e-4 } }), rows('kjv-verse-ref.jsonl'));
    expect(recipe.kind).toBe('full');
    const y = loadYaml(file(recipe, 'axolotl.yaml'));
    expect(y.base_model).toBe('model');
    for (const k of ['adapter', 'lora_r', 'lora_model_dir']) expect(y).not.toHaveProperty(k);
    expect(y.learning_rate).toBe(1e-4);
    expect(recipe.notes.join(' ')).toMatch(/trained only mlp/);
    expect(checkScript(file(recipe, 'train_trl.py'))).toMatchObject({ LORA: false, BASE_MODEL: 'model' });
  });

  it('MeZO, Sparse MeZO, SHiRA, QZO: the closest recipe with a note, or a clear error', () => {
    const cases: [Partial<RunRecord>, RegExp, Record<string, unknown>][] = [
      [{ method: 'mezo', methodConfig: { trainable: 'lora', rank: 4, alpha: 8 }, trainer: { lr: 1e-6, optimizer: 'sgd' } }, /zeroth-order/, { adapter: 'lora', lora_r: 4, lora_alpha: 8, learning_rate: 2e-4, lora_model_dir: 'adapter' }],
      [{ method: 'mezo', methodConfig: { trainable: 'all' }, trainer: { lr: 1e-6, optimizer: 'sgd' } }, /zeroth-order/, { base_model: 'model', learning_rate: 1e-5 }],
      [{ method: 'sparse-mezo', methodConfig: { fraction: 0.5 } }, /smallest-\|w\| 0.5/, { base_model: 'model' }],
      [{ method: 'shira', methodConfig: { rank: 3, targets: [] } }, /SHiRA/, { adapter: 'lora', lora_r: 3, lora_alpha: 6, lora_target_linear: true }],
      [{ method: 'qzo', methodConfig: { targets: ['all-linear'] }, precision: 'q4' }, /QZO/, { adapter: 'qlora', load_in_4bit: true, lora_r: 8 }],
    ];
    for (const [p, note, want] of cases) {
      const recipe = continueAtScale(run(p as Partial<RunRecord>), rows('kjv-verse-ref.jsonl'));
      expect(recipe.notes.join(' '), p.method).toMatch(note);
      const yt = file(recipe, 'axolotl.yaml');
      expect(yt).toMatch(/# NOTE: /);
      expect(loadYaml(yt), p.method).toMatchObject(want);
      expect(file(recipe, 'train_trl.py')).toContain('NOTE: ');
      checkScript(file(recipe, 'train_trl.py'));
      expect(() => continueAtScale(run(p as Partial<RunRecord>), rows('kjv-verse-ref.jsonl'), { unsupported: 'error' })).toThrow(ConfigError);
    }
    expect(yamlOf(continueAtScale(run({ method: 'shira', methodConfig: {} }), rows('kjv-verse-ref.jsonl'))).lora_model_dir).toBeUndefined();
    expect(() => continueAtScale(run({ method: 'nope' }), rows('kjv-verse-ref.jsonl'))).toThrow(/unknown method "nope"/);
  });

  it('bad input: run.json that is not a run, an empty or mixed dataset', () => {
    expect(() => parseRunRecord('{')).toThrow(/not JSON/);
    expect(() => parseRunRecord('{"model": 1}')).toThrow(/"model" should be a string/);
    expect(() => continueAtScale(run({}), [])).toThrow(/no rows/);
    expect(() => continueAtScale(run({}), [...rows('kjv-style-chat.jsonl', 1), { kind: 'text', text: 'x' }])).toThrow(/mixes chat rows/);
    // text + prompt rows mix: TRL gets prompt/completion with an empty prompt for text rows
    const mixed = continueAtScale(run({}), [{ kind: 'text', text: 'x' }, { kind: 'prompt', prompt: 'a', completion: 'b' }]);
    expect(file(mixed, 'dataset.jsonl')).toBe('{"prompt":"","completion":"x"}\n{"prompt":"a","completion":"b"}\n');
    expect(file(mixed, 'dataset.axolotl.jsonl').split('\n')[0]).toBe('{"segments":[{"label":true,"text":"x"}]}');
  });
});

function yamlOf(r: Recipe): Record<string, unknown> {
  return loadYaml(file(r, 'axolotl.yaml'));
}
