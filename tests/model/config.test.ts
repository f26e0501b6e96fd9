import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parameterCount, parseModelConfig } from '../../src/engine/model/config.ts';
import { itStories, storiesPath } from '../helpers/shared.ts';

describe('model config', () => {
  itStories('parses stories260K (Llama, GQA, tied) and counts its 260,032 parameters', () => {
    const s = parseModelConfig(readFileSync(storiesPath('config.json'), 'utf8'), 'stories260K/config.json');
    expect(s).toMatchObject({
      architecture: 'LlamaForCausalLM', family: 'llama', hidden: 64, intermediate: 172, layers: 5,
      heads: 8, kvHeads: 4, headDim: 8, vocab: 512, tieEmbeddings: true, qkvBias: false, activation: 'silu',
      rope: { theta: 10000, rotaryDim: 8, scaling: { type: 'default' } }, eosTokenIds: [2], bosTokenId: 1,
    });
    expect(parameterCount(s)).toBe(260032);
  });

  it('reads Qwen2 biases, llama3 rope scaling, GPT-2 fields', () => {
    const qwen = parseModelConfig({ architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
      num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true });
    expect(qwen).toMatchObject({ qkvBias: true, oBias: false, headDim: 64, rope: { theta: 1e6 } });
    expect(parameterCount(qwen)).toBe(494032768); // Qwen2.5-0.5B
    const l3 = parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
      num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256, rope_theta: 500000, tie_word_embeddings: true,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    expect(l3.rope?.scaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(parameterCount(l3)).toBe(1235814400); // Llama-3.2-1B
    const gpt2 = parseModelConfig({ architectures: ['GPT2LMHeadModel'], n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, vocab_size: 50257 });
    expect(gpt2).toMatchObject({ family: 'gpt2', intermediate: 3072, headDim: 64, activation: 'gelu_tanh', tieEmbeddings: true });
    expect(parameterCount(gpt2)).toBe(124439808); // gpt2 (small)
  });

  it('names the file, field and what was expected', () => {
    expect(() => parseModelConfig({ architectures: ['BertModel'] }, 'm/config.json')).toThrow(
      /m\/config\.json: architecture "BertModel" is not supported; webtune runs LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, GPT2LMHeadModel/,
    );
    expect(() => parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 1, num_hidden_layers: 1, num_attention_heads: 8, num_key_value_heads: 3, vocab_size: 10 }))
      .toThrow(/"num_key_value_heads" should be a divisor of num_attention_heads \(8\), found 3/);
    expect(() => parseModelConfig({ architectures: ['MistralForCausalLM'], hidden_size: 64, intermediate_size: 1, num_hidden_layers: 1, num_attention_heads: 8, vocab_size: 10, max_position_embeddings: 8192, sliding_window: 4096 }))
      .toThrow(/without a sliding window/);
    expect(() => parseModelConfig('{oops', 'x/config.json')).toThrow(/x\/config\.json is not valid JSON/);
  });
});
