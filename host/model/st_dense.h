/* sentence-transformers Dense modules (sentence_transformers/models/Dense.py):
 * y = activation(x W^T + b), applied in modules.json order to the pooled rows,
 * after Pooling and before Normalize (EmbeddingGemma: 768 -> 3072 -> 768).
 * Any model folder may carry them; each module folder holds config.json
 * (in_features, out_features, bias, activation_function) and
 * model.safetensors ("linear.weight" [out, in], "linear.bias" [out]). */
#ifndef LLMBED_MODEL_ST_DENSE_H
#define LLMBED_MODEL_ST_DENSE_H

#include "llmbed.h"

struct llmbed_model;

typedef struct llmbed_dense_layer {
    int in_features;
    int out_features;
    float *weight; /* [out_features, in_features] */
    float *bias;   /* [out_features], or NULL (bias false) */
    int tanh;      /* activation_function: 1 torch.nn.Tanh (Dense's default), 0 Identity */
} llmbed_dense_layer;

/* Reads every Dense module modules.json lists, in order, into
 * model->dense / n_dense (fp32, one allocation), checking that the first
 * takes the hidden size and each next one the previous output; a folder
 * without modules.json or Dense modules leaves n_dense 0. Errors name the
 * file and field (LLMBED_ERR_BAD_CONFIG, _TENSOR_SHAPE, _MISSING_TENSOR,
 * _UNSUPPORTED for other activations or weights only in pytorch_model.bin). */
llmbed_status llmbed_dense_load(struct llmbed_model *model, const char *folder, llmbed_error *error);

/* Width of a pooled row after the Dense modules (the hidden size without them). */
int llmbed_dense_output_width(const struct llmbed_model *model);

#endif
