/* The `llmbed` command-line tool: one file per subcommand plus shared
 * helpers. Exit status = the llmbed_status of the failure (0 on success;
 * usage errors exit 1 = LLMBED_ERR_INVALID_ARGUMENT), with one line on
 * stderr naming the file, line or field at fault. */
#ifndef LLMBED_CLI_CLI_H
#define LLMBED_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

int cli_embed(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_eval_passkey(int argc, char **argv);
int cli_eval_needle(int argc, char **argv);
int cli_serve(int argc, char **argv);

/* "last"/"mean"/"first"/"weighted-mean"/"latent" (-1 for an unknown name). */
int cli_parse_pooling(const char *name, llmbed_pooling *pooling);
const char *cli_pooling_name(llmbed_pooling pooling);
int cli_parse_attention(const char *name, llmbed_attention *attention);
const char *cli_attention_name(llmbed_attention attention);
/* "auto", "cpu", "cuda", "cuda:N". */
/* --device into the context params (device, ordinal, GPU list); -1 when malformed. */
int cli_parse_device(const char *text, llmbed_ctx_params *params);
/* What --device says in every command's help. */
#define CLI_DEVICE_HELP                                                                                   \
    "auto (default: the GPU when usable, else the CPU with a note), cpu, cuda, cuda:N, or data parallel over " \
    "GPUs: cuda:N,M,... or cuda:all"
#define CLI_REPLICAS_HELP "CPU data parallel: N engines over disjoint shares of --threads (default 1)"
/* What --device accepts, in its error message. */
#define CLI_DEVICE_EXPECTED "auto, cpu, cuda, cuda:N, cuda:N,M,... or cuda:all"
/* Prints the context's device note (--device auto running on the CPU) on stderr. */
void cli_note_device(const llmbed_ctx *ctx);
/* --weights NAME ("native", "bf16", "f32"; NULL leaves the default) into
 * params->weights; prints the error line naming `command` on a bad name. */
int cli_weights_option(const char *command, const char *name, llmbed_model_params *params);

/* Loads a model, printing the error line on failure. */
llmbed_status cli_load_model(const char *path, int n_threads, llmbed_model **model);

/* `text` and a newline into `path`, atomically (io/atomic_file.h); prints the error line. */
llmbed_status cli_write_text_file(const char *path, const char *text);

/* Same with every model parameter (adapters, forced family, RoPE override). */
llmbed_status cli_load_model_with(const char *path, const llmbed_model_params *params, llmbed_model **model);

/* The prompt string: --prompt as given, or --prompt-name looked up in the
 * model folder's config_sentence_transformers.json "prompts". *owned is
 * set when the result must be freed. Prints the error line on failure. */
llmbed_status cli_resolve_prompt(const char *model_path, const char *prompt, const char *prompt_name,
                                 char **owned, const char **out);

/* Peak resident set size of this process in bytes (getrusage). */
int64_t cli_peak_rss_bytes(void);

/* Monotonic seconds. */
double cli_now(void);

#endif
