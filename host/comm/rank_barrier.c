/* The barrier of a communicator's rank threads (comm/comm_group.h). A
 * pthread_barrier_t cannot be aborted, and an aborted rank must never leave
 * the others waiting, hence a mutex, a condition and a round counter. */
#include "comm/comm_group.h"

int llmbed_rank_barrier_init(llmbed_rank_barrier *barrier, int size) {
    barrier->size = size;
    barrier->arrived = 0;
    barrier->round = 0;
    barrier->result = 0;
    barrier->aborted = 0;
    if (pthread_mutex_init(&barrier->lock, NULL) != 0) return -1;
    if (pthread_cond_init(&barrier->released, NULL) != 0) {
        pthread_mutex_destroy(&barrier->lock);
        return -1;
    }
    return 0;
}

void llmbed_rank_barrier_destroy(llmbed_rank_barrier *barrier) {
    pthread_cond_destroy(&barrier->released);
    pthread_mutex_destroy(&barrier->lock);
}

int llmbed_rank_barrier_wait(llmbed_rank_barrier *barrier, int (*last)(void *user), void *user) {
    pthread_mutex_lock(&barrier->lock);
    if (barrier->aborted) {
        pthread_mutex_unlock(&barrier->lock);
        return -1;
    }
    const unsigned round = barrier->round;
    if (++barrier->arrived == barrier->size) {
        barrier->result = last != NULL ? last(user) : 0;
        barrier->arrived = 0;
        barrier->round++;
        pthread_cond_broadcast(&barrier->released);
    } else {
        while (barrier->round == round && !barrier->aborted) pthread_cond_wait(&barrier->released, &barrier->lock);
    }
    const int result = barrier->round == round ? -1 : barrier->result; /* still this round: aborted */
    pthread_mutex_unlock(&barrier->lock);
    return result;
}

void llmbed_rank_barrier_abort(llmbed_rank_barrier *barrier) {
    pthread_mutex_lock(&barrier->lock);
    barrier->aborted = 1;
    pthread_cond_broadcast(&barrier->released);
    pthread_mutex_unlock(&barrier->lock);
}
