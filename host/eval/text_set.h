/* A set of distinct strings in first-seen order, so an evaluation embeds
 * every distinct sentence once however many pairs and files repeat it. */
#ifndef LLMBED_EVAL_TEXT_SET_H
#define LLMBED_EVAL_TEXT_SET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_text_set {
    const char **texts; /* [n] borrowed pointers, first-seen order */
    size_t n, cap;
    size_t *slots;      /* open addressing: index + 1, 0 = empty */
    size_t n_slots;     /* power of two */
} llmbed_text_set;

/* Index of `text` in the set, adding it (the pointer is kept, not copied);
 * (size_t)-1 when out of memory. */
size_t llmbed_text_set_add(llmbed_text_set *set, const char *text);
void llmbed_text_set_free(llmbed_text_set *set);

#ifdef __cplusplus
}
#endif

#endif
