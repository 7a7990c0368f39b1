/* The Hugging Face readers and writer driven from tests/hf_checkpoints.sh, whose Python
 * side (tests/hf_fixtures.py) wrote the inputs and checks the outputs independently.
 *
 *   hf_tool list PATH               name, dtype, shape, file of every tensor; then metadata
 *   hf_tool dump PATH OUT           also every readable tensor as float32, in list order
 *   hf_tool read PATH NAME D0 D1..  reads one tensor expecting that shape
 *   hf_tool config PATH             the config.json record, one field a line
 *   hf_tool write PATH OUT F32|BF16 every readable tensor written to one safetensors file
 *   hf_tool rmconfig DIR OUT PAD DTYPE  config.json for a reward model on DIR's backbone
 *   hf_tool hfdump DIR OUT < NAMES  tensors by canonical name (io/hfdir.h), as float32;
 *                                   prints "absent NAME" for those not there
 * Errors: "hf_tool: message" on stderr, exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/hfconfig.h"
#include "io/hfdir.h"
#include "io/safetensors.h"

static int die(void)
{
    fprintf(stderr, "hf_tool: %s\n", rmens_last_error());
    return 1;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int list(const char *path, const char *dump)
{
    rmens_safetensors *st;
    if (rmens_safetensors_open(&st, path) != RMENS_OK)
        return die();
    FILE *out = dump ? fopen(dump, "wb") : NULL;
    if (dump && !out) {
        perror(dump);
        return 1;
    }
    int rc = 0;
    for (int64_t i = 0; i < rmens_safetensors_count(st) && rc == 0; i++) {
        const rmens_st_tensor *t = rmens_safetensors_tensor(st, i);
        printf("%s\t%s\t[", t->name, t->dtype);
        for (int d = 0; d < t->rank; d++)
            printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("]\t%s\n", base_of(t->file));
        if (!out || !t->readable)
            continue;
        float *buf = malloc((size_t)(t->count ? t->count : 1) * sizeof *buf);
        if (!buf || rmens_safetensors_read(st, t->name, t->rank, t->shape, buf) != RMENS_OK)
            rc = buf ? die() : 1;
        else if (fwrite(buf, sizeof *buf, (size_t)t->count, out) != (size_t)t->count)
            rc = 1;
        free(buf);
    }
    const char *fmt = rmens_safetensors_metadata(st, "format");
    printf("#metadata format=%s\n", fmt ? fmt : "(none)");
    if (out && fclose(out) != 0)
        rc = 1;
    rmens_safetensors_close(st);
    return rc;
}

static int read_one(const char *path, const char *name, int rank, char **dims)
{
    rmens_safetensors *st;
    if (rmens_safetensors_open(&st, path) != RMENS_OK)
        return die();
    int64_t shape[RMENS_ST_MAX_RANK], n = 1;
    for (int i = 0; i < rank && i < RMENS_ST_MAX_RANK; i++)
        n *= shape[i] = atoll(dims[i]);
    float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    int rc = rmens_safetensors_read(st, name, rank, shape, buf) != RMENS_OK ? die() : 0;
    if (rc == 0)
        printf("read %s: %lld values\n", name, (long long)n);
    free(buf);
    rmens_safetensors_close(st);
    return rc;
}

static int config(const char *path)
{
    rmens_hf_config c;
    if (rmens_hfconfig_read(path, &c) != RMENS_OK)
        return die();
    printf("family=%s\nmodel_type=%s\narchitecture=%s\nsequence_classification=%d\n", rmens_hf_family_name(c.family),
           c.model_type, c.architecture, c.sequence_classification);
    printf("vocab_size=%lld\nhidden_size=%lld\nintermediate_size=%lld\nnum_hidden_layers=%lld\n",
           (long long)c.vocab_size, (long long)c.hidden_size, (long long)c.intermediate_size,
           (long long)c.num_hidden_layers);
    printf("num_attention_heads=%lld\nnum_key_value_heads=%lld\nhead_dim=%lld\nmax_position_embeddings=%lld\n",
           (long long)c.num_attention_heads, (long long)c.num_key_value_heads, (long long)c.head_dim,
           (long long)c.max_position_embeddings);
    printf("norm_eps=%.17g\nrope_theta=%.17g\npartial_rotary_factor=%.17g\nrotary_dim=%lld\n", c.norm_eps,
           c.rope_theta, c.partial_rotary_factor, (long long)c.rotary_dim);
    printf("rope_llama3=%d\nrope_factor=%.17g\nrope_low_freq_factor=%.17g\nrope_high_freq_factor=%.17g\n",
           c.rope_llama3, c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor);
    printf("rope_original_max_position_embeddings=%lld\n", (long long)c.rope_original_max_position_embeddings);
    printf("hidden_act=%s\nact=%d\ntie_word_embeddings=%d\nattention_bias=%d\nqkv_bias=%d\no_bias=%d\n",
           c.hidden_act_name, (int)c.hidden_act, c.tie_word_embeddings, c.attention_bias, c.qkv_bias, c.o_bias);
    printf("mlp_bias=%d\nqk_norm=%d\nuse_parallel_residual=%d\n", c.mlp_bias, c.qk_norm, c.use_parallel_residual);
    printf("bos_token_id=%lld\neos_token_id=%lld\npad_token_id=%lld\nnum_labels=%lld\neos_token_ids=",
           (long long)c.bos_token_id, (long long)c.eos_token_id, (long long)c.pad_token_id, (long long)c.num_labels);
    for (int i = 0; i < c.n_eos; i++)
        printf("%s%lld", i ? "," : "", (long long)c.eos_token_ids[i]);
    printf("\nbackbone_prefix=%s\n", rmens_hf_backbone_prefix(c.family));
    return 0;
}

static int write_copy(const char *path, const char *out, const char *dtype)
{
    rmens_safetensors *st;
    if (rmens_safetensors_open(&st, path) != RMENS_OK)
        return die();
    int64_t n = rmens_safetensors_count(st), k = 0;
    rmens_st_out *ts = calloc((size_t)n + 1, sizeof *ts);
    int rc = 0;
    /* in reverse name order: the file keeps the caller's order */
    for (int64_t i = n - 1; i >= 0 && rc == 0; i--) {
        const rmens_st_tensor *t = rmens_safetensors_tensor(st, i);
        if (!t->readable)
            continue;
        float *buf = malloc((size_t)(t->count ? t->count : 1) * sizeof *buf);
        if (rmens_safetensors_read(st, t->name, t->rank, t->shape, buf) != RMENS_OK)
            rc = die();
        ts[k++] = (rmens_st_out){t->name, t->rank, t->shape, buf};
    }
    static const char *const meta[] = {"writer", "rmens hf_tool"};
    if (rc == 0 && rmens_safetensors_write(out, ts, k, strcmp(dtype, "BF16") == 0 ? RMENS_ST_BF16 : RMENS_ST_F32,
                                           meta, 1) != RMENS_OK)
        rc = die();
    for (int64_t i = 0; i < k; i++)
        free((void *)(uintptr_t)ts[i].data);  /* allocated above; const in the writer's record */
    free(ts);
    rmens_safetensors_close(st);
    return rc;
}

static int rmconfig(const char *dir, const char *out, const char *pad, const char *dtype)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    static char text[1 << 20];
    size_t n = f ? fread(text, 1, sizeof text, f) : 0;
    if (f)
        fclose(f);
    if (!f) {
        perror(path);
        return 1;
    }
    return rmens_hfconfig_write_rm(out, path, text, n, atoll(pad), dtype) != RMENS_OK ? die() : 0;
}

static int hfdump(const char *dir, const char *dump)
{
    rmens_hfdir *d;
    if (rmens_hfdir_open(&d, dir) != RMENS_OK)
        return die();
    FILE *out = fopen(dump, "wb");
    char name[1024];
    int rc = out ? 0 : 1;
    while (rc == 0 && fgets(name, sizeof name, stdin)) {
        name[strcspn(name, "\n")] = 0;
        const rmens_st_tensor *t = rmens_hfdir_find(d, name);
        if (!t) {
            printf("absent %s\n", name);
            if (rmens_hfdir_read(d, name, 0, NULL, NULL) == RMENS_OK)
                rc = 1;
            else
                printf("%s\n", rmens_last_error());
            continue;
        }
        float *buf = malloc((size_t)(t->count ? t->count : 1) * sizeof *buf);
        if (rmens_hfdir_read(d, name, t->rank, t->shape, buf) != RMENS_OK)
            rc = die();
        else if (fwrite(buf, sizeof *buf, (size_t)t->count, out) != (size_t)t->count)
            rc = 1;
        free(buf);
    }
    if (out && fclose(out) != 0)
        rc = 1;
    rmens_hfdir_close(d);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 2 ? argv[1] : "";
    if (strcmp(cmd, "list") == 0 && argc == 3)
        return list(argv[2], NULL);
    if (strcmp(cmd, "dump") == 0 && argc == 4)
        return list(argv[2], argv[3]);
    if (strcmp(cmd, "read") == 0 && argc >= 4)
        return read_one(argv[2], argv[3], argc - 4, argv + 4);
    if (strcmp(cmd, "config") == 0 && argc == 3)
        return config(argv[2]);
    if (strcmp(cmd, "write") == 0 && argc == 5)
        return write_copy(argv[2], argv[3], argv[4]);
    if (strcmp(cmd, "hfdump") == 0 && argc == 4)
        return hfdump(argv[2], argv[3]);
    if (strcmp(cmd, "rmconfig") == 0 && argc == 6)
        return rmconfig(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: hf_tool list|dump|read|config|write|rmconfig ... (see tests/hf_tool.c)\n");
    return 2;
}
