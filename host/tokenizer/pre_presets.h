/* GGUF tokenizer.ggml.pre names -> pre-tokenizer regex lists and the flags
 * llama.cpp sets with them (src/llama-vocab.cpp, llama_vocab::impl::load and
 * the llm_tokenizer_bpe constructor). Where llama.cpp rewrote a pattern for
 * its own regex engine, the original from the model's tokenizer.json is used,
 * since PCRE2 runs it as HF does. */
#ifndef LLMBED_TOKENIZER_PRE_PRESETS_H
#define LLMBED_TOKENIZER_PRE_PRESETS_H

#include <stdbool.h>

typedef struct tok_pre_preset {
    const char *const *regexes; /* NULL-terminated; each a Split(Isolated) step */
    bool ignore_merges;
    bool add_bos;
    /* GGUF files carry no normalizer: the model's tokenizer.json NFC-normalises
     * for these pre-tokenizers (Qwen2/2.5/3: "normalizer": {"type": "NFC"};
     * Command-R and GPT-NeoX-20B, whose tokenizer MPT uses: NFC too). */
    bool nfc;
} tok_pre_preset;

/* false when `name` is not a known pre-tokenizer. A NULL name (old files
 * without the key, e.g. gpt-neox) gets the GPT-2 regex, which is what those
 * models' tokenizer.json used. */
bool tok_pre_preset_find(const char *name, tok_pre_preset *out);

/* Files without tokenizer.ggml.pre: GPT-NeoX's tokenizer (general.architecture
 * "gptneox") NFC-normalises; the others of that age (GPT-2) do not. */
bool tok_pre_preset_nfc_without_name(const char *architecture);

#endif
