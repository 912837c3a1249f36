/* llmbed info: the architecture summary and the embedding defaults. */
/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cpu/blas_core.h"

int cli_info(int argc, char **argv) {
    const char *model_path = NULL, *family = NULL, *rope_scaling = NULL, *weights = NULL;
    int check_weights = 0;
    cli_string_list adapters = {{NULL}, 0};
    const cli_option options[] = {
        {"model", CLI_STRING, &model_path, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"family", CLI_STRING, &family, 0, 0, "NAME", "embedder convention instead of the detected one"},
        {"adapter", CLI_STRING_LIST, &adapters, 0, 0, "DIR", "PEFT LoRA adapter merged at load (repeatable)"},
        {"rope-scaling", CLI_STRING, &rope_scaling, 0, 0, "T:F",
         "RoPE scaling instead of the config's (see llmbed embed --help)"},
        {"weights", CLI_STRING, &weights, 0, 0, "W", "CPU weights: native (default), bf16 or f32"},
        {"check-weights", CLI_FLAG, &check_weights, 1, 0, NULL,
         "scan every weight for NaN/infinity and name the first such tensor"},
    };
    int parsed = cli_parse("info",
                           "usage: llmbed info --model PATH [--family NAME] [--adapter DIR]... [--rope-scaling T:F] "
                           "[--weights W] [--check-weights]",
                           argc, argv, 2, options, (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (model_path == NULL) {
        cli_error("llmbed info: --model PATH is required");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_model *model = NULL;
    llmbed_model_params model_params;
    llmbed_model_params_default(&model_params);
    model_params.adapters = adapters.items;
    model_params.n_adapters = adapters.n;
    model_params.family = family;
    model_params.rope_scaling = rope_scaling;
    if (cli_weights_option("info", weights, &model_params) != 0) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_status st = cli_load_model_with(model_path, &model_params, &model);
    if (st != LLMBED_OK) return st;
    llmbed_model_info info = {.struct_size = sizeof info};
    st = llmbed_model_get_info(model, &info);
    if (st != LLMBED_OK) {
        cli_error("%s: cannot read the model info: %s", model_path, llmbed_status_str(st));
        llmbed_model_free(model);
        return st;
    }
    printf("model:              %s\n", model_path);
    printf("architecture:       %s\n", info.architecture);
    printf("format:             %s (%s weights)\n", info.source_format, info.weight_dtype);
    printf("parameters:         %" PRId64 "\n", info.n_parameters);
    printf("weights held:       %s, %.1f MiB\n", info.weights, (double)info.weight_bytes / (1 << 20));
    printf("layers:             %d\n", info.n_layers);
    printf("hidden size:        %d\n", info.hidden_size);
    printf("attention heads:    %d query, %d key/value, head dim %d\n", info.n_heads, info.n_kv_heads, info.head_dim);
    printf("intermediate size:  %d\n", info.intermediate_size);
    printf("vocabulary:         %d\n", info.vocab_size);
    printf("max positions:      %d\n", info.max_positions);
    printf("rope:               theta %g, scaling %s\n", (double)info.rope_theta, info.rope_scaling);
    printf("rms norm eps:       %g\n", (double)info.rms_norm_eps);
    printf("tied embeddings:    %s\n", info.tie_word_embeddings ? "yes" : "no");
    printf("family:             %s (%s)\n", info.family, info.family_reason);
    if (info.has_latent_pooling)
        printf("latent pooling:     yes (NV-Embed latent attention, keys/values folded at load)\n");
    if (info.appends_eos) printf("appends eos:        yes (token %d, appended to text inputs when missing)\n", info.eos_token_id);
    if (info.query_format[0] != '\0') printf("query format:       %s\n", info.query_format);
    for (int i = 0; i < adapters.n; i++) printf("adapter merged:     %s\n", adapters.items[i]);
    printf("default pooling:    %s\n", cli_pooling_name(info.default_pooling));
    printf("default attention:  %s\n", cli_attention_name(info.default_attention));
    printf("default normalize:  %s\n", info.default_normalize ? "yes" : "no");
    printf("cpu gemm kernels:   OpenBLAS %s\n", llmbed_blas_core_name());
    if (check_weights) {
        llmbed_error error = {0};
        st = llmbed_model_check_weights(model, &error);
        if (st != LLMBED_OK) {
            fflush(stdout);
            cli_error("%s", error.message);
            llmbed_model_free(model);
            return st;
        }
        printf("weights:            %" PRId64 " values, all finite\n", info.n_parameters);
    }
    llmbed_model_free(model);
    return 0;
}
