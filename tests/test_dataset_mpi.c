/* MPI tests of the data path: collective reads, and every rank sharing one verdict.
 * Check runs without fork (CK_FORK=no semantics) and MPI is initialised once here. Each
 * test does its collective calls first and asserts after, so a failing rank cannot
 * leave the others waiting; the failure count is combined over ranks for the exit. */
#include <hdf5.h>
#include <stdint.h>

#include "tests/check_util.h"
#include "comm/verdict.h"
#include "io/dataset.h"
#include "base/error.h"

static int rank, size;
static char dir[512];

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *u = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ u[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t dataset_hash(const rmens_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int s = 0; s < rmens_dataset_nsides(ds); s++) {
        h = fnv(ds->side[s].tokens, (size_t)ds->side[s].ntok * 4, h);
        h = fnv(ds->side[s].offsets, (size_t)(ds->n + 1) * 8, h);
        if (ds->has & RMENS_HAS_GOLD)
            h = fnv(ds->side[s].gold, (size_t)ds->n * 4, h);
    }
    if (ds->has & RMENS_HAS_PROMPT)
        h = fnv(ds->prompt_len, (size_t)ds->n * 4, h);
    if (ds->has & RMENS_HAS_TRAP)
        h = fnv(ds->trap, (size_t)ds->n, h);
    return h;
}

/* 1 on every rank iff x is the same on every rank of comm. */
static int same_everywhere(MPI_Comm comm, uint64_t x)
{
    uint64_t lo, hi;
    MPI_Allreduce(&x, &lo, 1, MPI_UINT64_T, MPI_MIN, comm);
    MPI_Allreduce(&x, &hi, 1, MPI_UINT64_T, MPI_MAX, comm);
    return lo == hi;
}

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

START_TEST(collective_read_matches_serial)
{
    char path[600];
    path_of(path, sizeof path, "synth.h5");
    rmens_dataset *par = NULL, *ser = NULL;
    rmens_status a = rmens_dataset_read_comm(&par, path, MPI_COMM_WORLD, -1);
    rmens_status b = rmens_dataset_read(&ser, path);
    uint64_t hp = a == RMENS_OK ? dataset_hash(par) : 1, hs = b == RMENS_OK ? dataset_hash(ser) : 2;
    int agree = same_everywhere(MPI_COMM_WORLD, hp);
    ck_assert_msg(a == RMENS_OK, "collective read: %s", rmens_last_error());
    ck_assert_msg(b == RMENS_OK, "serial read: %s", rmens_last_error());
    ck_assert_uint_eq(hp, hs);
    ck_assert(agree);
    ck_assert_int_eq(rmens_dataset_count(par), 500);
    ck_assert(par->has & RMENS_HAS_STEPS);
    rmens_dataset_free(par);
    rmens_dataset_free(ser);
}
END_TEST

START_TEST(subcommunicators_read_independently)
{
    /* Two groups (as two ensemble members would be) read collectively, each on its own. */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    char path[600];
    path_of(path, sizeof path, "synth.h5");
    rmens_dataset *ds = NULL;
    rmens_status st = rmens_dataset_read_comm(&ds, path, half, -1);
    uint64_t h = st == RMENS_OK ? dataset_hash(ds) : (uint64_t)rank;
    int agree = same_everywhere(MPI_COMM_WORLD, h);
    MPI_Comm_free(&half);
    ck_assert_msg(st == RMENS_OK, "%s", rmens_last_error());
    ck_assert(agree);
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(bad_file_fails_on_every_rank)
{
    const char *names[] = {"notes.txt", "absent.h5", "corrupt.h5"};
    const rmens_status want[] = {RMENS_ERR_FORMAT, RMENS_ERR_IO, RMENS_ERR_FORMAT};
    const char *what[] = {"not an HDF5 file", "cannot open", "/chosen/offsets[0] is 7"};
    for (int k = 0; k < 3; k++) {
        char path[600];
        path_of(path, sizeof path, names[k]);
        rmens_dataset *ds = (rmens_dataset *)0x1;
        rmens_status st = rmens_dataset_read_comm(&ds, path, MPI_COMM_WORLD, -1);
        const char *msg = rmens_last_error();
        int agree = same_everywhere(MPI_COMM_WORLD, fnv(msg, strlen(msg), 7)) &&
                    same_everywhere(MPI_COMM_WORLD, (uint64_t)st);
        ck_assert_msg(st == want[k], "%s: status %d: %s", names[k], st, msg);
        ck_assert_ptr_null(ds);
        ck_assert(agree);
        ck_assert_error_has(path);
        ck_assert_error_has(what[k]);
    }
}
END_TEST

START_TEST(verdict_from_one_rank)
{
    /* Only the last rank fails; everyone must return its status and message. */
    rmens_status mine = RMENS_OK;
    if (rank == size - 1)
        mine = rmens_fail(RMENS_ERR_INPUT, "rank %d found a bad record", rank);
    rmens_status st = rmens_verdict(MPI_COMM_WORLD, mine);
    char want[64];
    snprintf(want, sizeof want, "rank %d found a bad record", size - 1);
    ck_assert_int_eq(st, RMENS_ERR_INPUT);
    ck_assert_str_eq(rmens_last_error(), want);
    /* Two failing ranks: the lowest one's message wins, on every rank. */
    mine = rank >= 1 ? rmens_fail(RMENS_ERR_IO, "rank %d", rank) : RMENS_OK;
    st = rmens_verdict(MPI_COMM_WORLD, mine);
    ck_assert_int_eq(st, size > 1 ? RMENS_ERR_IO : RMENS_OK);
    if (size > 1)
        ck_assert_str_eq(rmens_last_error(), "rank 1");
    ck_assert_int_eq(rmens_verdict(MPI_COMM_WORLD, RMENS_OK), RMENS_OK);
}
END_TEST

static void setup_files(void)
{
    if (rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/rmens-mpi.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        rmens_synth_options o;
        rmens_synth_options_init(&o);
        o.task = RMENS_TASK_STEPS;
        o.n = 500;
        rmens_dataset *ds;
        char path[600];
        path_of(path, sizeof path, "synth.h5");
        if (rmens_synth(&o, &ds) != RMENS_OK || rmens_dataset_write(ds, path) != RMENS_OK) {
            fprintf(stderr, "setup: %s\n", rmens_last_error());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        path_of(path, sizeof path, "notes.txt");
        FILE *f = fopen(path, "w");
        fputs("not hdf5\n", f);
        fclose(f);
        /* corrupt.h5: a valid file whose first chosen offset is patched to 7. */
        char cmd[1400], src[600], dst[600];
        path_of(src, sizeof src, "synth.h5");
        path_of(dst, sizeof dst, "corrupt.h5");
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
        if (system(cmd) != 0)
            MPI_Abort(MPI_COMM_WORLD, 1);
        hid_t h = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t d = H5Dopen2(h, "/chosen/offsets", H5P_DEFAULT);
        hid_t fs = H5Dget_space(d);
        hsize_t start = 0, count = 1;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        hid_t ms = H5Screate_simple(1, &count, NULL);
        int64_t seven = 7;
        if (H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &seven) < 0)
            MPI_Abort(MPI_COMM_WORLD, 1);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        H5Fclose(h);
        rmens_dataset_free(ds);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    setup_files();

    Suite *s = suite_create("dataset_mpi");
    TCase *tc = tcase_create("collective");
    tcase_add_test(tc, collective_read_matches_serial);
    tcase_add_test(tc, subcommunicators_read_independently);
    tcase_add_test(tc, bad_file_fails_on_every_rank);
    tcase_add_test(tc, verdict_from_one_rank);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);  /* forked children cannot share MPI */
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr), total = 0;
    srunner_free(sr);
    MPI_Allreduce(&failed, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (failed && rank != 0)
        fprintf(stderr, "rank %d: %d test(s) failed\n", rank, failed);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", dir);
        printf("%d rank(s): %d failure(s) in total\n", size, total);
    }
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
