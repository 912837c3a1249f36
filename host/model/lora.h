/* PEFT LoRA adapters merged into a loaded model's fp32 weights (lora.c). */
#ifndef LLMBED_MODEL_LORA_H
#define LLMBED_MODEL_LORA_H

#include "llmbed.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Merges the adapters of `dirs` in order into model's decoder projections.
 * Errors name the folder/file/tensor: FILE_NOT_FOUND, UNSUPPORTED (DoRA,
 * prompt tuning, per-module ranks, non-projection modules), TENSOR_SHAPE
 * (an adapter for another base), BAD_CONFIG. */
llmbed_status llmbed_lora_merge(llmbed_model *model, const char *const *dirs, int n_dirs, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
