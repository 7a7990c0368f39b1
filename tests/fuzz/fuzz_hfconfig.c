/* Fuzz target: rmens_hfconfig_parse on the bytes of a config.json.
 *
 * Oracles besides the sanitizers: a failure has a message naming config.json; an
 * accepted config keeps what the record promises (positive sizes, heads a multiple of
 * key-value heads, a rotary dimension that is even and within head_dim, token ids
 * inside the vocabulary, a known family and activation, finite positive epsilon). */
#include <math.h>
#include <string.h>

#include "io/hfconfig.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rmens_hf_config c;
    rmens_status s = rmens_hfconfig_parse("config.json", (const char *)data, size, &c);
    if (s != RMENS_OK) {
        fuzz_check_status(s, "rmens_hfconfig_parse");
        if (strncmp(rmens_last_error(), "config.json: ", 13) != 0)
            fuzz_fail("the message does not name config.json: %s", rmens_last_error());
        return 0;
    }
    if (c.vocab_size < 1 || c.hidden_size < 1 || c.intermediate_size < 1 || c.num_hidden_layers < 1 ||
        c.num_attention_heads < 1 || c.num_key_value_heads < 1 || c.head_dim < 1 || c.max_position_embeddings < 1)
        fuzz_fail("a size is not positive");
    if (c.num_attention_heads % c.num_key_value_heads)
        fuzz_fail("heads %lld, key-value heads %lld", (long long)c.num_attention_heads,
                  (long long)c.num_key_value_heads);
    if (c.family != RMENS_HF_GPT2 && (c.rotary_dim < 2 || c.rotary_dim % 2 || c.rotary_dim > c.head_dim ||
                                      !(c.rope_theta > 0) || !isfinite(c.rope_theta)))
        fuzz_fail("rotary dimension %lld of head_dim %lld, theta %g", (long long)c.rotary_dim, (long long)c.head_dim,
                  c.rope_theta);
    if (c.rope_llama3 && !(c.rope_factor > 0 && c.rope_low_freq_factor < c.rope_high_freq_factor &&
                           c.rope_original_max_position_embeddings > 0))
        fuzz_fail("llama3 rope scaling accepted with bad values");
    if (!(c.norm_eps > 0) || !isfinite(c.norm_eps) || c.num_labels < 1 || c.n_eos < 0 || c.n_eos > RMENS_HF_MAX_EOS)
        fuzz_fail("eps %g, labels %lld, %d eos ids", c.norm_eps, (long long)c.num_labels, c.n_eos);
    int64_t ids[3 + RMENS_HF_MAX_EOS] = {c.bos_token_id, c.pad_token_id, c.eos_token_id};
    memcpy(ids + 3, c.eos_token_ids, sizeof c.eos_token_ids);
    for (int i = 0; i < 3 + c.n_eos; i++)
        if (ids[i] < -1 || ids[i] >= c.vocab_size)
            fuzz_fail("token id %lld outside the vocabulary of %lld", (long long)ids[i], (long long)c.vocab_size);
    if (strcmp(rmens_hf_family_name(c.family), c.model_type) != 0 || c.hidden_act > RMENS_HF_ACT_SILU ||
        strlen(c.architecture) >= sizeof c.architecture)
        fuzz_fail("family %s for model_type %s", rmens_hf_family_name(c.family), c.model_type);
    return 0;
}
