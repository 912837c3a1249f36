#include "serve/serve_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct pool_task {
    void (*fn)(void *arg);
    void *arg;
    struct pool_task *next;
} pool_task;

struct serve_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pool_task *head, *tail;
    int stopping;
    int n_threads;
    pthread_t threads[];
};

static void *worker_main(void *arg) {
    serve_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->head == NULL && !pool->stopping) pthread_cond_wait(&pool->wake, &pool->lock);
        pool_task *task = pool->head;
        if (task == NULL) break; /* stopping and nothing left */
        pool->head = task->next;
        if (pool->head == NULL) pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        task->fn(task->arg);
        free(task);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

serve_pool *serve_pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    serve_pool *pool = calloc(1, sizeof *pool + (size_t)n_threads * sizeof(pthread_t));
    if (pool == NULL) return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (int t = 0; t < n_threads; t++) {
        if (pthread_create(&pool->threads[t], NULL, worker_main, pool) != 0) break;
        pool->n_threads = t + 1;
    }
    if (pool->n_threads == 0) {
        serve_pool_free(pool);
        return NULL;
    }
    return pool;
}

llmbed_status serve_pool_run(serve_pool *pool, void (*fn)(void *arg), void *arg) {
    pool_task *task = malloc(sizeof *task);
    if (task == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    *task = (pool_task){fn, arg, NULL};
    pthread_mutex_lock(&pool->lock);
    if (pool->tail != NULL) pool->tail->next = task;
    else pool->head = task;
    pool->tail = task;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return LLMBED_OK;
}

void serve_pool_free(serve_pool *pool) {
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int t = 0; t < pool->n_threads; t++) pthread_join(pool->threads[t], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool);
}
