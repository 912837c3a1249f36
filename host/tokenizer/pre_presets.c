#include "tokenizer/pre_presets.h"

#include <stddef.h>
#include <string.h>

static const char *const gpt2[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    NULL};

static const char *const llama3[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};

static const char *const qwen2[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};

static const char *const deepseek_llm[] = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
    NULL};

static const char *const deepseek_coder[] = {
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
    NULL};

static const char *const falcon[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "[0-9][0-9][0-9]",
    NULL};

static const char *const starcoder[] = {
    "\\p{N}",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    NULL};

static const char *const default_bpe[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
    NULL};

static const char *const bloom[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    NULL};

static const char *const viking[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    "\\p{N}",
    NULL};

typedef struct named_preset {
    const char *name;
    const char *const *regexes;
    bool ignore_merges;
    bool add_bos;
    bool nfc;
} named_preset;

static const named_preset presets[] = {
    {"gpt-2", gpt2, false, false, false},        {"phi-2", gpt2, false, false, false},
    {"jina-es", gpt2, false, false, false},      {"jina-de", gpt2, false, false, false},
    {"jina-v1-en", gpt2, false, false, false},   {"jina-v2-es", gpt2, false, false, false},
    {"jina-v2-de", gpt2, false, false, false},   {"jina-v2-code", gpt2, false, false, false},
    {"gigachat", gpt2, false, false, false},     {"roberta-bpe", gpt2, false, false, false},
    {"mpt", gpt2, false, false, true},          {"olmo", gpt2, false, false, false},
    {"jais", gpt2, false, false, false},         {"trillion", gpt2, false, false, false},
    {"granite-docling", gpt2, false, false, false},
    {"llama3", llama3, true, true, false},       {"llama-v3", llama3, true, true, false},
    {"llama-bpe", llama3, true, true, false},    {"falcon3", llama3, true, true, false},
    {"falcon-h1", llama3, true, true, false},    {"pixtral", llama3, true, true, false},
    {"midm-2.0", llama3, true, true, false},     {"lfm2", llama3, true, true, false},
    {"dbrx", llama3, false, false, false},       {"smaug-bpe", llama3, false, false, false},
    {"chatglm-bpe", llama3, false, false, false},
    {"qwen2", qwen2, false, false, true},       {"stablelm2", qwen2, false, false, false},
    {"hunyuan", qwen2, false, false, false},
    {"deepseek-llm", deepseek_llm, false, false, false},
    {"deepseek-coder", deepseek_coder, false, false, false},
    {"falcon", falcon, false, false, false},
    {"starcoder", starcoder, false, false, false}, {"refact", starcoder, false, false, false},
    {"command-r", starcoder, false, false, true},  {"smollm", starcoder, false, false, false},
    {"codeshell", starcoder, false, false, false}, {"exaone", starcoder, false, false, false},
    {"minerva-7b", starcoder, false, false, false},
    {"default", default_bpe, false, false, false},
    {"poro-chat", bloom, false, false, false},   {"bloom", bloom, false, false, false},
    {"gpt3-finnish", bloom, false, false, false},
    {"viking", viking, false, false, false},
};

bool tok_pre_preset_find(const char *name, tok_pre_preset *out) {
    if (name == NULL) {
        *out = (tok_pre_preset){gpt2, false, false, false};
        return true;
    }
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *out = (tok_pre_preset){presets[i].regexes, presets[i].ignore_merges, presets[i].add_bos, presets[i].nfc};
            return true;
        }
    }
    return false;
}

bool tok_pre_preset_nfc_without_name(const char *architecture) {
    return architecture != NULL && strcmp(architecture, "gptneox") == 0;
}
