"""Tiny random-weight model specs: every architecture and rope variant llmbed
supports, with odd sizes and GQA. Values are config.json fields as Hugging
Face writes them; `legacy_rope` rewrites the saved config in the transformers
4.x style (`rope_theta` + `rope_scaling`, which most published checkpoints
use) instead of 5.x's `rope_parameters`, so the loader sees both forms.

`save_as`: "causal_lm" saves XForCausalLM ("model." prefix, tied embeddings
dropped from the file unless untied), "base" saves XModel without a prefix
(as Qwen3-Embedding ships), "minicpm" writes MiniCPM's own config and weights
(transformers has no MiniCPM class)."""

SAFETENSORS_MODELS = [
    dict(name="llama-tiny", model_type="llama", save_as="causal_lm",
         config=dict(hidden_size=48, num_attention_heads=3, head_dim=16, num_key_value_heads=1,
                     intermediate_size=80, num_hidden_layers=3, vocab_size=211,
                     max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="default", rope_theta=10000.0))),
    # llama3: wavelengths 2*pi*500000^(i/6) = 6.3, 57, 516, ... against
    # original 64 / high 4 -> 16 and / low 1 -> 64: one pair of each branch.
    dict(name="llama3-rope", model_type="llama", save_as="causal_lm", legacy_rope=True,
         config=dict(hidden_size=36, num_attention_heads=3, head_dim=12, num_key_value_heads=3,
                     intermediate_size=56, num_hidden_layers=2, vocab_size=97,
                     max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0,
                                          low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=64))),
    # legacy key "type" (not "rope_type"), as in Llama-2-era checkpoints.
    dict(name="llama-linear", model_type="llama", save_as="causal_lm", legacy_rope=True,
         legacy_type_key=True,
         config=dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=48, num_hidden_layers=2, vocab_size=101,
                     max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="linear", rope_theta=10000.0, factor=2.0))),
    dict(name="mistral-tiny", model_type="mistral", save_as="causal_lm",
         config=dict(hidden_size=64, num_attention_heads=4, head_dim=16, num_key_value_heads=2,
                     intermediate_size=112, num_hidden_layers=2, vocab_size=150,
                     max_position_embeddings=1024, rms_norm_eps=1e-5, tie_word_embeddings=False,
                     sliding_window=None,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0))),
    # yarn: factor 4 over original 32 -> attention factor 0.1*ln(4)+1 on cos/sin.
    dict(name="qwen2-tiny", model_type="qwen2", save_as="causal_lm", legacy_rope=True,
         config=dict(hidden_size=56, num_attention_heads=7, num_key_value_heads=1,
                     intermediate_size=72, num_hidden_layers=2, vocab_size=173,
                     max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     use_sliding_window=False,
                     rope_parameters=dict(rope_type="yarn", rope_theta=100000.0, factor=4.0,
                                          original_max_position_embeddings=32))),
    # dynamic NTK: transformers grows the base once seq_len > max_position_embeddings
    # (64 here), so lengths 129 and 200 use a scaled base and 1..64 the plain one.
    dict(name="qwen3-tiny", model_type="qwen3", save_as="base",
         config=dict(hidden_size=40, num_attention_heads=4, head_dim=16, num_key_value_heads=2,
                     intermediate_size=72, num_hidden_layers=3, vocab_size=131,
                     max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="dynamic", rope_theta=10000.0, factor=2.0))),
    # openbmb/MiniCPM-2B-style config (model_type "minicpm", rope_scaling null).
    dict(name="minicpm-tiny", model_type="minicpm", save_as="minicpm",
         config=dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2,
                     intermediate_size=64, num_hidden_layers=3, vocab_size=122,
                     max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=True,
                     rope_theta=10000.0, scale_emb=12, scale_depth=1.4, dim_model_base=256)),
]

# GGUF models: every quantised row length (in_features) is a multiple of 32.
GGUF_MODELS = [
    dict(name="llama-gguf", model_type="llama", gguf_arch="llama",
         config=dict(hidden_size=64, num_attention_heads=4, head_dim=16, num_key_value_heads=2,
                     intermediate_size=96, num_hidden_layers=2, vocab_size=160,
                     max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="default", rope_theta=10000.0))),
    dict(name="qwen3-gguf", model_type="qwen3", gguf_arch="qwen3",
         config=dict(hidden_size=64, num_attention_heads=4, head_dim=32, num_key_value_heads=2,
                     intermediate_size=96, num_hidden_layers=2, vocab_size=144,
                     max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0))),
    dict(name="qwen2-gguf", model_type="qwen2", gguf_arch="qwen2",
         config=dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=96, num_hidden_layers=2, vocab_size=136,
                     max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     use_sliding_window=False,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0))),
]

SEQ_LENGTHS = [1, 2, 7, 31, 64, 129, 200]
GGUF_SEQ_LENGTHS = [1, 7, 64, 129]
INSTRUCTION_LEN = 3
EARLY_EXIT_LAYER = 1
