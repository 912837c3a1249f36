/* Splitting a batch into forward requests: consecutive sequences, in input
 * order, while their tokens fit the budget. Keeping input order lets each
 * request write straight into its rows of the caller's buffer; sorting by
 * length is the scheduler's job (host/scheduler/), which builds its batches
 * before calling here. */
#include "engine/engine.h"

int llmbed_engine_split_end(const llmbed_batch *batch, int first, int64_t budget) {
    int end = first + 1;
    while (end < batch->n_sequences &&
           batch->offsets[end + 1] - batch->offsets[first] <= budget)
        end++;
    return end;
}
