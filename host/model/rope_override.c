/* "TYPE:FACTOR[:ORIGINAL]" -> llmbed_rope_scaling, with the defaults
 * transformers' modeling_rope_utils.py applies to a dict of that type. */
#include "model/rope_override.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ROPE_SPEC_HELP "expected none, linear:F, dynamic:F, yarn:F[:ORIG] or llama3:F[:ORIG] (F > 0)"

static int parse_type(const char *name, size_t len, llmbed_rope_type *type) {
    static const struct {
        const char *name;
        llmbed_rope_type type;
    } types[] = {{"linear", LLMBED_ROPE_LINEAR},
                 {"dynamic", LLMBED_ROPE_DYNAMIC},
                 {"yarn", LLMBED_ROPE_YARN},
                 {"llama3", LLMBED_ROPE_LLAMA3}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strlen(types[i].name) == len && strncmp(types[i].name, name, len) == 0) {
            *type = types[i].type;
            return 1;
        }
    }
    return 0;
}

llmbed_status llmbed_rope_override_apply(const char *spec, llmbed_config *config, llmbed_error *error) {
    llmbed_rope_scaling rs;
    memset(&rs, 0, sizeof rs);
    rs.type = LLMBED_ROPE_NONE;
    rs.factor = 1.0f;
    rs.beta_fast = 32.0f;
    rs.beta_slow = 1.0f;
    rs.truncate = true;
    if (strcmp(spec, "none") == 0) {
        config->rope_scaling = rs;
        return LLMBED_OK;
    }
    const char *colon = strchr(spec, ':');
    if (colon == NULL || !parse_type(spec, (size_t)(colon - spec), &rs.type))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "rope scaling '%s' (--rope-scaling): " ROPE_SPEC_HELP,
                           spec);
    char *end = NULL;
    errno = 0;
    const double factor = strtod(colon + 1, &end);
    if (end == colon + 1 || errno != 0 || !(factor > 0.0) || !isfinite(factor) || (*end != '\0' && *end != ':'))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "rope scaling '%s' (--rope-scaling): bad factor: " ROPE_SPEC_HELP, spec);
    rs.factor = (float)factor;
    rs.original_max_positions = config->max_positions;
    if (*end == ':') {
        const char *orig_text = end + 1;
        errno = 0;
        const long original = strtol(orig_text, &end, 10);
        const int takes_original = rs.type == LLMBED_ROPE_YARN || rs.type == LLMBED_ROPE_LLAMA3;
        if (!takes_original || end == orig_text || *end != '\0' || errno != 0 || original < 1 ||
            original > config->max_positions)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "rope scaling '%s' (--rope-scaling): ORIG (yarn and llama3 only) must be in [1, %d], the model's "
                               "max_position_embeddings",
                               spec, config->max_positions);
        rs.original_max_positions = (int)original;
    }
    if (rs.type == LLMBED_ROPE_LLAMA3) {
        rs.low_freq_factor = 1.0f; /* Llama 3.1's published values */
        rs.high_freq_factor = 4.0f;
    }
    config->rope_scaling = rs;
    return LLMBED_OK;
}
