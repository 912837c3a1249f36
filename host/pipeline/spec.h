/* The job spec (SPEC section 2): every decision a job's rows depend on,
 * resolved once per job from the model and the caller's params, by the one
 * function below, for every caller (the CLI, the C API, Python through it,
 * eval, bench and serve). Family conventions (pooling, attention, masking
 * the instruction, appending EOS) come from the model's family data
 * (model/family.h), the sentence-transformers files from the model folder;
 * nothing downstream decides them again. The resume identity of a sharded
 * job is serialised from the spec (llmbed_spec_identity), so every option
 * that changes a row is in the manifest under the name the CLI gives it. */
#ifndef LLMBED_PIPELINE_SPEC_H
#define LLMBED_PIPELINE_SPEC_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "llmbed.h"

typedef struct llmbed_job_spec {
    const llmbed_model *model;
    llmbed_embed_options engine; /* pooling, attention, layers, dims, chunks, ThinK, ... resolved */
    int dims;                    /* floats per row (engine.out_dims) */
    llmbed_precision precision;  /* stored element type */
    int64_t batch_tokens;        /* token budget of one forward (the context's) */

    /* text -> token sequence */
    char *prompt;            /* owned; NULL = none. Plain texts get it prepended; templates hold it. */
    int exclude_prompt;      /* resolved: 1 = the prompt's tokens stay out of the pool */
    int32_t instruction_len; /* tokens at the front kept out of the pool (0 = none) */
    int templated;           /* 1: texts go through llmbed_tokenize_template with the fields below */
    char *template_text;     /* owned: the escaped prompt followed by the template (templated only) */
    char *template_body;     /* owned: the template as given or from the method (identity) */
    llmbed_pool_span pool_span;
    int add_special;         /* 1: BOS/EOS as the tokenizer adds them; 0 in suffix mode (inputs continue) */
    int32_t continuation_eos; /* suffix mode: the family's EOS appended to every text input; -1 = none */
    int64_t max_tokens;      /* 0 = no limit */
    int truncate;

    /* long inputs */
    int late_chunking;   /* 0 = off, N > 0 spans of N tokens, -1 spans given per input */
    int32_t *document;   /* owned ids of the suffix-mode document; NULL = off */
    size_t n_document;
    uint32_t document_crc32; /* of the document's bytes (identity) */
    size_t document_bytes;
} llmbed_job_spec;

/* Resolves a job: embed params (NULL = defaults) and text params (NULL =
 * defaults) against the model, for contexts whose token budget is
 * batch_tokens. Errors name the field (INVALID_ARGUMENT, LAYER_OUT_OF_RANGE,
 * UNSUPPORTED, SEQUENCE_TOO_LONG for a document above max_tokens,
 * TOKENIZER_MISSING when text needs a tokenizer). On failure the spec holds
 * nothing to free. */
llmbed_status llmbed_spec_resolve(const llmbed_model *model, const llmbed_embed_params *embed,
                                  const llmbed_text_params *text, int64_t batch_tokens, llmbed_job_spec *spec,
                                  llmbed_error *error);

void llmbed_spec_free(llmbed_job_spec *spec);

/* llmbed_embed_params -> engine options (defaults from the model's family
 * and sentence-transformers files); the part of the spec llmbed_embed and
 * llmbed_embed_params_resolve use on their own. */
llmbed_status llmbed_embed_options_resolve(const llmbed_model *model, const llmbed_embed_params *params,
                                           llmbed_embed_options *options, llmbed_error *error);

/* Adds to `job` every row-changing decision of the spec, keyed by the CLI's
 * option name ("pooling", "think_ratio" for --think-ratio, "template", ...), plus the
 * model (real path, parameters, family, RoPE scaling, adapters): the
 * manifest's resume identity. */
llmbed_status llmbed_spec_identity(const llmbed_job_spec *spec, cJSON *job, llmbed_error *error);

#endif
