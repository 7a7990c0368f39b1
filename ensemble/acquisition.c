#include "ensemble/acquisition.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "ensemble/uncertainty.h"

const char *const rmens_acquisition_names[RMENS_ACQ_N] = {"random", "std", "votes", "bald", "entropy", "thompson"};

/* The uncertainty signal behind each acquisition, or -1. */
static const int signal_of[RMENS_ACQ_N] = {-1, RMENS_SIGNAL_STD, RMENS_SIGNAL_VOTES, RMENS_SIGNAL_BALD,
                                           RMENS_SIGNAL_ENTROPY, -1};

/* "select" in ASCII: keeps these draws apart from the bootstrap's of the same seed. */
#define SELECT_SALT 0x73656c6563740000ull

int rmens_acquisition_parse(const char *name, rmens_acquisition *a)
{
    for (int k = 0; k < RMENS_ACQ_N; k++)
        if (strcmp(name, rmens_acquisition_names[k]) == 0) {
            *a = (rmens_acquisition)k;
            return 0;
        }
    return -1;
}

int rmens_acquisition_needs_members(rmens_acquisition a)
{
    return a == RMENS_ACQ_THOMPSON || (signal_of[a] >= 0 && rmens_signal_needs_members((rmens_signal)signal_of[a]));
}

static void pair_rng(rmens_rng *g, uint64_t seed, int64_t i)
{
    rmens_rng_init(g, rmens_mix64(seed ^ SELECT_SALT), (uint64_t)i);
}

uint64_t rmens_acquisition_key(uint64_t seed, int64_t i)
{
    rmens_rng g;
    pair_rng(&g, seed, i);
    return rmens_rng_u64(&g);
}

void rmens_acquisition_draw_members(uint64_t seed, int64_t i, int K, int *k1, int *k2)
{
    rmens_rng g;
    pair_rng(&g, seed, i);
    (void)rmens_rng_u64(&g);  /* the tie key */
    *k1 = (int)rmens_rng_below(&g, (uint64_t)K);
    *k2 = K > 1 ? (int)rmens_rng_below(&g, (uint64_t)K - 1) : 0;
    *k2 += K > 1 && *k2 >= *k1;
}

double rmens_acquisition_value(rmens_acquisition a, const double *d, int K, uint64_t seed, int64_t i)
{
    if (a == RMENS_ACQ_RANDOM)
        return 0;
    if (a == RMENS_ACQ_THOMPSON) {
        int k1, k2;
        rmens_acquisition_draw_members(seed, i, K, &k1, &k2);
        return -(d[k1] * d[k2]);  /* (-x)(-y) = xy exactly: symmetric as it stands */
    }
    /* The signals are symmetric in exact arithmetic but not in rounding (sigmoid(-x) is
     * not exactly 1 - sigmoid(x)): the mean over both orientations is, as the sum of two
     * doubles does not depend on their order. */
    double s[RMENS_SIGNAL_N], t[RMENS_SIGNAL_N], neg[64], *n = K <= 64 ? neg : malloc((size_t)K * sizeof *n);
    if (!n)
        return NAN;
    for (int k = 0; k < K; k++)
        n[k] = -d[k];
    rmens_signals(s, d, K);
    rmens_signals(t, n, K);
    if (n != neg)
        free(n);
    return 0.5 * (s[signal_of[a]] + t[signal_of[a]]);
}

typedef struct {
    double v;
    uint64_t key;
    int64_t i;
} ranked;

static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    const int na = isnan(a->v), nb = isnan(b->v);
    if (na != nb)
        return na - nb;
    if (!na && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

rmens_status rmens_acquisition_rank(const double *value, int64_t n, uint64_t seed, int64_t *order)
{
    ranked *r = malloc((size_t)n * sizeof *r + 1);
    if (!r)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld pairs", (long long)n);
    for (int64_t i = 0; i < n; i++)
        r[i] = (ranked){value[i], rmens_acquisition_key(seed, i), i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int64_t i = 0; i < n; i++)
        order[i] = r[i].i;
    free(r);
    return RMENS_OK;
}
