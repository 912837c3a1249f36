/* RoPE inverse frequencies for one sequence, matching transformers 5.x
 * modeling_rope_utils.py (_compute_*_parameters) type by type. Computed in
 * double and rounded once to float (HF computes them in fp32; the goldens in
 * float64). dim = head_dim; inv_freq[i] for i < dim / 2. */
#include <math.h>

#include "common/error.h"
#include "model/rope_frequencies.h"

static void default_inv_freq(double base, int dim, double *inv_freq) {
    for (int i = 0; i < dim / 2; i++) inv_freq[i] = 1.0 / pow(base, (2.0 * i) / dim);
}

/* YaRN's get_mscale: 0.1 * mscale * ln(scale) + 1, or 1 when scale <= 1. */
static double yarn_get_mscale(double scale, double mscale) {
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

/* YaRN's find_correction_dim: the dimension whose wavelength makes
 * `num_rotations` turns over `max_positions` tokens. */
static double yarn_correction_dim(double num_rotations, int dim, double base, double max_positions) {
    return (dim * log(max_positions / (num_rotations * 2.0 * M_PI))) / (2.0 * log(base));
}

llmbed_status llmbed_rope_frequencies(const llmbed_config *config, int seq_len, float *inv_freq,
                                      float *attention_scaling, llmbed_error *error) {
    const llmbed_rope_scaling *rs = &config->rope_scaling;
    const int dim = config->head_dim, half = dim / 2;
    const double factor = rs->factor;
    const double original = rs->original_max_positions > 0 ? rs->original_max_positions
                                                           : config->max_positions;
    double base = config->rope_theta;
    double freq[LLMBED_ROPE_MAX_HEAD_DIM / 2];
    *attention_scaling = 1.0f;
    if (dim < 2 || dim > LLMBED_ROPE_MAX_HEAD_DIM || dim % 2 != 0)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "head_dim: %d is not an even size in [2, %d]", dim, LLMBED_ROPE_MAX_HEAD_DIM);
    if (rs->type != LLMBED_ROPE_NONE && !(factor > 0.0))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "rope_scaling.factor: %g is not positive",
                           factor);
    switch (rs->type) {
    case LLMBED_ROPE_NONE:
        default_inv_freq(base, dim, freq);
        break;
    case LLMBED_ROPE_LINEAR: /* positions / factor == inv_freq / factor */
        default_inv_freq(base, dim, freq);
        for (int i = 0; i < half; i++) freq[i] /= factor;
        break;
    case LLMBED_ROPE_DYNAMIC: {
        /* dynamic_rope_update: beyond max_position_embeddings the base grows with
         * this sequence's length; within it the original frequencies are used. */
        const double max_pos = config->max_positions;
        if (seq_len > max_pos)
            base *= pow(factor * seq_len / max_pos - (factor - 1.0), (double)dim / (dim - 2));
        default_inv_freq(base, dim, freq);
        break;
    }
    case LLMBED_ROPE_YARN: {
        double attention_factor = rs->attention_factor;
        if (!(attention_factor > 0.0)) {
            if (rs->mscale != 0.0f && rs->mscale_all_dim != 0.0f)
                attention_factor = yarn_get_mscale(factor, rs->mscale) /
                                   yarn_get_mscale(factor, rs->mscale_all_dim);
            else
                attention_factor = yarn_get_mscale(factor, 1.0);
        }
        const double beta_fast = rs->beta_fast != 0.0f ? rs->beta_fast : 32.0;
        const double beta_slow = rs->beta_slow != 0.0f ? rs->beta_slow : 1.0;
        double low = yarn_correction_dim(beta_fast, dim, base, original);
        double high = yarn_correction_dim(beta_slow, dim, base, original);
        if (rs->truncate) {
            low = floor(low);
            high = ceil(high);
        }
        low = low > 0.0 ? low : 0.0;
        high = high < dim - 1 ? high : dim - 1;
        if (low == high) high += 0.001; /* linear_ramp_factor's singularity guard */
        for (int i = 0; i < half; i++) {
            const double pos_freq = pow(base, (2.0 * i) / dim);
            double ramp = (i - low) / (high - low);
            ramp = ramp < 0.0 ? 0.0 : (ramp > 1.0 ? 1.0 : ramp);
            const double extrapolation = 1.0 - ramp;
            freq[i] = (1.0 / (factor * pos_freq)) * (1.0 - extrapolation) +
                      (1.0 / pos_freq) * extrapolation;
        }
        *attention_scaling = (float)attention_factor;
        break;
    }
    case LLMBED_ROPE_LLAMA3: {
        const double low_wavelen = original / rs->low_freq_factor;
        const double high_wavelen = original / rs->high_freq_factor;
        default_inv_freq(base, dim, freq);
        for (int i = 0; i < half; i++) {
            const double wavelen = 2.0 * M_PI / freq[i];
            if (wavelen > low_wavelen) {
                freq[i] /= factor;
            } else if (!(wavelen < high_wavelen)) {
                const double smooth = (original / wavelen - rs->low_freq_factor) /
                                      (rs->high_freq_factor - rs->low_freq_factor);
                freq[i] = (1.0 - smooth) * freq[i] / factor + smooth * freq[i];
            }
        }
        break;
    }
    default:
        return llmbed_fail(error, LLMBED_ERR_UNKNOWN_ROPE, "rope_scaling.type: unknown value %d",
                           (int)rs->type);
    }
    for (int i = 0; i < half; i++) inv_freq[i] = (float)freq[i];
    return LLMBED_OK;
}
