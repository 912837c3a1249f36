/* llmbed bench --ledger (SPEC §7, issue 20 item 6): the launch sequence of
 * one batch of the CUDA host code, recorded by a dry run on the emulated
 * device (tests/emu/emu_ledger.h), summed per op with each launch's declared
 * cost and timed at the roofline of a device profile: a launch takes
 * max(FLOPs / peak rate, bytes / memory bandwidth), GEMMs and attention at
 * the bf16 tensor-core rate, other kernels at the fp32 rate. Host<->device
 * copies are listed at the host link's rate and kept out of the prediction,
 * which is the device's work. */
#include "cli/bench_ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "emu_ledger.h"
#include "model/model.h"

typedef struct device_profile {
    const char *name, *description;
    double tensor_flops; /* dense bf16, FLOP/s */
    double vector_flops; /* fp32, FLOP/s */
    double memory_bw;    /* bytes/s */
    double link_bw;      /* host <-> device, bytes/s */
} device_profile;

/* Datasheet figures (NVIDIA H100/H200/A100 SXM product briefs); SPEC §7
 * notes ~800 TFLOP/s measured on an H100 against the 989 of its sheet. */
static const device_profile profiles[] = {
    {"h100", "H100 SXM: 989 TFLOP/s bf16 dense, 67 TFLOP/s fp32, 3.35 TB/s HBM3, PCIe 5 64 GB/s", 989e12, 67e12,
     3.35e12, 64e9},
    {"h200", "H200 SXM: 989 TFLOP/s bf16 dense, 67 TFLOP/s fp32, 4.8 TB/s HBM3e, PCIe 5 64 GB/s", 989e12, 67e12,
     4.8e12, 64e9},
    {"a100", "A100 SXM 80GB: 312 TFLOP/s bf16 dense, 19.5 TFLOP/s fp32, 2.04 TB/s HBM2e, PCIe 4 32 GB/s", 312e12,
     19.5e12, 2.039e12, 32e9},
};

enum { MAX_OPS = 64 };

typedef struct op_total {
    const char *op;
    const char *kind; /* "gemm", "attention", "elementwise", "copy" */
    int64_t launches;
    double flops, bytes, seconds;
} op_total;

static const char *kind_of(const llmbed_emu_launch *l) {
    if (l->kind == LLMBED_EMU_GEMM) return "gemm";
    if (l->kind != LLMBED_EMU_KERNEL) return "copy";
    return strncmp(l->op, "attention", 9) == 0 ? "attention" : "elementwise";
}

static double launch_seconds(const llmbed_emu_launch *l, const char *kind, const device_profile *p) {
    if (strcmp(kind, "copy") == 0) return l->bytes / p->link_bw;
    const double rate = strcmp(kind, "elementwise") == 0 ? p->vector_flops : p->tensor_flops;
    const double compute = l->flops / rate, memory = l->bytes / p->memory_bw;
    return compute > memory ? compute : memory;
}

/* Sums the log per op, in order of first appearance; -1 when an op declared no cost. */
static int tally(const llmbed_emu_launch_log *log, const device_profile *p, op_total *ops, int *n_ops) {
    *n_ops = 0;
    for (size_t i = 0; i < log->count; i++) {
        const llmbed_emu_launch *l = &log->launches[i];
        if (strcmp(l->op, "undeclared") == 0 || strncmp(l->op, "gemm whose", 10) == 0) {
            cli_error("llmbed bench --ledger: launch %zu (%s) has no valid declared cost: a launcher bug", i, l->op);
            return -1;
        }
        int k = 0;
        while (k < *n_ops && strcmp(ops[k].op, l->op) != 0) k++;
        if (k == *n_ops) {
            if (k == MAX_OPS) {
                cli_error("llmbed bench --ledger: more than %d distinct ops", MAX_OPS);
                return -1;
            }
            ops[k] = (op_total){l->op, kind_of(l), 0, 0.0, 0.0, 0.0};
            (*n_ops)++;
        }
        ops[k].launches++;
        ops[k].flops += l->flops;
        ops[k].bytes += l->bytes;
        ops[k].seconds += launch_seconds(l, ops[k].kind, p);
    }
    return 0;
}

static void print_table(const llmbed_model *model, const cli_bench_ledger_args *a, int n_seqs,
                        const device_profile *p, const op_total *ops, int n_ops) {
    const llmbed_config *c = &model->config;
    const double tokens = (double)n_seqs * (double)a->tokens, token_layers = tokens * c->n_layers;
    printf("cost ledger: %s (%s, %d layers, hidden %d, %d/%d heads x %d, MLP %d)\n", model->path,
           llmbed_arch_name(c->arch), c->n_layers, c->hidden_size, c->n_heads, c->n_kv_heads, c->head_dim,
           c->intermediate_size);
    printf("one batch: %d sequences x %" PRId64 " tokens (budget %" PRId64 "), dry run of host/cuda on the emulated "
           "device\nprofile %s: %s\n\n",
           n_seqs, a->tokens, a->batch_tokens, p->name, p->description);
    printf("%-22s %-11s %9s %12s %12s %12s %7s\n", "op", "kind", "launches", "GFLOP", "MB", "roofline us", "share");
    double device_seconds = 0.0, elementwise_bytes = 0.0, gemm_flops = 0.0;
    int64_t gemm_launches = 0;
    for (int k = 0; k < n_ops; k++) {
        if (strcmp(ops[k].kind, "copy") == 0) continue;
        device_seconds += ops[k].seconds;
        if (strcmp(ops[k].kind, "elementwise") == 0) elementwise_bytes += ops[k].bytes;
        if (strcmp(ops[k].kind, "gemm") == 0) gemm_flops += ops[k].flops, gemm_launches += ops[k].launches;
    }
    for (int k = 0; k < n_ops; k++) {
        const int copy = strcmp(ops[k].kind, "copy") == 0;
        printf("%-22s %-11s %9" PRId64 " %12.3f %12.3f %12.2f %6.1f%%\n", ops[k].op, ops[k].kind, ops[k].launches,
               ops[k].flops / 1e9, ops[k].bytes / 1e6, ops[k].seconds * 1e6,
               copy ? 0.0 : 100.0 * ops[k].seconds / device_seconds);
    }
    printf("%-22s %-11s %9s %12s %12s %12.2f   (copies: host link, not in the total)\n\n", "total", "device", "",
           "", "", device_seconds * 1e6);
    printf("gemms per layer: %.2f\n", (double)gemm_launches / c->n_layers);
    printf("elementwise bytes per token-layer: %.0f\n", elementwise_bytes / token_layers);
    printf("gemm flops per token-layer: %.0f\n", gemm_flops / token_layers);
    printf("predicted tokens/s at roofline: %.0f\n", tokens / device_seconds);
}

int cli_bench_ledger(const cli_bench_ledger_args *a) {
    const device_profile *p = NULL;
    const char *profile = a->profile != NULL ? a->profile : "h100";
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcmp(profiles[i].name, profile) == 0) p = &profiles[i];
    if (p == NULL) {
        cli_error("llmbed bench: --profile '%s': expected h100, h200 or a100", profile);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (a->tokens < 1 || a->batch_tokens < a->tokens || a->batch_tokens > INT32_MAX) {
        cli_error("llmbed bench --ledger: --batch-tokens %" PRId64 " must hold at least one sequence of --tokens %" PRId64
                  " (and stay below 2^31)",
                  a->batch_tokens, a->tokens);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_model *model = NULL;
    llmbed_status st = cli_load_model(a->model, (int)a->threads, &model);
    if (st != LLMBED_OK) return st;
    const llmbed_ledger_batch batch = {(int)(a->batch_tokens / a->tokens), (int)a->tokens, a->batch_tokens};
    llmbed_emu_launch_log log;
    memset(&log, 0, sizeof log);
    llmbed_error error;
    st = llmbed_emu_ledger_run(model, &batch, 1, &log, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed bench --ledger: %s", error.message);
    } else {
        op_total ops[MAX_OPS];
        int n_ops = 0;
        if (tally(&log, p, ops, &n_ops) != 0)
            st = LLMBED_ERR_INTERNAL;
        else
            print_table(model, a, batch.n_sequences, p, ops, n_ops);
    }
    llmbed_emu_log_free(&log);
    llmbed_model_free(model);
    return st;
}
