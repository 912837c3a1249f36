/* llmbed: decoder-only LLMs as text embedders, from the command line. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cpu/blas_core.h"

static const char *const usage_text =
    "usage: llmbed <command> [options]\n"
    "\n"
    "Commands:\n"
    "  embed      embed text or token ids from a file (or stdin) into .npy/.safetensors/.jsonl\n"
    "  tokenize   write the token ids of each input line as {\"input_ids\": [...]}\n"
    "  info       print a model's architecture and embedding defaults\n"
    "  bench      measure throughput on synthetic or given inputs\n"
    "  eval sts   Spearman/Pearson of embedding cosines against STS/SICK gold scores\n"
    "  serve      OpenAI-compatible embeddings server (POST /v1/embeddings)\n"
    "\n"
    "Run 'llmbed <command> --help' for a command's options. MODEL PATH is a Hugging Face\n"
    "folder (config.json + *.safetensors) or a .gguf file.\n"
    "\n"
    "Exit status: 0 on success, else the llmbed_status code of the failure (include/llmbed.h),\n"
    "e.g. 1 invalid argument (usage errors), 3 file not found, 18 token id outside the\n"
    "vocabulary, 19 empty sequence, 20 layer out of range, 21 output not writable,\n"
    "29 malformed input line, 30 sequence too long, 31 interrupted, 33 resume mismatch.\n"
    "Errors are one line on stderr naming the file, line or field.\n";

int main(int argc, char **argv) {
    llmbed_blas_core_restart_if_needed(argv);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "version") == 0) {
        printf("llmbed %s (library %u)\n", LLMBED_VERSION_STRING, llmbed_version_number());
        return 0;
    }
    if (strcmp(command, "embed") == 0) return cli_embed(argc, argv);
    if (strcmp(command, "tokenize") == 0) return cli_tokenize(argc, argv);
    if (strcmp(command, "info") == 0) return cli_info(argc, argv);
    if (strcmp(command, "bench") == 0) return cli_bench(argc, argv);
    if (strcmp(command, "eval") == 0) return cli_eval(argc, argv);
    if (strcmp(command, "serve") == 0) return cli_serve(argc, argv);
    cli_error("unknown command '%s' (see llmbed --help)", command);
    return LLMBED_ERR_INVALID_ARGUMENT;
}
