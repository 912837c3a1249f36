/* llmbed_gemm_ab: A/B of GEMM implementations on the projection shapes of
 * the models llmbed runs on the CPU, each candidate in the same process, the
 * rounds interleaved (round r runs every candidate once per shape) so load
 * from other processes on a shared machine hits all of them alike.
 *
 *   llmbed_gemm_ab [--threads N] [--rounds R] [--tokens T[,T...]] [--model qwen3|smollm2|all]
 *                  [--lib NAME=PATH:SYMBOL[:THREADS_SYMBOL]]...
 *
 * Candidates: llmbed's tiled kernel (host/cpu/gemm.c) over fp32, bf16-held,
 * Q8_0 and Q4_1 weights (the last three dequantised per panel inside the
 * GEMM: --weights native), and each --lib: a cblas_sgemm-compatible symbol
 * (SYMBOL) in a shared library loaded with dlopen, or oneDNN's dnnl_sgemm
 * (SYMBOL dnnl_sgemm: row-major, char transposes), with THREADS_SYMBOL
 * setting the library to one thread. A library is driven as llmbed drove
 * OpenBLAS before its own kernel: the output columns split across the OpenMP
 * team, one single-threaded call per thread.
 *
 * Each measurement is one GEMM y[T, N] = x[T, K] W^T; it reports GFLOP/s by
 * process CPU time (both threads; robust to time-slicing on a shared
 * machine) and by wall time, median and [min, max] over the rounds. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fp16.h"
#include "container/tensor.h"
#include "cpu/cpu_ops.h"
#include "cpu/gemm_kernels.h"

typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                               const float *b, int ldb, float beta, float *c, int ldc);
typedef int (*dnnl_sgemm_fn)(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
typedef void (*set_threads_fn)(int);

enum { MAX_CANDIDATES = 16, MAX_SHAPES = 32, MAX_ROUNDS = 64, CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111,
       CBLAS_TRANS = 112 };

typedef struct candidate {
    char name[64];
    llmbed_dtype weights; /* tiled kernel: how W is held; BLAS: F32 */
    cblas_sgemm_fn cblas;
    dnnl_sgemm_fn dnnl;
    int tiled;
} candidate;

typedef struct shape {
    const char *model, *name;
    int K, N;
} shape;

static const shape SHAPES[] = {
    /* Qwen3-0.6B (bench/make_random_model.py): hidden 1024, 16/8 heads x 128, MLP 3072 */
    {"qwen3", "qkv 1024->4096", 1024, 4096},
    {"qwen3", "o 2048->1024", 2048, 1024},
    {"qwen3", "gate_up 1024->6144", 1024, 6144},
    {"qwen3", "down 3072->1024", 3072, 1024},
    /* SmolLM2-135M: hidden 576, 9/3 heads x 64, MLP 1536 */
    {"smollm2", "qkv 576->960", 576, 960},
    {"smollm2", "o 576->576", 576, 576},
    {"smollm2", "gate_up 576->3072", 576, 3072},
    {"smollm2", "down 1536->576", 1536, 576},
};

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GGUF Q8_0 / Q4_1 blocks of w [rows, cols], as llama.cpp's quantize_row_q8_0 / q4_1 reference. */
static void quantize(llmbed_dtype dtype, const float *w, int64_t n, uint8_t *out) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float *x = w + b * 32;
        if (dtype == LLMBED_DTYPE_Q8_0) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
            const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0;
            uint8_t *blk = out + b * 34;
            const uint16_t h = llmbed_f32_to_fp16(d);
            blk[0] = (uint8_t)h, blk[1] = (uint8_t)(h >> 8);
            for (int i = 0; i < 32; i++) blk[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
        } else {
            float lo = x[0], hi = x[0];
            for (int i = 1; i < 32; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
            const float d = (hi - lo) / 15.0f, id = d != 0 ? 1.0f / d : 0;
            uint8_t *blk = out + b * 20;
            const uint16_t hd = llmbed_f32_to_fp16(d), hm = llmbed_f32_to_fp16(lo);
            blk[0] = (uint8_t)hd, blk[1] = (uint8_t)(hd >> 8), blk[2] = (uint8_t)hm, blk[3] = (uint8_t)(hm >> 8);
            for (int i = 0; i < 16; i++) {
                int q0 = (int)((x[i] - lo) * id + 0.5f), q1 = (int)((x[i + 16] - lo) * id + 0.5f);
                q0 = q0 > 15 ? 15 : q0, q1 = q1 > 15 ? 15 : q1;
                blk[4 + i] = (uint8_t)(q0 | q1 << 4);
            }
        }
    }
}

/* W held as `dtype`; storage allocated into *owned. */
static llmbed_weight hold(llmbed_dtype dtype, const float *w, int N, int K, void **owned) {
    const int64_t n = (int64_t)N * K;
    const size_t bytes = llmbed_dtype_bytes(dtype, n);
    uint8_t *data = malloc(bytes);
    if (dtype == LLMBED_DTYPE_F32) memcpy(data, w, bytes);
    else if (dtype == LLMBED_DTYPE_BF16)
        for (int64_t i = 0; i < n; i++) {
            const uint16_t b = llmbed_f32_to_bf16(w[i]);
            data[2 * i] = (uint8_t)b, data[2 * i + 1] = (uint8_t)(b >> 8);
        }
    else quantize(dtype, w, n, data);
    *owned = data;
    const llmbed_weight h = {dtype, N, K, llmbed_dtype_bytes(dtype, K), data};
    return h;
}

/* Columns split across the team, one single-threaded library call each (gemm.c's split). */
static void blas_gemm(const candidate *c, int T, int K, int N, const float *x, const float *w, float *y) {
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int slice = (N + nt - 1) / nt;
        slice = (slice + 63) / 64 * 64;
        const int lo = id * slice < N ? id * slice : N, hi = lo + slice < N ? lo + slice : N;
        if (hi > lo) {
            if (c->dnnl != NULL)
                c->dnnl('N', 'T', T, hi - lo, K, 1.0f, x, K, w + (size_t)lo * K, K, 0.0f, y + lo, N);
            else
                c->cblas(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, T, hi - lo, K, 1.0f, x, K, w + (size_t)lo * K,
                         K, 0.0f, y + lo, N);
        }
    }
}

static int compare(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int add_library(candidate *cands, int n, const char *spec) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *eq = strchr(buf, '='), *sym = eq ? strchr(eq + 1, ':') : NULL;
    if (eq == NULL || sym == NULL) {
        fprintf(stderr, "--lib %s: expected NAME=PATH:SYMBOL[:THREADS_SYMBOL]\n", spec);
        return -1;
    }
    *eq = *sym = '\0';
    char *threads_sym = strchr(sym + 1, ':');
    if (threads_sym != NULL) *threads_sym++ = '\0';
    void *h = dlopen(eq + 1, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "--lib %s: %s\n", buf, dlerror());
        return -1;
    }
    candidate *c = &cands[n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%.63s", buf);
    c->weights = LLMBED_DTYPE_F32;
    void *f = dlsym(h, sym + 1);
    if (f == NULL) {
        fprintf(stderr, "--lib %s: no symbol %s\n", buf, sym + 1);
        return -1;
    }
    if (strcmp(sym + 1, "dnnl_sgemm") == 0) *(void **)&c->dnnl = f;
    else *(void **)&c->cblas = f;
    if (threads_sym != NULL) {
        set_threads_fn set = NULL;
        *(void **)&set = dlsym(h, threads_sym);
        if (set == NULL) {
            fprintf(stderr, "--lib %s: no symbol %s\n", buf, threads_sym);
            return -1;
        }
        set(1);
    }
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, rounds = 5, tokens[8] = {512}, n_tokens = 1;
    const char *model = "all";
    candidate cands[MAX_CANDIDATES];
    int n_cands = 0;
    const struct {
        const char *name;
        llmbed_dtype dtype;
    } tiled[] = {{"llmbed tiled f32", LLMBED_DTYPE_F32},
                 {"llmbed tiled bf16-held", LLMBED_DTYPE_BF16},
                 {"llmbed tiled Q8_0 (native)", LLMBED_DTYPE_Q8_0},
                 {"llmbed tiled Q4_1 (native)", LLMBED_DTYPE_Q4_1}};
    for (size_t i = 0; i < sizeof tiled / sizeof tiled[0]; i++) {
        memset(&cands[n_cands], 0, sizeof cands[0]);
        snprintf(cands[n_cands].name, sizeof cands[0].name, "%.63s", tiled[i].name);
        cands[n_cands].weights = tiled[i].dtype;
        cands[n_cands++].tiled = 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) {
            n_tokens = 0;
            for (char *p = argv[++i]; *p && n_tokens < 8; p++) {
                tokens[n_tokens++] = (int)strtol(p, &p, 10);
                if (*p != ',') break;
            }
        } else if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc && n_cands < MAX_CANDIDATES) {
            if (add_library(cands, n_cands, argv[++i]) != 0) return 2;
            n_cands++;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--rounds R] [--tokens T,...] [--model qwen3|smollm2|all] "
                            "[--lib NAME=PATH:SYMBOL[:THREADS_SYMBOL]]...\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || threads < 1) return 2;
    omp_set_num_threads(threads);
    printf("threads %d, rounds %d, kernel set %s\n", threads, rounds, llmbed_gemm_kernels_best()->name);
    for (int ti = 0; ti < n_tokens; ti++) {
        const int T = tokens[ti];
        for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
            const shape *sh = &SHAPES[s];
            if (strcmp(model, "all") != 0 && strcmp(model, sh->model) != 0) continue;
            const int K = sh->K, N = sh->N;
            float *x = malloc(sizeof(float) * (size_t)T * K), *w = malloc(sizeof(float) * (size_t)N * K);
            float *y = malloc(sizeof(float) * (size_t)T * N);
            float *scratch = malloc(sizeof(float) * llmbed_cpu_gemm_scratch_floats(K, threads));
            srand(7);
            for (size_t i = 0; i < (size_t)T * K; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
            for (size_t i = 0; i < (size_t)N * K; i++) w[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.06f;
            void *owned[MAX_CANDIDATES] = {0};
            llmbed_weight held[MAX_CANDIDATES];
            for (int c = 0; c < n_cands; c++)
                if (cands[c].tiled) held[c] = hold(cands[c].weights, w, N, K, &owned[c]);
            double cpu_s[MAX_CANDIDATES][MAX_ROUNDS], wall_s[MAX_CANDIDATES][MAX_ROUNDS];
            const double flops = 2.0 * T * K * N;
            for (int r = -1; r < rounds; r++) /* round -1 warms up */
                for (int c = 0; c < n_cands; c++) {
                    const double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
                    if (cands[c].tiled) {
                        const llmbed_cpu_projection p = {&held[c], NULL, N, 1.0f, 0, y, N};
                        llmbed_cpu_linear_fused(T, K, x, 1, &p, scratch);
                    } else {
                        blas_gemm(&cands[c], T, K, N, x, w, y);
                    }
                    if (r >= 0) {
                        cpu_s[c][r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
                        wall_s[c][r] = clock_s(CLOCK_MONOTONIC) - w0;
                    }
                }
            printf("\n[%s %s, T %d]  GFLOP/s by CPU time per thread: median [min, max]   by wall: median\n",
                   sh->model, sh->name, T);
            for (int c = 0; c < n_cands; c++) {
                qsort(cpu_s[c], (size_t)rounds, sizeof(double), compare);
                qsort(wall_s[c], (size_t)rounds, sizeof(double), compare);
                const double per_thread = flops * threads * 1e-9;
                printf("  %-28s %7.1f [%6.1f, %6.1f]   %7.1f\n", cands[c].name, per_thread / cpu_s[c][rounds / 2],
                       per_thread / cpu_s[c][rounds - 1], per_thread / cpu_s[c][0], flops * 1e-9 / wall_s[c][rounds / 2]);
                free(owned[c]);
            }
            free(x), free(w), free(y), free(scratch);
        }
    }
    return 0;
}
