/* Pre-tokenisation: splits normalised text into the words BPE runs on.
 * A pipeline of steps, each applied to every piece the previous one made,
 * as HF's pre_tokenizers.Sequence (and llama.cpp's list of regexes, which
 * is a Sequence of Split(Isolated)). */
#ifndef LLMBED_TOKENIZER_PRETOKENIZER_H
#define LLMBED_TOKENIZER_PRETOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "llmbed.h"
#include "tokenizer/tok_buffer.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_spans.h"

/* HF SplitDelimiterBehavior. */
typedef enum tok_split_behavior {
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_WITH_PREVIOUS,
    TOK_SPLIT_MERGED_WITH_NEXT,
    TOK_SPLIT_CONTIGUOUS
} tok_split_behavior;

typedef enum tok_pre_kind {
    TOK_PRE_SPLIT,        /* regex split (Split, Digits, Punctuation, ByteLevel's regex, ...) */
    TOK_PRE_PREFIX_SPACE, /* ByteLevel add_prefix_space: " " before pieces not starting with one */
    TOK_PRE_METASPACE,    /* Metaspace: ' ' -> replacement, prepend per scheme, optional split */
    TOK_PRE_BYTE_MAP      /* bytes -> GPT-2 alphabet: HF's ByteLevel maps the text, and later
                             steps (Falcon's Digits) see the mapped characters */
} tok_pre_kind;

typedef enum tok_prepend_scheme { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER } tok_prepend_scheme;

typedef struct tok_pre_step {
    tok_pre_kind kind;
    tok_regex regex;
    tok_split_behavior behavior;
    bool invert;
    char replacement[8]; /* Metaspace replacement (UTF-8) */
    size_t replacement_len;
    tok_prepend_scheme prepend;
    bool split;
} tok_pre_step;

typedef struct tok_pretokenizer {
    tok_pre_step *steps;
    size_t n_steps;
} tok_pretokenizer;

typedef struct tok_piece {
    size_t start, len;
} tok_piece;

typedef struct tok_pieces {
    tok_piece *data;
    size_t len, cap;
} tok_pieces;

/* Scratch reused across calls within one encode. */
typedef struct tok_pre_scratch {
    tok_bytes text[2];
    tok_pieces pieces[2];
    tok_match_scratch match;
    /* Offsets, only when `track` is set: map[slot][k] is the range of the
     * pre-tokenizer's input that byte k of text[slot] comes from; after
     * tok_pretokenize, final_map describes the words' text (NULL: the words
     * index the input itself, no step rewrote it). */
    bool track;
    tok_spans map[2];
    const tok_spans *final_map;
} tok_pre_scratch;

void tok_pre_scratch_free(tok_pre_scratch *s);

/* Appends a step (the regex is compiled from `pattern`); `where` names the JSON field. */
llmbed_status tok_pre_add_split(tok_pretokenizer *p, const char *pattern, size_t len, bool literal,
                                tok_split_behavior behavior, bool invert, const char *where,
                                llmbed_error *error);
llmbed_status tok_pre_add_step(tok_pretokenizer *p, const tok_pre_step *step, llmbed_error *error);
void tok_pretokenizer_free(tok_pretokenizer *p);

/* Splits text[0..len). `at_start`: the text begins the input (Metaspace
 * prepend_scheme "first"). On success *out_text and *out_pieces describe
 * the words (pointing into the scratch); *mapped is set when the words are
 * in the GPT-2 alphabet (a BYTE_MAP step ran). */
llmbed_status tok_pretokenize(const tok_pretokenizer *p, const char *text, size_t len, bool at_start,
                              tok_pre_scratch *s, const char **out_text, const tok_pieces **out_pieces,
                              bool *mapped, llmbed_error *error);

#endif
