/* Binds the scheduler's backend-neutral engine callbacks to the public
 * API: llmbed_tokenize (any thread) and llmbed_embed (the job's thread). */
#ifndef LLMBED_CLI_ENGINE_BINDING_H
#define LLMBED_CLI_ENGINE_BINDING_H

#include "llmbed.h"
#include "scheduler/job.h"

typedef struct cli_engine {
    const llmbed_model *model;
    llmbed_ctx *ctx;
    llmbed_embed_params params;
    int dims;
    int templated;                        /* 1: text goes through llmbed_tokenize_template */
    llmbed_template_params template_params; /* max_tokens is set per call */
    /* Suffix mode (--document): inputs continue a cached document, so they
     * get no BOS; eos_after_continuation >= 0 is appended instead of the
     * tokenizer's specials (the family's EOS rule), -1 = none. */
    int continues_document;
    int32_t eos_after_continuation;
} cli_engine;

/* Fills `job` to call into `engine` (which must outlive it); with
 * engine->templated the job gets the template callback too. */
void cli_engine_bind(cli_engine *engine, llmbed_job_engine *job, int vocab_size);

#endif
