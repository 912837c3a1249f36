/* What every communicator implementation shares: the group that owns its
 * ranks, and the barrier of the threads that drive them. */
#ifndef LLMBED_COMM_COMM_GROUP_H
#define LLMBED_COMM_COMM_GROUP_H

#include <pthread.h>

#include "comm/comm.h"

struct llmbed_comm_group {
    int size;
    llmbed_comm **ranks; /* [size], owned by the implementation */
    void (*destroy)(llmbed_comm_group *group);
};

/* A reusable barrier of `size` threads that can be aborted. The last thread
 * to arrive runs `last(user)` (may be NULL) before it releases the others,
 * and every thread of that round returns its result; a round that is, or
 * was, aborted returns -1 to everyone. */
typedef struct llmbed_rank_barrier {
    pthread_mutex_t lock;
    pthread_cond_t released;
    int size;
    int arrived;
    unsigned round;
    int result; /* of the last completed round */
    int aborted;
} llmbed_rank_barrier;

int llmbed_rank_barrier_init(llmbed_rank_barrier *barrier, int size);
void llmbed_rank_barrier_destroy(llmbed_rank_barrier *barrier);
int llmbed_rank_barrier_wait(llmbed_rank_barrier *barrier, int (*last)(void *user), void *user);
void llmbed_rank_barrier_abort(llmbed_rank_barrier *barrier);

#endif
