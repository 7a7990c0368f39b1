#include "ensemble/bootstrap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"

rmens_status rmens_bootstrap_init(rmens_bootstrap *b, int64_t n, double fraction, uint64_t seed, int member)
{
    memset(b, 0, sizeof *b);
    if (n < 1)
        return rmens_fail(RMENS_ERR_ARG, "bootstrap of an empty data set");
    int64_t draws = fraction < 0 ? n : (int64_t)llround(fraction * (double)n);
    if (draws < 1)
        return rmens_fail(RMENS_ERR_ARG, "`bootstrap` %g of %lld pairs draws nothing", fraction, (long long)n);
    b->n = n;
    b->n_sample = draws;
    b->seed = seed;
    b->member = member;
    b->epoch = -1;
    b->counts = calloc((size_t)n, sizeof *b->counts);
    b->sample = malloc((size_t)draws * sizeof *b->sample);
    b->order = malloc((size_t)draws * sizeof *b->order);
    if (!b->counts || !b->sample || !b->order) {
        rmens_bootstrap_free(b);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a bootstrap sample of %lld", (long long)draws);
    }
    if (fraction < 0) {
        for (int64_t i = 0; i < n; i++)
            b->counts[i] = 1;
    } else {
        rmens_rng g;
        rmens_rng_init(&g, rmens_mix64(seed ^ RMENS_BOOT_SALT), (uint64_t)member);
        for (int64_t j = 0; j < draws; j++)
            b->counts[rmens_rng_below(&g, (uint64_t)n)]++;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        for (int32_t c = 0; c < b->counts[i]; c++)
            b->sample[k++] = i;
    return RMENS_OK;
}

void rmens_bootstrap_free(rmens_bootstrap *b)
{
    free(b->counts);
    free(b->sample);
    free(b->order);
    memset(b, 0, sizeof *b);
}

static void shuffle_epoch(rmens_bootstrap *b, int64_t e)
{
    memcpy(b->order, b->sample, (size_t)b->n_sample * sizeof *b->order);
    rmens_rng g;
    rmens_rng_init(&g, rmens_mix64(b->seed ^ RMENS_SHUF_SALT), ((uint64_t)b->member << 32) + (uint64_t)e);
    for (int64_t i = b->n_sample - 1; i > 0; i--) {
        int64_t j = (int64_t)rmens_rng_below(&g, (uint64_t)i + 1), t = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = t;
    }
    b->epoch = e;
}

void rmens_bootstrap_batch(rmens_bootstrap *b, int64_t step, int B, int64_t *idx)
{
    for (int i = 0; i < B; i++) {
        int64_t pos = step * B + i, e = pos / b->n_sample;
        if (e != b->epoch)
            shuffle_epoch(b, e);
        idx[i] = b->order[pos % b->n_sample];
    }
}

int64_t rmens_bootstrap_oob(const rmens_bootstrap *b, int64_t *out)
{
    int64_t k = 0;
    for (int64_t i = 0; i < b->n; i++)
        if (b->counts[i] == 0) {
            if (out)
                out[k] = i;
            k++;
        }
    return k;
}
