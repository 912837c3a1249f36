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
} named_preset;

static const named_preset presets[] = {
    {"gpt-2", gpt2, false, false},        {"phi-2", gpt2, false, false},
    {"jina-es", gpt2, false, false},      {"jina-de", gpt2, false, false},
    {"jina-v1-en", gpt2, false, false},   {"jina-v2-es", gpt2, false, false},
    {"jina-v2-de", gpt2, false, false},   {"jina-v2-code", gpt2, false, false},
    {"gigachat", gpt2, false, false},     {"roberta-bpe", gpt2, false, false},
    {"mpt", gpt2, false, false},          {"olmo", gpt2, false, false},
    {"jais", gpt2, false, false},         {"trillion", gpt2, false, false},
    {"granite-docling", gpt2, false, false},
    {"llama3", llama3, true, true},       {"llama-v3", llama3, true, true},
    {"llama-bpe", llama3, true, true},    {"falcon3", llama3, true, true},
    {"falcon-h1", llama3, true, true},    {"pixtral", llama3, true, true},
    {"midm-2.0", llama3, true, true},     {"lfm2", llama3, true, true},
    {"dbrx", llama3, false, false},       {"smaug-bpe", llama3, false, false},
    {"chatglm-bpe", llama3, false, false},
    {"qwen2", qwen2, false, false},       {"stablelm2", qwen2, false, false},
    {"hunyuan", qwen2, false, false},
    {"deepseek-llm", deepseek_llm, false, false},
    {"deepseek-coder", deepseek_coder, false, false},
    {"falcon", falcon, false, false},
    {"starcoder", starcoder, false, false}, {"refact", starcoder, false, false},
    {"command-r", starcoder, false, false},  {"smollm", starcoder, false, false},
    {"codeshell", starcoder, false, false}, {"exaone", starcoder, false, false},
    {"minerva-7b", starcoder, false, false},
    {"default", default_bpe, false, false},
    {"poro-chat", bloom, false, false},   {"bloom", bloom, false, false},
    {"gpt3-finnish", bloom, false, false},
    {"viking", viking, false, false},
};

bool tok_pre_preset_find(const char *name, tok_pre_preset *out) {
    if (name == NULL) {
        *out = (tok_pre_preset){gpt2, false, false};
        return true;
    }
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *out = (tok_pre_preset){presets[i].regexes, presets[i].ignore_merges, presets[i].add_bos};
            return true;
        }
    }
    return false;
}
