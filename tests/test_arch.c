/* Architecture descriptors (model/arch.h): configs from config.json keys, refusals by
 * name, tensors set by Hugging Face name, and model files of another architecture. */
#include <math.h>

#include "io/h5.h"
#include "io/modelfile.h"
#include "model/model.h"
#include "tests/check_util.h"

/* A config.json as key/value strings: numbers parsed, "null" absent, strings quoted. */
typedef struct {
    const char *const *kv;  /* key, value, key, value, ..., NULL */
} fake_json;

static const char *lookup(const fake_json *j, const char *key)
{
    for (const char *const *p = j->kv; *p; p += 2)
        if (strcmp(p[0], key) == 0)
            return strcmp(p[1], "null") == 0 ? NULL : p[1];
    return NULL;
}

static int get_num(void *ctx, const char *key, double *v)
{
    const char *s = lookup(ctx, key);
    if (!s)
        return 0;
    if (s[0] == '"')
        return -1;
    *v = strcmp(s, "true") == 0 ? 1 : strcmp(s, "false") == 0 ? 0 : atof(s);
    return 1;
}

static int get_str(void *ctx, const char *key, char *buf, size_t size)
{
    const char *s = lookup(ctx, key);
    if (!s)
        return 0;
    if (s[0] != '"')
        return -1;
    snprintf(buf, size, "%.*s", (int)strlen(s) - 2, s + 1);
    return 1;
}

static rmens_status from(const char *arch, const char *const *kv, rmens_model_config *c)
{
    fake_json j = {kv};
    rmens_config_source src = {&j, get_num, get_str};
    return rmens_arch_from_hf(c, arch, &src);
}

/* SmolLM2-135M's config.json (the keys rmens reads). */
static const char *const smollm2[] = {
    "model_type", "\"llama\"", "vocab_size", "49152", "max_position_embeddings", "8192", "num_hidden_layers", "30",
    "num_attention_heads", "9", "num_key_value_heads", "3", "hidden_size", "576", "intermediate_size", "1536",
    "rms_norm_eps", "1e-05", "rope_theta", "100000", "tie_word_embeddings", "true", "hidden_act", "\"silu\"",
    "rope_scaling", "null", "attention_bias", "false", "mlp_bias", "false", NULL};

START_TEST(config_from_hf)
{
    rmens_model_config c;
    ck_assert_int_eq(from("LlamaForCausalLM", smollm2, &c), RMENS_OK);
    ck_assert_int_eq(c.arch, RMENS_ARCH_LLAMA);
    ck_assert_int_eq(c.n_layer, 30);
    ck_assert_int_eq(c.n_kv_head, 3);
    ck_assert_int_eq(c.n_inner, 1536);
    ck_assert_int_eq(c.tie_embeddings, 1);
    ck_assert_int_eq(c.qkv_bias, 0);
    ck_assert_float_eq(c.rope_theta, 100000.0f);
    ck_assert_float_eq(c.norm_eps, 1e-5f);
    rmens_dims d;
    rmens_dims_of(&c, &d);
    ck_assert_int_eq(d.HD, 64);
    ck_assert_int_eq(d.Q, 576);
    ck_assert_int_eq(d.KV, 192);
    ck_assert_int_eq(d.rot, 64);
    /* Qwen2: q/k/v biases fixed by the architecture, not o_proj's */
    ck_assert_int_eq(from("Qwen2ForCausalLM", smollm2, &c), RMENS_OK);
    ck_assert_int_eq(c.qkv_bias, 1);
    ck_assert_int_eq(c.o_bias, 0);
    ck_assert_int_eq(from("qwen3", smollm2, &c), RMENS_OK);
    ck_assert_int_eq(c.qk_norm, 1);
    /* GPT-2's own keys */
    static const char *const gpt2[] = {"vocab_size", "50257", "n_positions", "1024", "n_ctx", "1024", "n_layer", "12",
                                       "n_head", "12", "n_embd", "768", "n_inner", "null", "activation_function",
                                       "\"gelu_new\"", NULL};
    ck_assert_int_eq(from("GPT2LMHeadModel", gpt2, &c), RMENS_OK);
    rmens_model_config want = {.vocab_size = 50257, .n_ctx = 1024, .n_layer = 12, .n_head = 12, .n_embd = 768};
    ck_assert_mem_eq(&c, &want, sizeof c);
}
END_TEST

/* Each of these replaces one key of SmolLM2's config and must be refused naming it. */
START_TEST(config_refusals)
{
    static const struct {
        const char *key, *value, *arch, *expect;
    } bad[] = {
        {"rope_scaling.rope_type", "\"yarn\"", "llama", "rope_scaling.rope_type"},
        {"use_sliding_window", "true", "qwen2", "sliding-window"},
        {"hidden_act", "\"gelu\"", "llama", "hidden_act"},
        {"mlp_bias", "true", "llama", "mlp_bias"},
        {"num_attention_heads", "\"nine\"", "llama", "num_attention_heads"},
        {"num_key_value_heads", "4", "llama", "multiple"},
        {"hidden_size", "2.5", "llama", "hidden_size"},
        {"vocab_size", "null", "llama", "vocab_size is missing"},
        {"rope_theta", "1", "MixtralForCausalLM", "Mixtral"},
        {"rope_theta", "1", "Qwen2MoeForCausalLM", "Qwen2Moe"},
        {"rope_scaling.rope_type", "\"llama3\"", "llama", "llama3 needs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *kv[64];
        int n = 0;
        for (const char *const *p = smollm2; *p; p += 2) {
            kv[n++] = p[0];
            kv[n++] = strcmp(p[0], bad[i].key) == 0 ? bad[i].value : p[1];
        }
        if (!lookup(&(fake_json){smollm2}, bad[i].key) && strcmp(bad[i].key, "vocab_size") != 0) {
            kv[n++] = bad[i].key;
            kv[n++] = bad[i].value;
        }
        kv[n] = NULL;
        rmens_model_config c;
        ck_assert_int_ne(from(bad[i].arch, kv, &c), RMENS_OK);
        ck_assert_msg(strstr(rmens_last_error(), bad[i].expect), "%s = %s: message \"%s\" lacks \"%s\"", bad[i].key,
                      bad[i].value, rmens_last_error(), bad[i].expect);
    }
}
END_TEST

START_TEST(tensors_by_name)
{
    const rmens_model_config g = {.vocab_size = 11, .n_ctx = 8, .n_layer = 2, .n_head = 2, .n_embd = 4};
    rmens_model *m;
    ck_assert_int_eq(rmens_model_alloc(&m, &g), RMENS_OK);
    ck_assert_int_eq(rmens_model_ndatasets(m), 2 + 12 * 2 + 3);
    float w[4 * 12] = {1, 2, 3, 4};
    int64_t d1[1] = {4}, d2[2] = {4, 12};
    int idx;
    /* GPT-2's own files name blocks without "transformer." */
    ck_assert_int_eq(rmens_model_set_tensor(m, "h.1.ln_2.weight", 1, d1, w, &idx), RMENS_OK);
    ck_assert_float_eq(m->t[RMENS_T_LN2W][4 + 3], 4.0f);
    ck_assert_int_eq(rmens_model_set_tensor(m, "lm_head.weight", 2, d2, w, &idx), RMENS_OK);
    ck_assert_int_eq(idx, RMENS_TENSOR_IGNORED);
    ck_assert_int_eq(rmens_model_find(m, "h.0.attn.bias"), RMENS_TENSOR_IGNORED);
    int64_t d2t[2] = {12, 4};
    ck_assert_int_eq(rmens_model_set_tensor(m, "transformer.h.0.attn.c_attn.weight", 2, d2, w, NULL), RMENS_OK);
    ck_assert_int_ne(rmens_model_set_tensor(m, "transformer.h.0.attn.c_attn.weight", 2, d2t, w, NULL), RMENS_OK);
    ck_assert_ptr_nonnull(strstr(rmens_last_error(), "[12, 4], the config makes it [4, 12]"));
    ck_assert_int_ne(rmens_model_set_tensor(m, "transformer.h.2.ln_1.weight", 1, d1, w, NULL), RMENS_OK);
    rmens_model_free(m);

    rmens_model_config c;
    ck_assert_int_eq(from("llama", smollm2, &c), RMENS_OK);
    c.n_layer = 2;
    c.vocab_size = 16;
    ck_assert_int_eq(rmens_model_alloc(&m, &c), RMENS_OK);
    ck_assert_int_eq(rmens_model_ndatasets(m), 1 + 9 * 2 + 2);
    char name[128];
    int rank;
    int64_t dims[2];
    float *p;
    /* table order, each tensor's layers together: embed, ln1 x2, q x2, k x2, ... */
    rmens_model_dataset(m, 5, name, sizeof name, &rank, dims, &p);
    ck_assert_str_eq(name, "model.layers.0.self_attn.k_proj.weight");
    ck_assert_int_eq(dims[0], 192);
    ck_assert_int_eq(dims[1], 576);
    ck_assert_ptr_eq(p, m->t[RMENS_T_KW]);
    ck_assert_int_eq(rmens_model_find(m, "layers.1.mlp.up_proj.weight"), 16);
    ck_assert_int_eq(rmens_model_find(m, "model.layers.0.self_attn.q_proj.bias"), RMENS_TENSOR_UNKNOWN);
    rmens_model_free(m);
}
END_TEST

START_TEST(llama_model_file_round_trip)
{
    rmens_model_config c;
    ck_assert_int_eq(from("qwen3", smollm2, &c), RMENS_OK);
    c.n_layer = 1;
    c.vocab_size = 16;
    c.rope_type = 1;
    c.rope_factor = 8;
    c.rope_low_freq = 1;
    c.rope_high_freq = 4;
    c.rope_original_ctx = 512;
    rmens_model *m, *back;
    ck_assert_int_eq(rmens_model_new(&m, &c, 5), RMENS_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/qwen3.h5", test_dir());
    ck_assert_int_eq(rmens_model_save(m, path), RMENS_OK);
    ck_assert_int_eq(rmens_model_load(&back, path, 1, NULL), RMENS_OK);
    ck_assert_mem_eq(&back->cfg, &c, sizeof c);
    ck_assert_int_eq(back->nparams, m->nparams);
    ck_assert_mem_eq(back->params, m->params, m->nparams * sizeof(float));
    /* norms start at 1, matrices at N(0, 0.02) */
    ck_assert_float_eq(back->t[RMENS_T_QNORM][0], 1.0f);
    double s2 = 0;
    int64_t n = rmens_tensor_numel(&c, RMENS_T_UPW);
    for (int64_t i = 0; i < n; i++)
        s2 += (double)back->t[RMENS_T_UPW][i] * back->t[RMENS_T_UPW][i];
    ck_assert_double_eq_tol(sqrt(s2 / (double)n), 0.02, 0.001);
    rmens_model_free(back);
    rmens_model_free(m);
}
END_TEST

Suite *arch_suite(void)
{
    Suite *s = suite_create("arch");
    TCase *tc = tcase_create("descriptors");
    tcase_add_test(tc, config_from_hf);
    tcase_add_test(tc, config_refusals);
    tcase_add_test(tc, tensors_by_name);
    tcase_add_test(tc, llama_model_file_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
