#include "comm/moments.h"

#include <math.h>
#include <pthread.h>

#include "base/error.h"
#include "comm/verdict.h"

void rmens_moments_clear(rmens_moments *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        m[i] = (rmens_moments){0, 0, 0, INFINITY, -INFINITY};
}

void rmens_moments_add(rmens_moments *m, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rmens_moments one = {1, x[i], 0, x[i], x[i]};
        rmens_moments_merge(&m[i], &one, 1);
    }
}

void rmens_moments_merge(rmens_moments *into, const rmens_moments *from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rmens_moments *a = &into[i];
        const rmens_moments *b = &from[i];
        if (b->count == 0)
            continue;
        if (a->count == 0) {
            *a = *b;
            continue;
        }
        double n_ab = a->count + b->count, delta = b->mean - a->mean;
        /* Chan, Golub & LeVeque: the weighted-mean update keeps precision when one side
         * is small; M2 gains delta^2 * na * nb / n. */
        a->mean += delta * (b->count / n_ab);
        a->m2 += b->m2 + delta * delta * (a->count * b->count / n_ab);
        a->count = n_ab;
        a->min = b->min < a->min ? b->min : a->min;
        a->max = b->max > a->max ? b->max : a->max;
    }
}

double rmens_moments_var(const rmens_moments *m) { return m->count > 0 ? m->m2 / m->count : 0.0; }

static MPI_Datatype moments_type = MPI_DATATYPE_NULL;
static MPI_Op moments_op = MPI_OP_NULL;

static void merge_op(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    (void)dt;
    /* MPI passes (in, inout) with in from the lower ranks: merging in into inout in that
     * fixed order keeps the result independent of timing. */
    rmens_moments *a = inout;
    const rmens_moments *b = in;
    for (int i = 0; i < *len; i++) {
        rmens_moments t = b[i];
        rmens_moments_merge(&t, &a[i], 1);
        a[i] = t;
    }
}

static rmens_status ensure_op(void)
{
    if (moments_op != MPI_OP_NULL)
        return RMENS_OK;
    RMENS_TRY(rmens_mpi_check(MPI_Type_contiguous(5, MPI_DOUBLE, &moments_type), "MPI_Type_contiguous"));
    RMENS_TRY(rmens_mpi_check(MPI_Type_commit(&moments_type), "MPI_Type_commit"));
    /* commute = 0: MPI applies the merge in rank order, so the floating-point result is
     * the same on every run. */
    RMENS_TRY(rmens_mpi_check(MPI_Op_create(merge_op, 0, &moments_op), "MPI_Op_create"));
    return RMENS_OK;
}

rmens_status rmens_moments_reduce(rmens_moments *inout, size_t n, int root, MPI_Comm comm)
{
    RMENS_TRY(ensure_op());
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    void *send = rank == root ? MPI_IN_PLACE : inout;
    return rmens_mpi_check(MPI_Reduce(send, rank == root ? inout : NULL, (int)n, moments_type, moments_op, root, comm),
                           "MPI_Reduce(moments)");
}
