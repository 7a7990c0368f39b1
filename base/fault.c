/* Fault injection for the tests (base/fault.h); built only with --enable-fault-injection. */
#include "base/fault.h"

#ifdef RMENS_FAULT_INJECTION
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int rmens_fault_nofallocate(void)
{
    const char *f = getenv("RMENS_FAULT_NOFALLOCATE");
    return f && *f == '1';
}

void rmens_fault_save(int rank)
{
    static int saves = 0;
    const char *f = getenv("RMENS_FAULT_SAVE");
    int r, n;
    saves++;
    if (f && sscanf(f, "%d:%d", &r, &n) == 2 && r == rank && n == saves)
        _exit(9);
}

int64_t rmens_fault_nan(int64_t member, int64_t step, size_t nparams, size_t dflt)
{
    const char *f = getenv("RMENS_FAULT_NAN");
    long long k, s, i = -1;
    if (!f || sscanf(f, "%lld:%lld:%lld", &k, &s, &i) < 2 || k != member || s != step)
        return -1;
    return i >= 0 && (size_t)i < nparams ? (int64_t)i : (int64_t)dflt;
}

void rmens_fault_fsize(void)
{
    const char *fsize = getenv("RMENS_FAULT_FSIZE");
    if (fsize && *fsize) {
        struct rlimit lim;
        getrlimit(RLIMIT_FSIZE, &lim);
        lim.rlim_cur = (rlim_t)strtoull(fsize, NULL, 10);
        setrlimit(RLIMIT_FSIZE, &lim);
    }
}
#endif
