// "Continue at scale": a finished webtune run (its run.json and dataset rows) as the files to
// continue it on real GPUs: an Axolotl config (axolotl.yaml), a plain transformers + TRL +
// PEFT script (train_trl.py, `accelerate launch` for several GPUs), and the dataset as JSONL.
// Same hyperparameters: rank, alpha, targets, rsLoRA, DoRA, learning rate, schedule, warm-up,
// steps, micro-batch, accumulation, sequence length, optimizer (AdamW / SGD + momentum),
// betas, weight decay, gradient clipping, seed, held-out fraction, packing, prompt masking.
// A LoRA run starts from its exported PEFT adapter (lora_model_dir /
// PeftModel.from_pretrained(..., is_trainable=True)); a full run from its exported weights.
// Each method says its own recipe (methods/<m>/recipe.ts, the contract's scaleOut).
// Methods neither tool expresses (MeZO, Sparse MeZO, SHiRA, QZO) get the closest first-order
// recipe with a comment saying what differs (`unsupported: 'error'` refuses instead):
//   mezo (trainable lora) → LoRA from its ZO-LoRA adapter; mezo / sparse-mezo (all weights)
//   → full fine-tune from the exported weights; shira → a fresh LoRA of the same size (or from
//   a converted adapter, export --format lora); qzo → QLoRA on a 4-bit base.
// Zeroth-order learning rates do not carry over to first-order training: those recipes use a
// usual rate and say so.
// Dataset files: dataset.jsonl in TRL's formats ({"text"}, {"prompt","completion"},
// {"messages"}); Axolotl reads the same file as `completion` / `chat_template`, and prompt /
// completion rows as `input_output` segments from dataset.axolotl.jsonl (template-free,
// prompt segments unlabelled), so the loss mask is webtune's.

import type { DatasetRow } from '../data/dataset.ts';
import type { ModelSpec } from '../model/config.ts';
import { ConfigError } from '../config/schema.ts';
import { getMethod } from '../methods/registry.ts';
import { defaultTargets } from '../methods/targets.ts';
import type { ScaleOutPlan } from '../methods/types.ts';

/** run.json as `npm run cli -- train --out DIR` writes it (src/cli/train.ts). */
export interface RunRecord {
  model: string;
  data: string;
  method: string;
  methodConfig: Record<string, unknown>;
  trainer: Record<string, unknown>;
  B: number;
  T: number;
  precision: string;
  seed: number;
}

export interface RecipeFile {
  name: string;
  text: string;
}

export interface RecipeOptions {
  /** Folder (as the recipe will see it) of the exported adapter or weights to start from.
   *  Default "adapter" for LoRA runs, "model" for full runs; null: start fresh. */
  startFrom?: string | null;
  /** The base's spec: PEFT's default target modules when the run left targets empty. */
  spec?: ModelSpec;
  /** Options the CLI takes as flags but run.json does not record (defaults: the CLI's). */
  evalFraction?: number;
  pack?: boolean;
  trainOnPrompt?: boolean;
  /** Where the continued run writes (default "outputs/continued"). */
  outputDir?: string;
  /** What to do with a method the tools cannot express (default 'closest'). */
  unsupported?: 'closest' | 'error';
}

export interface Recipe {
  files: RecipeFile[];
  /** What differs from the webtune run (also written as comments in both files). */
  notes: string[];
  /** The training the recipe describes. */
  kind: 'lora' | 'full';
}

const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : d);
const bool = (v: unknown) => v === true || v === 'true';
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' && v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

/** run.json text (or parsed) as a RunRecord, with what is missing named. */
export function parseRunRecord(input: string | unknown): RunRecord {
  let v: unknown = input;
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (e) {
      throw new ConfigError(`run.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError('run.json is not a JSON object');
  const r = v as Record<string, unknown>;
  for (const k of ['model', 'method'] as const) if (typeof r[k] !== 'string') throw new ConfigError(`run.json: "${k}" should be a string`);
  const obj = (k: string) => (typeof r[k] === 'object' && r[k] !== null && !Array.isArray(r[k]) ? (r[k] as Record<string, unknown>) : {});
  return {
    model: r.model as string, data: typeof r.data === 'string' ? r.data : '', method: r.method as string,
    methodConfig: obj('methodConfig'), trainer: obj('trainer'), B: num(r.B, 8), T: num(r.T, 64),
    precision: typeof r.precision === 'string' ? r.precision : 'f32', seed: num(r.seed, 0),
  };
}

// ---------------------------------------------------------------------------------------
// YAML and Python literals

/** A number PyYAML (YAML 1.1) also reads as a number: exponents need a dot and a sign. */
export function yamlNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const s = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]?)(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1]}${m[2]}.${m[3] ?? '0'}e${m[4] || '+'}${m[5]}`;
}

type Y = string | number | boolean | null | readonly Y[] | { readonly [k: string]: Y };

function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return yamlNumber(v);
  return JSON.stringify(v); // a JSON string is a YAML double-quoted scalar
}

const isScalar = (v: Y): v is string | number | boolean | null => v === null || typeof v !== 'object';
const pad = (n: number) => ' '.repeat(n);

/** `key: value` lines of a map at indentation n (block style; lists of scalars in flow style). */
function yamlMap(m: { readonly [k: string]: Y }, n: number): string[] {
  return Object.entries(m).flatMap(([k, v]) => {
    if (isScalar(v)) return [`${pad(n)}${k}: ${yamlScalar(v)}`];
    if (Array.isArray(v)) {
      if (!v.length) return [`${pad(n)}${k}: []`];
      if (v.every(isScalar)) return [`${pad(n)}${k}: [${v.map((x) => yamlScalar(x as string)).join(', ')}]`];
      return [`${pad(n)}${k}:`, ...yamlList(v, n + 2)];
    }
    const o = v as { readonly [k: string]: Y };
    return Object.keys(o).length ? [`${pad(n)}${k}:`, ...yamlMap(o, n + 2)] : [`${pad(n)}${k}: {}`];
  });
}

function yamlList(l: readonly Y[], n: number): string[] {
  return l.flatMap((v) => {
    if (isScalar(v)) return [`${pad(n)}- ${yamlScalar(v)}`];
    if (Array.isArray(v)) return [`${pad(n)}-`, ...yamlList(v, n + 2)];
    const lines = yamlMap(v as { readonly [k: string]: Y }, n + 2);
    return lines.length ? [`${pad(n)}- ${lines[0].trimStart()}`, ...lines.slice(1)] : [`${pad(n)}- {}`];
  });
}

/** A YAML document of top-level keys, each optionally preceded by comment lines. */
function yaml(entries: readonly { key: string; value: Y; comment?: string }[]): string {
  return entries.map(({ key, value, comment }) => (comment ? comment.split('\n').map((c) => (c ? `# ${c}\n` : '#\n')).join('') : '') + yamlMap({ [key]: value }, 0).join('\n')).join('\n') + '\n';
}

function py(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v); // 1e-05 and 0.0002 are Python floats as written
  if (typeof v === 'string') return JSON.stringify(v); // a JSON string is a valid Python literal
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}`;
  throw new Error(`py: ${typeof v}`);
}

// ---------------------------------------------------------------------------------------

type Plan = ScaleOutPlan;

function baseOf(model: string): { id: string; revision?: string; comment?: string } {
  if (model.startsWith('hf:')) {
    const [id, revision] = model.slice(3).split('@');
    return { id, revision };
  }
  if (model.startsWith('builtin:')) {
    const name = model.slice(8);
    return { id: `./${name}`, comment: `the run used webtune's built-in model ${name} (public/models/${name}, Hugging Face layout): copy that folder here or put a Hub id` };
  }
  return { id: model, comment: `the run used the local folder ${model}: put its path as seen from where this runs, or its Hub id` };
}

function plan(run: RunRecord, o: RecipeOptions): Plan {
  const c = run.methodConfig;
  const t = run.trainer;
  const lr = num(t.lr, 1e-3);
  const targetsOf = (v: unknown): string[] | 'all-linear' => {
    const l = list(v);
    if (l.includes('all-linear')) return 'all-linear';
    if (l.length) return l;
    return o.spec ? defaultTargets(o.spec) : ['q_proj', 'v_proj'];
  };
  const start = (d: string) => (o.startFrom === undefined ? d : o.startFrom);
  const lora = (p: Partial<Plan> = {}): Plan => ({
    kind: 'lora', rank: num(c.rank, 8), alpha: num(c.alpha, 16), targets: targetsOf(c.targets), rslora: bool(c.rslora), dora: bool(c.dora), lr, startFrom: start('adapter'), notes: [], ...p,
  });
  // Each method's own recipe (methods/<m>/recipe.ts).
  return getMethod(run.method).scaleOut({
    config: c, lr, lora, start, targetsOf, startFrom: o.startFrom,
    num: (k, d) => num(c[k], d),
    list: (k) => list(c[k]),
    approximate(why) {
      if (o.unsupported === 'error') throw new ConfigError(`continue at scale: ${why}`);
    },
  });
}

function schedulerName(schedule: string, warmup: number): string {
  if (schedule === 'cosine' || schedule === 'linear') return schedule;
  return warmup > 0 ? 'constant_with_warmup' : 'constant';
}

/** The recipe files for a run (see the header). `rows`: the run's dataset, parsed. */
export function continueAtScale(runInput: RunRecord | string, rows: readonly DatasetRow[], o: RecipeOptions = {}): Recipe {
  const run = typeof runInput === 'string' ? parseRunRecord(runInput) : runInput;
  if (!rows.length) throw new ConfigError('continue at scale: the dataset has no rows');
  const p = plan(run, o);
  const t = run.trainer;
  const steps = num(t.steps, 100);
  const warmup = num(t.warmup, 0);
  const schedule = String(t.schedule ?? 'constant');
  const sgd = t.optimizer === 'sgd';
  const momentum = num(t.momentum, 0);
  const accum = num(t.accum, 1);
  const evalFraction = o.evalFraction ?? 0.1;
  const evalEvery = num(t.evalEvery, 0);
  const trainOnPrompt = o.trainOnPrompt === true;
  const pack = o.pack === true;
  const quant = run.precision;
  const q4 = p.kind === 'lora' && (quant === 'q4' || quant === 'nf4' || run.method === 'qzo');
  const q8 = p.kind === 'lora' && quant === 'q8';
  const base = p.kind === 'full' && p.startFrom ? { id: p.startFrom, comment: `the run's trained weights (model.safetensors) with the base's config.json and tokenizer files copied beside them; the run's base was ${run.model}` } : baseOf(run.model);
  const outputDir = o.outputDir ?? 'outputs/continued';
  const notes = [...p.notes];
  if (quant !== 'f32' && p.kind === 'lora') notes.push(`webtune's ${quant} base blocks are not bitsandbytes' (${q4 ? `NF4/FP4, load_in_4bit` : 'LLM.int8, load_in_8bit'}): the adapter was trained against a slightly different quantization`);
  if (sgd && momentum > 0) notes.push(`SGD momentum ${momentum}: Axolotl's optimizer "sgd" (transformers' torch.optim.SGD) has no momentum setting; train_trl.py passes it`);
  const fanInFanOut = o.spec?.family === 'gpt2';

  // The dataset.
  const kinds = [...new Set(rows.map((r) => r.kind))];
  if (kinds.includes('chat') && kinds.length > 1) throw new ConfigError('continue at scale: the dataset mixes chat rows with text or prompt rows; TRL and Axolotl want one format per file (split the dataset)');
  const trlRow = (r: DatasetRow) => (r.kind === 'text' ? (kinds.length > 1 ? { prompt: '', completion: r.text } : { text: r.text }) : r.kind === 'prompt' ? { prompt: r.prompt, completion: r.completion } : { messages: r.messages });
  const files: RecipeFile[] = [{ name: 'dataset.jsonl', text: rows.map((r) => JSON.stringify(trlRow(r))).join('\n') + '\n' }];
  let axolotlData: Y;
  if (kinds[0] === 'chat') {
    axolotlData = [{ path: 'dataset.jsonl', ds_type: 'json', type: 'chat_template', field_messages: 'messages', message_property_mappings: { role: 'role', content: 'content' }, roles_to_train: trainOnPrompt ? ['system', 'user', 'assistant'] : ['assistant'], train_on_eos: 'turn' }];
  } else if (kinds.length === 1 && kinds[0] === 'text') {
    axolotlData = [{ path: 'dataset.jsonl', ds_type: 'json', type: 'completion', field: 'text' }];
  } else {
    const seg = (r: DatasetRow) => (r.kind === 'prompt' ? { segments: [{ label: trainOnPrompt, text: r.prompt }, { label: true, text: r.completion }] } : r.kind === 'text' ? { segments: [{ label: true, text: r.text }] } : {});
    files.push({ name: 'dataset.axolotl.jsonl', text: rows.map((r) => JSON.stringify(seg(r))).join('\n') + '\n' });
    axolotlData = [{ path: 'dataset.axolotl.jsonl', ds_type: 'json', type: 'input_output' }];
  }
  const header = [
    `Continue webtune run: ${run.method} on ${run.model}, data ${run.data || '(unnamed)'}, ${steps} steps of ${run.B}×${run.T} tokens (×${accum} accumulation), seed ${run.seed}.`,
    ...notes.map((n) => `NOTE: ${n}`),
  ];
  const lora = p.kind === 'lora';

  // Axolotl.
  const ax: { key: string; value: Y; comment?: string }[] = [
    { key: 'base_model', value: base.id, comment: [...header, '', ...(base.comment ? [base.comment] : [])].join('\n') },
  ];
  if (base.revision) ax.push({ key: 'revision_of_model', value: base.revision });
  if (lora) {
    ax.push({ key: 'load_in_4bit', value: q4 }, { key: 'load_in_8bit', value: q8 });
    ax.push({ key: 'adapter', value: q4 ? 'qlora' : 'lora', comment: q4 ? `webtune's base was ${quant}: QLoRA on a 4-bit base` : undefined });
    if (p.startFrom) ax.push({ key: 'lora_model_dir', value: p.startFrom, comment: 'the PEFT adapter webtune exported (adapter_model.safetensors + adapter_config.json): training continues from it' });
    ax.push({ key: 'lora_r', value: p.rank }, { key: 'lora_alpha', value: p.alpha }, { key: 'lora_dropout', value: 0 });
    if (p.targets === 'all-linear') ax.push({ key: 'lora_target_linear', value: true });
    else ax.push({ key: 'lora_target_modules', value: p.targets });
    if (fanInFanOut) ax.push({ key: 'lora_fan_in_fan_out', value: true });
    ax.push({ key: 'peft_use_rslora', value: p.rslora }, { key: 'peft_use_dora', value: p.dora });
  }
  ax.push(
    { key: 'datasets', value: axolotlData },
    ...(kinds[0] === 'chat' ? [{ key: 'chat_template', value: 'tokenizer_default', comment: "the base tokenizer's own template, as webtune used it (webtune falls back to 'role: content' lines when there is none)" }] : []),
    { key: 'train_on_inputs', value: trainOnPrompt },
    { key: 'val_set_size', value: evalFraction },
    { key: 'dataset_prepared_path', value: 'last_run_prepared' },
    { key: 'output_dir', value: outputDir },
    { key: 'sequence_len', value: run.T },
    { key: 'sample_packing', value: pack },
    { key: 'pad_to_sequence_len', value: pack },
    { key: 'micro_batch_size', value: run.B, comment: 'per GPU: with N GPUs the global batch is N × micro_batch_size × gradient_accumulation_steps' },
    { key: 'gradient_accumulation_steps', value: accum },
    { key: 'max_steps', value: steps },
    { key: 'num_epochs', value: 1, comment: 'max_steps takes precedence' },
    { key: 'optimizer', value: sgd ? 'sgd' : 'adamw_torch', comment: sgd && momentum > 0 ? `webtune's SGD had momentum ${momentum}: transformers' optim "sgd" builds torch.optim.SGD without it (optim_args is ignored for sgd);\nAxolotl has no setting for it, train_trl.py passes it (optimizer_cls_and_kwargs)` : undefined },

    ...(sgd ? [] : [{ key: 'adam_beta1', value: num(t.beta1, 0.9) }, { key: 'adam_beta2', value: num(t.beta2, 0.999) }]),
    { key: 'learning_rate', value: p.lr },
    { key: 'lr_scheduler', value: schedulerName(schedule, warmup) },
    { key: 'warmup_steps', value: warmup },
    { key: 'weight_decay', value: num(t.weightDecay, 0) },
    { key: 'max_grad_norm', value: num(t.maxGradNorm, 1), comment: '0 would mean no clipping, as in webtune' },
    ...(evalEvery > 0 ? [{ key: 'eval_steps', value: evalEvery }] : []),
    { key: 'logging_steps', value: 1 },
    { key: 'seed', value: run.seed },
    { key: 'bf16', value: 'auto' },
  );
  files.push({ name: 'axolotl.yaml', text: yaml(ax) });

  // TRL.
  const dataFormat = kinds[0] === 'chat' ? 'conversational ("messages")' : kinds.length === 1 && kinds[0] === 'text' ? 'language modelling ("text")' : 'prompt-completion';
  const S = (k: string, v: unknown, comment = '') => `${k} = ${py(v)}${comment ? `  # ${comment}` : ''}`;
  const script = `#!/usr/bin/env python3
"""${header.join('\n').replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"')}

Written by webtune. transformers + TRL (SFTTrainer, SFTConfig) + PEFT, same hyperparameters.

    pip install "transformers>=4.46" "trl>=0.20" "peft>=0.13" datasets accelerate${q4 || q8 ? ' bitsandbytes' : ''}
    python train_trl.py                  # one GPU
    accelerate launch train_trl.py       # every GPU of this machine (accelerate config for more)

With N GPUs the global batch is N x BATCH_SIZE x GRAD_ACCUM: divide GRAD_ACCUM by N to keep
the run's ${run.B * accum} sequences per step.
"""
import os

import torch
from datasets import load_dataset
from peft import LoraConfig, PeftModel, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer

${S('BASE_MODEL', base.id, base.comment ?? '')}
${S('REVISION', base.revision ?? null)}
${S('START_FROM', lora ? p.startFrom : null, lora ? 'the PEFT adapter webtune exported; None: a fresh adapter' : 'full fine-tune: BASE_MODEL is the exported model')}
${S('DATA_FILES', ['dataset.jsonl'], `TRL ${dataFormat} format`)}
${S('OUTPUT_DIR', outputDir)}
${S('LORA', lora)}
${S('LOAD_IN_4BIT', q4)}
${S('LOAD_IN_8BIT', q8)}
${S('LORA_R', p.rank)}
${S('LORA_ALPHA', p.alpha)}
${S('TARGET_MODULES', p.targets)}
${S('USE_RSLORA', p.rslora)}
${S('USE_DORA', p.dora)}
${S('FAN_IN_FAN_OUT', fanInFanOut)}
${S('LEARNING_RATE', p.lr)}
${S('LR_SCHEDULER', schedulerName(schedule, warmup))}
${S('WARMUP_STEPS', warmup)}
${S('MAX_STEPS', steps)}
${S('BATCH_SIZE', run.B, 'per GPU')}
${S('GRAD_ACCUM', accum)}
${S('SEQ_LEN', run.T)}
${S('OPTIMIZER', sgd ? 'sgd' : 'adamw_torch')}
${S('SGD_MOMENTUM', sgd ? momentum : 0, 'SGD only; passed through optimizer_cls_and_kwargs (transformers\' "sgd" has none)')}
${S('ADAM_BETA1', num(t.beta1, 0.9))}
${S('ADAM_BETA2', num(t.beta2, 0.999))}
${S('WEIGHT_DECAY', num(t.weightDecay, 0))}
${S('MAX_GRAD_NORM', num(t.maxGradNorm, 1), '0 = no clipping')}
${S('SEED', run.seed)}
${S('EVAL_FRACTION', evalFraction)}
${S('EVAL_STEPS', evalEvery || null, 'None: evaluate at the end only')}
${S('PACKING', pack)}
${S('TRAIN_ON_PROMPT', trainOnPrompt, 'False: loss on completions only, as webtune masks prompts')}


def main():
    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL, revision=REVISION)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    quant = None
    if LOAD_IN_4BIT:
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16)
    elif LOAD_IN_8BIT:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))} if quant is not None else None
    model = AutoModelForCausalLM.from_pretrained(
        BASE_MODEL, revision=REVISION, quantization_config=quant, device_map=device_map,
        torch_dtype=torch.bfloat16 if bf16 else torch.float32)
    peft_config = None
    if LORA:
        if quant is not None:
            model = prepare_model_for_kbit_training(model)
        if START_FROM and os.path.exists(os.path.join(START_FROM, "adapter_config.json")):
            model = PeftModel.from_pretrained(model, START_FROM, is_trainable=True)
        else:
            peft_config = LoraConfig(
                r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGET_MODULES,
                use_rslora=USE_RSLORA, use_dora=USE_DORA, fan_in_fan_out=FAN_IN_FAN_OUT,
                bias="none", task_type="CAUSAL_LM")

    data = load_dataset("json", data_files=DATA_FILES, split="train")
    train, held_out = data, None
    if EVAL_FRACTION > 0 and len(data) > 1:
        split = data.train_test_split(test_size=EVAL_FRACTION, seed=SEED)
        train, held_out = split["train"], split["test"]

    args = SFTConfig(
        output_dir=OUTPUT_DIR,
        max_steps=MAX_STEPS,
        learning_rate=LEARNING_RATE,
        lr_scheduler_type=LR_SCHEDULER,
        warmup_steps=WARMUP_STEPS,
        per_device_train_batch_size=BATCH_SIZE,
        per_device_eval_batch_size=BATCH_SIZE,
        gradient_accumulation_steps=GRAD_ACCUM,
        max_length=SEQ_LEN,
        packing=PACKING,
        optim=OPTIMIZER,
        adam_beta1=ADAM_BETA1,
        adam_beta2=ADAM_BETA2,
        weight_decay=WEIGHT_DECAY,
        max_grad_norm=MAX_GRAD_NORM,
        seed=SEED,
        data_seed=SEED,
        completion_only_loss=not TRAIN_ON_PROMPT,
        # Chat rows: webtune trains on assistant turns only; TRL's assistant_only_loss needs a
        # chat template with {% generation %} markers, so it is left off here.
        assistant_only_loss=False,
        eval_strategy="steps" if (held_out is not None and EVAL_STEPS) else "no",
        eval_steps=EVAL_STEPS,
        logging_steps=1,
        save_steps=MAX_STEPS,
        bf16=bf16,
        report_to="none",
    )
    custom_optimizer = None
    if OPTIMIZER == "sgd" and SGD_MOMENTUM > 0:
        custom_optimizer = (torch.optim.SGD, {"lr": LEARNING_RATE, "momentum": SGD_MOMENTUM})
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=held_out,
                         processing_class=tokenizer, peft_config=peft_config,
                         optimizer_cls_and_kwargs=custom_optimizer)
    trainer.train()
    if held_out is not None:
        print(trainer.evaluate())
    trainer.save_model(OUTPUT_DIR)


if __name__ == "__main__":
    main()
`;
  files.push({ name: 'train_trl.py', text: script });
  return { files, notes, kind: p.kind };
}
