/* llmbed: decoder-only LLMs as text embedders.
 *
 * The one public header. Conventions (see STYLE.md):
 *   - every fallible call returns an llmbed_status; LLMBED_OK is 0;
 *   - opaque handles with create/free pairs; free(NULL) is a no-op;
 *   - config structs carry struct_size and are filled by *_default() first;
 *   - outputs go into caller-owned buffers with explicit capacities;
 *   - the library never prints and never exits.
 *
 * Thread safety is stated on each function. "Any thread" means the call may
 * run concurrently with any other call on different handles; a handle is
 * never safe to use from two threads at once unless stated.
 */
#ifndef LLMBED_H
#define LLMBED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMBED_VERSION_MAJOR 0
#define LLMBED_VERSION_MINOR 1
#define LLMBED_VERSION_PATCH 0
#define LLMBED_VERSION_NUMBER \
    (LLMBED_VERSION_MAJOR * 10000 + LLMBED_VERSION_MINOR * 100 + LLMBED_VERSION_PATCH)
#define LLMBED_VERSION_STRING "0.1.0"

/* Version of the library actually linked (compare with LLMBED_VERSION_NUMBER). Any thread. */
unsigned llmbed_version_number(void);

/* Status codes: one X-macro list generates the enum and llmbed_status_str().
 * Each distinct failure a user can cause has its own code so scripts can tell
 * them apart (the CLI exits with the code's value). */
#define LLMBED_STATUS_LIST(X)                                                                 \
    X(LLMBED_OK, 0, "ok")                                                                     \
    X(LLMBED_ERR_INVALID_ARGUMENT, 1, "invalid argument")                                     \
    X(LLMBED_ERR_OUT_OF_MEMORY, 2, "out of memory")                                           \
    X(LLMBED_ERR_FILE_NOT_FOUND, 3, "file not found or unreadable")                           \
    X(LLMBED_ERR_FILE_TRUNCATED, 4, "file truncated")                                         \
    X(LLMBED_ERR_HEADER_TOO_LARGE, 5, "header length beyond the file or the size bound")      \
    X(LLMBED_ERR_TENSOR_OFFSET, 6, "tensor data offset out of range")                         \
    X(LLMBED_ERR_TENSOR_OVERLAP, 7, "tensor data ranges overlap")                             \
    X(LLMBED_ERR_TENSOR_DTYPE, 8, "unsupported or unexpected tensor dtype")                   \
    X(LLMBED_ERR_TENSOR_SHAPE, 9, "tensor shape does not match its byte length or config")    \
    X(LLMBED_ERR_MISSING_TENSOR, 10, "a tensor the architecture needs is missing")            \
    X(LLMBED_ERR_BAD_JSON, 11, "malformed JSON")                                              \
    X(LLMBED_ERR_BAD_CONFIG, 12, "model config missing a field or holding a bad value")       \
    X(LLMBED_ERR_UNKNOWN_ARCH, 13, "unknown model architecture")                              \
    X(LLMBED_ERR_UNKNOWN_ROPE, 14, "unknown rope scaling type")                               \
    X(LLMBED_ERR_GGUF_MAGIC, 15, "not a GGUF file (bad magic)")                               \
    X(LLMBED_ERR_GGUF_VERSION, 16, "unsupported GGUF version")                                \
    X(LLMBED_ERR_GGUF_TYPE, 17, "unsupported or invalid GGUF type")                           \
    X(LLMBED_ERR_TOKEN_OUT_OF_RANGE, 18, "token id outside the vocabulary")                   \
    X(LLMBED_ERR_EMPTY_SEQUENCE, 19, "empty sequence")                                        \
    X(LLMBED_ERR_LAYER_OUT_OF_RANGE, 20, "layer index out of range")                          \
    X(LLMBED_ERR_OUTPUT_WRITE, 21, "cannot write the output file")                            \
    X(LLMBED_ERR_BUFFER_TOO_SMALL, 22, "output buffer too small")                             \
    X(LLMBED_ERR_UNSUPPORTED, 23, "unsupported feature or shape")                             \
    X(LLMBED_ERR_NO_DEVICE, 24, "no usable GPU / CUDA driver")                                \
    X(LLMBED_ERR_CUDA, 25, "CUDA or cuBLAS call failed")                                      \
    X(LLMBED_ERR_TOKENIZER_MISSING, 26, "model has no tokenizer")                             \
    X(LLMBED_ERR_TOKENIZER_UNSUPPORTED, 27, "unsupported tokenizer type")                     \
    X(LLMBED_ERR_TOKENIZER_MALFORMED, 28, "malformed tokenizer definition")                   \
    X(LLMBED_ERR_INPUT_FORMAT, 29, "malformed input record")                                  \
    X(LLMBED_ERR_SEQUENCE_TOO_LONG, 30, "sequence longer than the limit")                     \
    X(LLMBED_ERR_INTERRUPTED, 31, "interrupted")                                              \
    X(LLMBED_ERR_IO, 32, "I/O error")                                                         \
    X(LLMBED_ERR_RESUME_MISMATCH, 33, "resume manifest does not match this job")              \
    X(LLMBED_ERR_INTERNAL, 34, "internal error")                                              \
    X(LLMBED_ERR_NON_FINITE, 35, "NaN or infinity in the weights or an output row")

typedef enum llmbed_status {
#define LLMBED_STATUS_ENUM_ENTRY(name, value, text) name = value,
    LLMBED_STATUS_LIST(LLMBED_STATUS_ENUM_ENTRY)
#undef LLMBED_STATUS_ENUM_ENTRY
} llmbed_status;

/* Static description of a status ("unknown status" for values not in the list). Any thread. */
const char *llmbed_status_str(llmbed_status status);

/* Caller-owned error report for calls that have no context yet (model loading,
 * context creation). Pass NULL when the message is not wanted. */
#define LLMBED_ERROR_MESSAGE_CAPACITY 512
typedef struct llmbed_error {
    llmbed_status status;
    char message[LLMBED_ERROR_MESSAGE_CAPACITY]; /* names the file/tensor/field at fault */
} llmbed_error;

typedef struct llmbed_model llmbed_model;
typedef struct llmbed_ctx llmbed_ctx;

/* ---------------------------------------------------------------- models */

/* How the model holds its weight matrices (projections and the token
 * embedding; norms and biases are always fp32) for the CPU backend. The
 * CUDA backend converts any of them to bf16 at upload. */
typedef enum llmbed_weights_mode {
    LLMBED_WEIGHTS_DEFAULT = 0, /* native; f32 when LoRA adapters are merged */
    LLMBED_WEIGHTS_F32,         /* fp32, the reference */
    LLMBED_WEIGHTS_BF16,        /* bf16, products accumulated in fp32 (rows within cosine 0.999 of f32) */
    LLMBED_WEIGHTS_NATIVE       /* as the file stores them (GGUF Q8_0/Q4_0/Q4_1 blocks, F16, BF16, F32),
                                   expanded per GEMM tile to the fp32 values: rows bit-identical to f32 */
} llmbed_weights_mode;

typedef struct llmbed_model_params {
    size_t struct_size; /* sizeof(llmbed_model_params) */
    int n_threads;      /* threads for dequantisation/conversion at load; 0 = all cores */
    int vocab_only;     /* 1: load config/metadata and tokenizer only, no weights */
    /* PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors)
     * merged into the base weights at load, in order (W += scale * B A, as
     * peft's merge_and_unload): LLM2Vec stacks its MNTP then its supervised
     * adapter. NULL / 0 = none. The strings are read during the call only. */
    const char *const *adapters;
    int n_adapters;
    /* Embedder family convention to use instead of the one detected from the
     * folder (llmbed_family_names lists them); NULL = detect. */
    const char *family;
    /* RoPE scaling instead of the config's, as if config.json said so:
     * "none", "linear:F", "dynamic:F", "yarn:F[:ORIG]" or "llama3:F[:ORIG]"
     * (ORIG = original_max_position_embeddings, default the model's
     * max_position_embeddings). For models trained short (LongEmbed's
     * comparison); NULL = the config's. Read during the call only. */
    const char *rope_scaling;
    /* Weight representation (see llmbed_weights_mode); LoRA adapters need f32. */
    llmbed_weights_mode weights;
} llmbed_model_params;

/* Any thread. */
void llmbed_model_params_default(llmbed_model_params *params);

/* Loads a model from a Hugging Face folder (config.json + *.safetensors,
 * sharded or not) or from a single .gguf file. Weights are validated
 * (offsets, shapes, dtypes) before use. `params` may be NULL for defaults.
 * Any thread; the returned model is immutable and may be shared by contexts
 * on any number of threads. */
llmbed_status llmbed_model_load(const char *path, const llmbed_model_params *params,
                                llmbed_model **out_model, llmbed_error *error);

/* Any thread, once no context uses the model. NULL is a no-op. */
void llmbed_model_free(llmbed_model *model);

typedef enum llmbed_pooling {
    LLMBED_POOLING_DEFAULT = 0, /* the model family's convention (SPEC §3) */
    LLMBED_POOLING_LAST,
    LLMBED_POOLING_MEAN,
    LLMBED_POOLING_FIRST,
    LLMBED_POOLING_WEIGHTED_MEAN, /* weights 1..n over pooled tokens, as SGPT */
    LLMBED_POOLING_NONE,          /* per-token hidden states, no pooling */
    LLMBED_POOLING_LATENT         /* NV-Embed: latent-attention block, then the masked mean */
} llmbed_pooling;

typedef enum llmbed_attention {
    LLMBED_ATTENTION_DEFAULT = 0, /* the model family's convention */
    LLMBED_ATTENTION_CAUSAL,
    LLMBED_ATTENTION_BIDIRECTIONAL
} llmbed_attention;

typedef struct llmbed_model_info {
    size_t struct_size;        /* sizeof(llmbed_model_info) */
    const char *architecture;  /* "llama", "mistral", "qwen2", "qwen3", "minicpm" */
    const char *source_format; /* "safetensors" or "gguf" */
    const char *weight_dtype;  /* dtype holding the most parameters: "F32", "BF16", "Q4_1", ... */
    int n_layers;
    int hidden_size;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int intermediate_size;
    int vocab_size;
    int max_positions;
    float rope_theta;
    const char *rope_scaling; /* "none", "linear", "dynamic", "yarn", "llama3" */
    float rms_norm_eps;
    int tie_word_embeddings;
    int64_t n_parameters;
    llmbed_pooling default_pooling;     /* from 1_Pooling/config.json or the family */
    llmbed_attention default_attention; /* from the family */
    int default_normalize;              /* 1 when the family's embeddings are L2-normalised */
    const char *family;        /* embedder convention: "nv-embed", "gte-qwen2", ..., "generic" */
    const char *family_reason; /* which file or field selected it */
    int appends_eos;           /* 1: llmbed_tokenize (add_special) appends eos_token_id when missing */
    int eos_token_id;          /* -1 when unknown */
    const char *query_format;  /* the family's query input format ("" when it has none) */
    int has_latent_pooling;    /* 1 for NV-Embed: LLMBED_POOLING_LATENT is available */
    const char *weights;       /* how the weights are held: "f32", "bf16" or "native" (llmbed_weights_mode) */
    int64_t weight_bytes;      /* bytes of weights held in host memory */
} llmbed_model_info;

/* The family names llmbed_model_params.family accepts, NULL-terminated. Any thread. */
const char *const *llmbed_family_names(void);

/* Fills `info` (set info->struct_size first). Strings live as long as the model. Any thread. */
llmbed_status llmbed_model_get_info(const llmbed_model *model, llmbed_model_info *info);

/* Scans every loaded weight for NaN or infinity: LLMBED_ERR_NON_FINITE naming
 * the first such tensor (as the model file names it) and element; O(weights).
 * LLMBED_ERR_INVALID_ARGUMENT for a vocabulary-only model. Any thread. */
llmbed_status llmbed_model_check_weights(const llmbed_model *model, llmbed_error *error);

/* -------------------------------------------------------------- contexts */

/* AUTO: the GPU cuda:device_index when it is usable (an NVIDIA driver, the
 * CUDA backend and its libraries are there, and the GPU takes the model),
 * else the CPU; llmbed_ctx_device_note then says why. */
typedef enum llmbed_device { LLMBED_DEVICE_CPU = 0, LLMBED_DEVICE_CUDA = 1, LLMBED_DEVICE_AUTO = 2 } llmbed_device;

/* Data parallel: at most this many engines (GPUs or CPU replicas) in one context. */
#define LLMBED_MAX_DEVICES 64
/* llmbed_ctx_params.n_devices: every GPU the driver lists ("cuda:all"). */
#define LLMBED_ALL_DEVICES (-1)

/* Data parallel (one context, several engines): a context over several GPUs
 * (n_devices) or several CPU replicas (replicas) holds one engine each, with
 * its own copy of the weights (uploaded once per GPU); llmbed_embed_texts,
 * llmbed_embed_ids, llmbed_embed_file and llmbed_stream_open feed them the
 * pipeline's longest-first token-budget batches, each engine taking the next
 * batch when it is free (so a slow one never idles the rest), and the rows
 * come out in input order, bit-identical to one engine on the CPU.
 * llmbed_embed, llmbed_embed_spans and llmbed_cache_document run on the
 * first engine. */
typedef struct llmbed_ctx_params {
    size_t struct_size;   /* sizeof(llmbed_ctx_params) */
    llmbed_device device; /* default AUTO */
    int device_index;     /* CUDA ordinal (when n_devices is 0) */
    int n_threads;        /* CPU threads; 0 = all cores */
    int64_t batch_tokens; /* max tokens per forward pass; 0 = llmbed_suggested_batch_tokens(model), the default
                           * `llmbed embed` uses too */
    /* Activation memory the context may grow to when a sequence is longer
     * than batch_tokens (weights not counted); 0 = no limit. A sequence that
     * would need more fails with LLMBED_ERR_OUT_OF_MEMORY and the context
     * stays usable. */
    int64_t memory_limit_bytes;
    /* CUDA (and AUTO) data parallel: 0 = the one GPU device_index; 1..LLMBED_MAX_DEVICES =
     * the distinct GPUs devices[0..n_devices), one engine each; LLMBED_ALL_DEVICES = every GPU. */
    int n_devices;
    int devices[LLMBED_MAX_DEVICES];
    /* CPU data parallel: engines over disjoint sets of the n_threads threads
     * (n_threads / replicas each, the remainder to the first); 0 = 1. At most
     * n_threads (all cores when 0) and LLMBED_MAX_DEVICES. */
    int replicas;
} llmbed_ctx_params;

/* Any thread. */
void llmbed_ctx_params_default(llmbed_ctx_params *params);

/* Creates a context (scratch memory sized from batch_tokens) over `model`.
 * Any thread; one context per thread. */
llmbed_status llmbed_ctx_create(const llmbed_model *model, const llmbed_ctx_params *params,
                                llmbed_ctx **out_ctx, llmbed_error *error);

/* NULL is a no-op. Same thread as the context's users. */
void llmbed_ctx_free(llmbed_ctx *ctx);

/* The device the context runs on (CPU or CUDA, never AUTO); *device_index
 * (when not NULL) receives the CUDA ordinal of its first engine, 0 on the
 * CPU. Any thread. */
llmbed_device llmbed_ctx_device(const llmbed_ctx *ctx, int *device_index);

/* Engines of the context (data parallel workers: GPUs or CPU replicas); 1
 * without data parallel, 0 for NULL. Any thread. */
int llmbed_ctx_workers(const llmbed_ctx *ctx);

/* One line saying why a context asked for LLMBED_DEVICE_AUTO runs on the CPU
 * (the reason no GPU was usable), for the caller to show; "" otherwise. The
 * library prints nothing itself. Lives as long as the context. Any thread. */
const char *llmbed_ctx_device_note(const llmbed_ctx *ctx);

/* The context's token budget per forward pass (batch_tokens, or the default
 * it resolved to). Any thread. */
int64_t llmbed_ctx_batch_tokens(const llmbed_ctx *ctx);

/* Message of the last failed call on this context ("" when none). Valid until
 * the next call on the context. Same thread as the context's users. */
const char *llmbed_last_error(const llmbed_ctx *ctx);

/* ------------------------------------------------------------- embedding */

/* A packed batch of pre-tokenised sequences: sequence i is
 * tokens[offsets[i] .. offsets[i+1]). No padding. */
typedef struct llmbed_batch {
    const int32_t *tokens;
    const int64_t *offsets;           /* n_sequences + 1 entries, offsets[0] == 0 */
    int n_sequences;
    const int32_t *instruction_lens; /* per sequence: leading tokens excluded from the pool; NULL = none */
    /* Per sequence: pooling covers tokens [instruction_len, pool_end) of the
     * sequence (a template's text span); pool_end in [instruction_len, length];
     * NULL = to the end. Zero-initialise the struct so callers written before
     * this field existed get NULL. */
    const int32_t *pool_ends;
} llmbed_batch;

typedef struct llmbed_embed_params {
    size_t struct_size; /* sizeof(llmbed_embed_params) */
    llmbed_pooling pooling;
    llmbed_attention attention;
    int normalize; /* -1 = family default, 0 = raw, 1 = L2-normalise */
    int dims;      /* Matryoshka: keep the first `dims` values then re-normalise; 0 = all */
    int layer;     /* early exit after this many decoder layers (then the final norm); 0 = all */
    /* Long inputs (SPEC §5), causal attention only. A sequence longer than
     * chunk_tokens is processed in chunks of that many tokens over a
     * key/value cache; 0 = only sequences longer than the context's
     * batch_tokens are chunked (in chunks of batch_tokens). */
    int chunk_tokens;
    /* ThinK: the fraction of key channels pruned from cached keys older than
     * the recent window, in [0, 1); 0 = off (every channel kept). Applies to
     * chunked sequences. */
    float think_ratio;
    float attention_temperature; /* TempScale: every attention softmax uses logits / T; 1 (default) =
                                    plain attention; must be finite and > 0 */
    /* 1: every sequence continues the document of llmbed_cache_document
     * (suffix mode): it attends to the document's cached keys and values and
     * is pooled over its own tokens only. */
    int continue_document;
    /* Drop the first N tokens of every sequence from the pool, on top of
     * instruction_lens (NV-Embed's pool mask). A sequence of N or fewer
     * tokens fails with LLMBED_ERR_INVALID_ARGUMENT (it would pool nothing). */
    int mask_prefix_tokens;
} llmbed_embed_params;

/* Any thread. */
void llmbed_embed_params_default(llmbed_embed_params *params);

/* Width of one output row for these params (hidden size, or dims). Any thread. */
int llmbed_embed_dims(const llmbed_model *model, const llmbed_embed_params *params);

/* Embeds every sequence of `batch` into out[n_sequences, dims] (row-major,
 * float32). Batches larger than the context's token budget are split
 * internally. With LLMBED_POOLING_NONE, out receives the final-norm hidden
 * states [total_tokens, hidden] instead (no normalisation or truncation).
 * `out_capacity` counts floats. Same thread as the context's users. */
llmbed_status llmbed_embed(llmbed_ctx *ctx, const llmbed_batch *batch,
                           const llmbed_embed_params *params, float *out, size_t out_capacity);

/* Late chunking (Günther et al. 2024): one forward over the whole sequence
 * tokens[0, n_tokens) (causal ones longer than chunk_tokens, or else than
 * batch_tokens, in chunks over the key/value cache, ThinK per think_ratio),
 * then span i, the tokens [spans[2i], spans[2i + 1]), pooled (params->
 * pooling, not NONE) and post-processed into out row i: out[n_spans, dims].
 * Spans are token positions (BOS included where the tokenizer adds one),
 * non-empty, in order and disjoint; else LLMBED_ERR_INVALID_ARGUMENT naming
 * the span. `out_capacity` counts floats. Same thread as the context's users. */
llmbed_status llmbed_embed_spans(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens, const int32_t *spans,
                                 int n_spans, const llmbed_embed_params *params, float *out, size_t out_capacity);

/* Bytes of key/value cache (all layers, keys, values and ThinK's channel
 * indices) that one sequence of n_tokens needs on this context's device in
 * chunks of chunk_tokens with ThinK think_ratio; 0 when the backend keeps
 * no cache, -1 for arguments out of range. For memory planning and
 * `llmbed bench --long`. Same thread as the context's users. */
int64_t llmbed_kv_cache_bytes(const llmbed_ctx *ctx, int64_t n_tokens, int chunk_tokens, float think_ratio);

/* Suffix mode for retrieval experiments: encodes one long document (causal
 * attention; in chunks of params->chunk_tokens or batch_tokens, ThinK per
 * params->think_ratio) into the context's key/value cache, where it stays
 * until the next call of this function or a chunked embedding replaces it.
 * Then llmbed_embed with params->continue_document = 1 embeds each sequence
 * as the document followed by that sequence, at the cost of the sequence
 * alone. tokens are the document's ids as the model sees them (BOS
 * included where the tokenizer adds one). With dynamic NTK RoPE, once
 * document + sequence passes the original context, the document's cached
 * keys keep the frequencies of its own length while re-encoding would use
 * the longer one: rows then differ from re-encoding (1 - cosine 0.034, max
 * |diff| 0.10 of normalised rows for a 300-token document past 256
 * positions, tests/cpu/test_chunked.cpp); within the original context, and
 * with every other RoPE type, they match it to fp32 rounding. Same thread as
 * the context's users. */
llmbed_status llmbed_cache_document(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens,
                                    const llmbed_embed_params *params);

/* ------------------------------------------------------------- tokenizer */

typedef struct llmbed_tokenize_params {
    size_t struct_size; /* sizeof(llmbed_tokenize_params) */
    int add_special;    /* 1 (default): BOS/EOS per the tokenizer's post-processor and the family rule */
    int parse_special;  /* 1 (default): special-token text in the input maps to its id, as HF */
} llmbed_tokenize_params;

/* Any thread. */
void llmbed_tokenize_params_default(llmbed_tokenize_params *params);

/* Encodes UTF-8 text into out_ids[capacity]; *n_ids receives the count (also
 * when the buffer is too small: then LLMBED_ERR_BUFFER_TOO_SMALL).
 * Invalid UTF-8 is replaced by U+FFFD as Hugging Face tokenizers do;
 * *n_invalid (may be NULL) counts the replaced sequences.
 * LLMBED_ERR_TOKENIZER_MISSING when the model has no tokenizer.
 * Any thread, concurrently on one model. */
llmbed_status llmbed_tokenize(const llmbed_model *model, const char *text, size_t text_len,
                              const llmbed_tokenize_params *params, int32_t *out_ids,
                              size_t capacity, size_t *n_ids, size_t *n_invalid,
                              llmbed_error *error);

/* llmbed_tokenize that also says where each id comes from: out_offsets[2i]
 * and out_offsets[2i + 1] are the byte range [start, end) of `text` that id
 * i stands for (out_offsets holds 2 * capacity values). Offsets point into
 * the text as given, through UTF-8 repair, normalisation (NFC, ...) and
 * pre-tokenisation; a token that holds part of a multi-byte character covers
 * those bytes only; special tokens the tokenizer adds get [0, 0). Same
 * buffer rules as llmbed_tokenize. Any thread, concurrently on one model. */
llmbed_status llmbed_tokenize_offsets(const llmbed_model *model, const char *text, size_t text_len,
                                      const llmbed_tokenize_params *params, int32_t *out_ids,
                                      int64_t *out_offsets, size_t capacity, size_t *n_ids,
                                      size_t *n_invalid, llmbed_error *error);

/* Decodes ids back to UTF-8 (for debugging) into out[capacity] with a NUL;
 * *n_bytes receives the length without the NUL. Any thread. */
llmbed_status llmbed_detokenize(const llmbed_model *model, const int32_t *ids, size_t n_ids,
                                char *out, size_t capacity, size_t *n_bytes, llmbed_error *error);

/* ------------------------------------------------ templates and methods */

/* Which tokens of a templated text are pooled. */
typedef enum llmbed_pool_span {
    LLMBED_POOL_SPAN_DEFAULT = -1, /* llmbed_text_params only: the method's span, else ALL */
    LLMBED_POOL_SPAN_ALL = 0,   /* every token of the templated string */
    LLMBED_POOL_SPAN_TEXT,      /* the tokens of the (first) copy of the text */
    LLMBED_POOL_SPAN_LAST_TEXT  /* the tokens of the last copy of the text (echo embeddings) */
} llmbed_pool_span;

/* A template is literal text with one or more `{text}` placeholders (`{{`
 * and `}}` are literal braces). The whole templated string is tokenised at
 * once; a token belongs to a copy of the text when its character range in
 * the templated string overlaps the copy's (tokenizer offsets, see
 * llmbed_tokenize_offsets); special tokens the tokenizer adds never do. */
typedef struct llmbed_template_params {
    size_t struct_size;        /* sizeof(llmbed_template_params) */
    const char *template_text; /* NULL = "{text}": the text alone */
    llmbed_pool_span pool_span;
    int add_special;           /* 1 (default): the tokenizer's own BOS/EOS, as llmbed_tokenize */
    int parse_special;         /* 1 (default) */
    size_t max_tokens;         /* 0 (default) = no limit; else cut tokens from the end (specials kept) */
} llmbed_template_params;

/* Any thread. */
void llmbed_template_params_default(llmbed_template_params *params);

/* Checks a template: LLMBED_ERR_INVALID_ARGUMENT naming the byte position of
 * an unmatched brace or unknown placeholder, or a template without {text}.
 * Any thread. */
llmbed_status llmbed_template_check(const char *template_text, llmbed_error *error);

/* Renders the template around text[0..text_len), tokenises the result into
 * out_ids[capacity] (*n_ids as llmbed_tokenize) and returns the pooled
 * token range [*pool_begin, *pool_end) for params->pool_span; pass them to
 * llmbed_embed as batch.instruction_lens / batch.pool_ends. *truncated (may be
 * NULL) is set when max_tokens cut tokens. LLMBED_ERR_EMPTY_SEQUENCE when the
 * span holds no token (an empty text), LLMBED_ERR_SEQUENCE_TOO_LONG when
 * truncation removed it. Any thread, concurrently on one model. */
llmbed_status llmbed_tokenize_template(const llmbed_model *model, const char *text, size_t text_len,
                                       const llmbed_template_params *params, int32_t *out_ids,
                                       size_t capacity, size_t *n_ids, int32_t *pool_begin,
                                       int32_t *pool_end, int *truncated, llmbed_error *error);

/* Embedding methods from the literature, each a template + span + pooling
 * (and for TempScale an attention temperature the caller chooses). Early
 * exit is llmbed_embed_params.layer and combines with any of them. */
typedef struct llmbed_method {
    const char *name;          /* "mean", "last", "echo", "prompteol", "tempscale" */
    const char *template_text; /* NULL: the text alone */
    llmbed_pool_span pool_span;
    llmbed_pooling pooling;
    int needs_attention_temperature; /* 1: set llmbed_embed_params.attention_temperature */
    const char *summary;       /* one line: what it does and where it comes from */
} llmbed_method;

/* The method called `name`, NULL when there is none. Any thread. */
const llmbed_method *llmbed_method_find(const char *name);
/* Methods by index 0, 1, ...; NULL past the last. Any thread. */
const llmbed_method *llmbed_method_at(int index);

/* ------------------------------------------ bindings and high-level calls
 * (issue 13: what the Python package needs so that it never re-implements
 * defaults, tokenisation, prompts or output conversion) */

/* Enum name of a status ("LLMBED_ERR_INVALID_ARGUMENT"), NULL for a value
 * not in the list; bindings map it to exception names. Any thread. */
const char *llmbed_status_name(llmbed_status status);

/* The OPENBLAS_CORETYPE value ("SkylakeX", "Haswell") a process should set
 * before it loads this library when the OpenBLAS it links fell back to its
 * generic kernels on a CPU it does not recognise (README, troubleshooting);
 * NULL when OpenBLAS's own choice stands. OpenBLAS reads the variable only
 * when it is loaded, so a binding asks in a helper process. Any thread. */
const char *llmbed_blas_coretype_hint(void);

/* Element type of stored embeddings (SPEC §4; as `llmbed embed --dtype`). */
typedef enum llmbed_precision {
    LLMBED_PRECISION_FLOAT32 = 0,
    LLMBED_PRECISION_FLOAT16, /* IEEE binary16, round to nearest even (numpy astype) */
    LLMBED_PRECISION_INT8,    /* per row: scale = max|x| / 127, q = round(x / scale) */
    LLMBED_PRECISION_UBINARY  /* sign bits x > 0 packed 8 per byte, MSB first (np.packbits) */
} llmbed_precision;

/* Bytes of one stored row of `dims` values (ubinary: ceil(dims / 8)); 0 for
 * an unknown precision or dims <= 0. Any thread. */
size_t llmbed_precision_row_bytes(llmbed_precision precision, int dims);

/* Converts rows[n_rows, dims] (float32) into out (n_rows rows of
 * llmbed_precision_row_bytes bytes; out_bytes is its capacity). For int8,
 * scales[n_rows] receives each row's scale (x ~= q * scale) and is required;
 * otherwise scales may be NULL (else it is filled with 1). Any thread. */
llmbed_status llmbed_quantize_rows(llmbed_precision precision, const float *rows, size_t n_rows, int dims,
                                   void *out, size_t out_bytes, float *scales, llmbed_error *error);

/* Names of enum values as the CLI spells them ("weighted-mean",
 * "bidirectional", "ubinary", "last-text", "cuda"), NULL for a value not in
 * the enum: bindings build their tables from these instead of copying the
 * numbers (iterate from -1 while below 64). Any thread. */
const char *llmbed_pooling_name(llmbed_pooling pooling);
const char *llmbed_attention_name(llmbed_attention attention);
const char *llmbed_precision_name(llmbed_precision precision);
const char *llmbed_pool_span_name(llmbed_pool_span span);
const char *llmbed_device_name(llmbed_device device);

/* "auto", "cpu", "cuda", "cuda:N", "cuda:all" or a list "cuda:0,2,3" (distinct
 * ordinals, at most LLMBED_MAX_DEVICES) -> params->device, device_index (the
 * first ordinal), n_devices and devices (0 for a single device,
 * LLMBED_ALL_DEVICES for "all"); the other fields are left alone.
 * INVALID_ARGUMENT otherwise (params unchanged). Any thread. */
llmbed_status llmbed_device_parse(const char *text, llmbed_ctx_params *params);

/* Checks `params` (NULL = defaults) against the model and writes them with
 * every DEFAULT / -1 replaced by what llmbed_embed will use (the family's
 * pooling, attention and normalisation); *dims receives the row width.
 * Errors name the field: INVALID_ARGUMENT (struct_size, enums, dims above
 * the hidden size), LAYER_OUT_OF_RANGE. Any thread. */
llmbed_status llmbed_embed_params_resolve(const llmbed_model *model, const llmbed_embed_params *params,
                                          llmbed_embed_params *resolved, int *dims, llmbed_error *error);

/* The token budget `llmbed embed` uses when --batch-tokens is not given
 * (from the model's size and the memory available now, 1024..16384); pass
 * it as llmbed_ctx_params.batch_tokens to batch as the CLI does. Any thread. */
int64_t llmbed_suggested_batch_tokens(const llmbed_model *model);

/* Named prompts of a sentence-transformers folder
 * (config_sentence_transformers.json "prompts"; a .gguf file has none).
 * llmbed_model_prompt copies the prompt `name` with a NUL into out[capacity]
 * (*n_bytes: its length without the NUL, also when the buffer is too small:
 * then BUFFER_TOO_SMALL); INVALID_ARGUMENT naming the prompts there are when
 * the model has no such prompt; BAD_JSON for a malformed file.
 * llmbed_model_prompt_names writes the names, each followed by '\n', the same
 * way ("" when none). Any thread. */
llmbed_status llmbed_model_prompt(const llmbed_model *model, const char *name, char *out, size_t capacity,
                                  size_t *n_bytes, llmbed_error *error);
llmbed_status llmbed_model_prompt_names(const llmbed_model *model, char *out, size_t capacity, size_t *n_bytes,
                                        llmbed_error *error);

typedef struct llmbed_text_stats {
    int64_t tokens;    /* tokens embedded */
    int64_t truncated; /* texts cut to max_tokens */
    int64_t batches;   /* forward batches */
    int64_t rows;      /* rows produced (one per input; late chunking: one per span) */
    int64_t document_tokens; /* suffix mode: tokens of the cached document */
    int64_t inputs;    /* inputs embedded so far */
    double seconds;    /* since the call began */
} llmbed_text_stats;

/* Rows handed to a row callback (llmbed_text_params.on_rows), in input
 * order: the rows of one window of inputs at a time. */
typedef struct llmbed_row_batch {
    int n_rows;
    const int64_t *inputs;  /* [n_rows] 0-based index of the input each row comes from */
    const int32_t *spans;   /* [2 * n_rows] late chunking: the row's token span [begin, end); else NULL */
    const void *rows;       /* n_rows rows of llmbed_precision_row_bytes(precision, dims) bytes */
    const float *scales;    /* [n_rows] int8 scales (x ~= q * scale); ones for the other precisions */
    int dims;
} llmbed_row_batch;

/* A row sink: return LLMBED_OK to go on; any other status stops the call,
 * which returns it. Called on the calling thread of the embedding call. */
typedef llmbed_status (*llmbed_row_callback)(void *user, const llmbed_row_batch *rows);

/* How texts become token sequences, exactly as `llmbed embed` does it. The
 * same struct drives llmbed_embed_texts, llmbed_embed_ids and
 * llmbed_embed_file; every field that changes a row is part of a sharded
 * job's resume identity. */
typedef struct llmbed_text_params {
    size_t struct_size;         /* sizeof(llmbed_text_params) */
    const char *prompt;         /* prepended to every text before tokenising (sentence-transformers); NULL = none */
    int exclude_prompt;         /* -1 (default): the family's rule (NV-Embed, LLM2Vec and GritLM keep the
                                 * instruction out of the pool), else the folder's 1_Pooling/config.json
                                 * include_prompt (false: excluded); 0: pool over the prompt; 1: exclude it */
    int64_t max_tokens;         /* longest sequence; 0 (default): the model's max_positions; -1: no limit */
    int truncate;               /* 1 (default): cut longer texts keeping the special tokens, as HF tokenizers;
                                 * 0: LLMBED_ERR_SEQUENCE_TOO_LONG naming the text */
    llmbed_precision precision; /* element type of the output rows (default float32) */
    /* Templates and methods (`--template`, `--pool-span`, `--method`): */
    const char *template_text;  /* text around {text}, tokenised whole (llmbed_tokenize_template); NULL = none,
                                 * or the method's */
    llmbed_pool_span pool_span; /* LLMBED_POOL_SPAN_DEFAULT (default): the method's, else ALL */
    const char *method;         /* a name of llmbed_method_find: its template, span and pooling where those are
                                 * left default (tempscale needs attention_temperature); NULL = none */
    /* Suffix mode (`--document`): document[0..document_len) is encoded once
     * into the context's cache (causal attention; chunks and ThinK per the
     * embed params) and every input is embedded as its continuation, pooled
     * over its own tokens only. NULL = off. */
    const char *document;
    size_t document_len;
    /* Late chunking (`--late-chunking`): 0 (default) = off; N > 0: one
     * forward per input, one row per span of N tokens; -1: the spans given
     * per input (`spans`; llmbed_embed_file: the JSONL "spans" field). The
     * number of rows depends on the inputs, so they go to on_rows. */
    int late_chunking;
    const int32_t *const *spans; /* -1 with in-memory inputs: spans[i] holds n_spans[i] pairs [begin, end) */
    const int *n_spans;
    /* NULL (default): rows go to the call's `out`; else each window's rows go here instead. */
    llmbed_row_callback on_rows;
    void *user;               /* passed to on_rows and on_progress */
    /* After every forward batch of llmbed_embed_texts / llmbed_embed_ids
     * (progress bars, batch timing); NULL = none. On the calling thread. */
    void (*on_progress)(void *user, const llmbed_text_stats *stats);
} llmbed_text_params;

/* Any thread. */
void llmbed_text_params_default(llmbed_text_params *params);

/* Tokens of `prompt` that llmbed_embed_texts leaves out of the pool when the
 * prompt is excluded: the special tokens before the text plus the prompt's
 * own tokens (sentence-transformers' prompt_length without a trailing EOS).
 * Any thread. */
llmbed_status llmbed_prompt_length(const llmbed_model *model, const char *prompt, int32_t *length,
                                   llmbed_error *error);

/* The tokens at the front of tokenize(prompt + text) that llmbed_embed_texts
 * keeps out of the pool for this prompt, by the job spec's rule:
 * exclude_prompt -1 = the family's (NV-Embed, LLM2Vec and GritLM mask the
 * instruction; NV-Embed counts it without BOS), else the folder's
 * 1_Pooling include_prompt; 0 = pooled (length 0); 1 = excluded. For
 * callers that pack their own batches (llmbed_batch.instruction_lens).
 * Any thread. */
llmbed_status llmbed_prompt_pool_length(const llmbed_model *model, const char *prompt, int exclude_prompt,
                                        int32_t *length, llmbed_error *error);



/* Embeds texts[i] (UTF-8, lengths[i] bytes, need not be NUL-terminated)
 * into row i of out (n_texts rows of llmbed_precision_row_bytes(precision,
 * dims) bytes, dims from llmbed_embed_params_resolve; out_bytes is its
 * capacity); int8 fills scales[n_texts] (required then; may be NULL
 * otherwise). With text_params->on_rows, rows go there instead (out, scales
 * and out_bytes unused): required for late chunking. The texts go through
 * the `llmbed embed` pipeline: windows of 4096 texts (or 16 MiB), each
 * tokenised on the context's threads (prompt, template, the family's EOS,
 * truncation), ordered by length and cut into batches under the context's
 * token budget, so rows equal `llmbed embed`'s for the same lines, bit for
 * bit. Text params NULL = defaults. Pooling NONE is UNSUPPORTED here. Errors
 * name the text's index; message in llmbed_last_error(ctx). `stats` may be
 * NULL. Same thread as the context's users. */
llmbed_status llmbed_embed_texts(llmbed_ctx *ctx, const char *const *texts, const size_t *lengths, int n_texts,
                                 const llmbed_text_params *text_params, const llmbed_embed_params *params,
                                 void *out, size_t out_bytes, float *scales, llmbed_text_stats *stats);

/* llmbed_embed_texts for pre-tokenised inputs: sequence i is ids[i][0 ..
 * lengths[i]) (as `{"input_ids": [...]}` lines of `llmbed embed`: no
 * tokenizer, no prompt or template, embedded as given; longer than
 * max_tokens keeps the head with truncate, else SEQUENCE_TOO_LONG). Same
 * batching, rows, buffers and errors. Same thread as the context's users. */
llmbed_status llmbed_embed_ids(llmbed_ctx *ctx, const int32_t *const *ids, const size_t *lengths, int n_sequences,
                               const llmbed_text_params *text_params, const llmbed_embed_params *params, void *out,
                               size_t out_bytes, float *scales, llmbed_text_stats *stats);

typedef struct llmbed_file_stats {
    int64_t sequences, tokens, truncated, skipped, batches; /* by this run */
    int64_t resumed_rows;  /* rows committed by earlier runs (resume) */
    int64_t rows_total;    /* rows in the output when the job ended */
    int64_t shards;        /* shards committed in total */
    int64_t input_offset;  /* input bytes consumed */
    int64_t input_bytes;   /* input size, -1 when unknown (a pipe) */
    double seconds;        /* wall time of this run */
    int already_complete;  /* resume found a finished job */
    int64_t invalid_utf8;  /* lines of this run with invalid UTF-8 (embedded with U+FFFD) */
    int64_t document_tokens; /* suffix mode: tokens of the cached document */
} llmbed_file_stats;

/* The Arrow C stream interface (arrow.apache.org/docs/format/CStreamInterface.html),
 * defined by Arrow's abi.h; pyarrow exports one with RecordBatchReader._export_to_c. */
struct ArrowArrayStream;

/* A batch embedding job over a file of lines: the `llmbed embed` job
 * (streaming windows, token-budget batches, tokenisation on worker threads,
 * atomic output, shards + manifest, resume). Every text param applies:
 * templates, suffix mode, late chunking (one row per span, and a row index
 * "<output stem>.rows.jsonl" naming each row's line and span). */
typedef struct llmbed_file_params {
    size_t struct_size;          /* sizeof(llmbed_file_params) */
    const char *input_path;      /* text or JSONL lines (`llmbed embed --help`); "-" = stdin; a FIFO works */
    const char *input_identity;  /* what the manifest records for the input; NULL = its real path and size
                                  * (a binding that streams another format through a FIFO names that file) */
    const char *text_field;      /* NULL = "text" */
    const char *id_field;        /* NULL = none (jsonl output only) */
    const char *output_path;
    const char *format;          /* "npy", "safetensors", "jsonl"; NULL = from the extension */
    llmbed_text_params text;     /* prompt, truncation, precision (fill with llmbed_text_params_default) */
    int skip_invalid;            /* 1: count and skip bad lines */
    int64_t shard_rows;          /* 0 = one output file */
    int resume;                  /* continue a sharded job from its manifest */
    int tokenize_threads;        /* 0 = 1 */
    int window_lines;            /* 0 = 4096 */
    const volatile int *stop;    /* non-zero: stop at the next batch (LLMBED_ERR_INTERRUPTED); may be NULL */
    void (*on_progress)(void *user, const llmbed_file_stats *stats); /* after every batch; may be NULL */
    void *user;
    int strict_utf8;             /* 1: a line with invalid UTF-8 is rejected (default: replaced by U+FFFD, counted) */
    void (*on_skip)(void *user, const char *message); /* per line skipped by skip_invalid; may be NULL */
    /* Records from an Arrow stream of record batches instead of input_path
     * (Parquet through pyarrow, no text conversion): text_field names a
     * utf8 or large_utf8 column (a null is a bad record), id_field an
     * optional id column (string or integer); input_path names the data in
     * messages ("<input_path>:<row>") and input_identity (required) in the
     * manifest. A resumed job re-reads the stream from its start and checks
     * the records before the manifest's position by their CRC-32. The
     * library calls the stream's callbacks on the calling thread and a
     * reader thread, never two at once, and releases it before returning. */
    struct ArrowArrayStream *arrow_input;
} llmbed_file_params;

/* Any thread. */
void llmbed_file_params_default(llmbed_file_params *params);

/* Runs the job on the context. LLMBED_ERR_INTERRUPTED after *stop (committed
 * shards stay); other failures name the file and line (llmbed_last_error).
 * No partial single output file is ever left. `stats` may be NULL. Same
 * thread as the context's users. */
llmbed_status llmbed_embed_file(llmbed_ctx *ctx, const llmbed_file_params *file, const llmbed_embed_params *params,
                                llmbed_file_stats *stats);

/* ------------------------------------------ streaming inputs (servers)
 *
 * Dynamic batching for inputs that arrive over time from many clients (the
 * HTTP server's source and sink): each input carries an opaque tag, is
 * tokenised off the caller's thread by the job spec of the stream (as a line
 * of `llmbed embed` with the same text and embed params), waits in a queue,
 * and runs in a token-budget batch formed from what is queued, longest
 * first, as soon as the queued tokens fill the budget or the oldest input
 * has waited max_wait_us. Its row (or its error) goes to the stream's
 * callback with the tag. With several contexts (one per GPU or CPU replica)
 * each runs batches from the one queue. A row depends on its batch only in
 * the last bits (SPEC field notes). */
typedef struct llmbed_stream llmbed_stream;

typedef struct llmbed_stream_params {
    size_t struct_size;   /* sizeof(llmbed_stream_params) */
    int64_t max_wait_us;  /* longest wait of a queued input for its batch to fill (default 2000) */
    int tokenize_threads; /* threads tokenising submitted inputs (default 1) */
    /* Asked (with the stream's user and an input's tag) before the input is
     * tokenised and again before its batch runs, from a stream thread: non-zero
     * drops it (its callback comes with LLMBED_ERR_INTERRUPTED and no row), so
     * a server stops spending on a client that left. NULL (default) = never. */
    int (*is_cancelled)(void *user, void *tag);
    /* After every forward batch, from the worker that ran it: its inputs and
     * tokens (a server's batch-size metrics). NULL (default) = none. */
    void (*on_batch)(void *user, int n_inputs, int64_t n_tokens);
} llmbed_stream_params;

/* Any thread. */
void llmbed_stream_params_default(llmbed_stream_params *params);

typedef struct llmbed_stream_input {
    const char *text;      /* UTF-8 text of text_len bytes (copied), or: */
    size_t text_len;
    const int32_t *ids;    /* pre-tokenised ids (copied; used when non-NULL) */
    size_t n_ids;
    int dims;              /* row width: 0 = the stream's (embed params dims); else Matryoshka truncation */
    int normalize;         /* -1 = the stream's; 0 or 1 */
    void *tag;             /* handed back with the row */
} llmbed_stream_input;

typedef struct llmbed_stream_row {
    void *tag;
    llmbed_status status;  /* LLMBED_OK, or why the input has no row (message says it, naming the input) */
    const char *message;   /* "" when OK; valid during the callback */
    const float *row;      /* dims float32 values; valid during the callback */
    int dims;
    int64_t tokens;        /* tokens embedded for this input */
    int truncated;         /* 1 when the input was cut to max_tokens */
} llmbed_stream_row;

/* Called once per submitted input, from a stream thread (never the
 * submitter's), possibly from several threads at once. */
typedef void (*llmbed_stream_callback)(void *user, const llmbed_stream_row *row);

/* Opens a stream over n_ctxs contexts of one model (which the stream uses
 * from its own threads until llmbed_stream_close), with the rows' spec from
 * text and embed params (NULL = defaults; precision, late chunking and
 * pooling NONE are not offered: rows are float32, one per input). */
llmbed_status llmbed_stream_open(llmbed_ctx *const *ctxs, int n_ctxs, const llmbed_text_params *text,
                                 const llmbed_embed_params *params, const llmbed_stream_params *stream_params,
                                 llmbed_stream_callback callback, void *user, llmbed_stream **out,
                                 llmbed_error *error);

/* Queues n inputs (copied). INVALID_ARGUMENT for a bad input (nothing is
 * queued then), INTERRUPTED once the stream is closing. Any thread. */
llmbed_status llmbed_stream_submit(llmbed_stream *stream, const llmbed_stream_input *inputs, int n,
                                   llmbed_error *error);

/* Inputs submitted whose callback has not returned yet. Any thread. */
int64_t llmbed_stream_pending(const llmbed_stream *stream);

/* Embeds what is queued, delivers every callback, stops the threads and
 * frees the stream; the contexts are the caller's again. NULL is a no-op. */
void llmbed_stream_close(llmbed_stream *stream);

#ifdef __cplusplus
}
#endif

#endif /* LLMBED_H */
