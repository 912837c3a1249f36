/* The job spec bound to engines: the tokenisation and engine callbacks of
 * a job (pipeline/job.h) and the options that come from the spec. Every
 * caller of the pipeline goes through here, so what a record becomes and
 * how a batch runs cannot differ between them. */
#ifndef LLMBED_PIPELINE_BIND_H
#define LLMBED_PIPELINE_BIND_H

#include "engine/engine.h"
#include "pipeline/job.h"
#include "pipeline/spec.h"

typedef struct llmbed_job_binding {
    const llmbed_job_spec *spec;
    llmbed_engine *const *engines; /* one per worker */
    int n_engines;
    llmbed_template_params template_params;
} llmbed_job_binding;

/* Fills `engine` and the spec's fields of `options` (prompt, instruction
 * length, truncation, late chunking, dtype, token budget); the binding must
 * outlive the job. */
void llmbed_job_bind(llmbed_job_binding *binding, const llmbed_job_spec *spec, llmbed_engine *const *engines,
                     int n_engines, llmbed_job_engine *engine, llmbed_job_options *options);

/* What must happen on the engines before the first batch: suffix mode's
 * document into every worker's cache, and the options each backend must
 * support (UNSUPPORTED otherwise). */
llmbed_status llmbed_job_bind_prepare(const llmbed_job_binding *binding, llmbed_error *error);

#endif
