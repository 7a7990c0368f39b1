#include "comm/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "comm/verdict.h"

/* A limit file's value in bytes; 0 for none ("max", v1's "no limit" of about 2^63, or
 * absent). */
static double limit_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[64] = "";
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || v <= 0 || v >= 4e18)
        return 0;
    return v;
}

static void take(double *mem, char *source, size_t n, double v, const char *why)
{
    if (v > 0 && v < *mem) {
        *mem = v;
        snprintf(source, n, "%s", why);
    }
}

/* The control group's limits: for each hierarchy in /proc/self/cgroup (v2 "0::/path",
 * v1 "N:...memory...:/path"), the group and its ancestors; inside a container's cgroup
 * namespace the group is the mount's root, so that is read too. */
static void cgroup_limits(double *mem, char *source, size_t n)
{
    const char *root = getenv("RMENS_TEST_CGROUP_ROOT"), *proc = getenv("RMENS_TEST_PROC_CGROUP");
    root = root && *root ? root : "/sys/fs/cgroup";
    FILE *f = fopen(proc && *proc ? proc : "/proc/self/cgroup", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1, *path = c2 + 1;
        int v2 = ctl[0] == '\0', v1 = 0;
        for (const char *p = ctl; !v2 && (p = strstr(p, "memory")); p += 6)
            v1 |= (p == ctl || p[-1] == ',') && (p[6] == '\0' || p[6] == ',');
        if (!v1 && !v2)
            continue;
        const char *bases[] = {v2 ? "" : "/memory", v2 ? "/unified" : "/memory"};
        const char *file = v2 ? "memory.max" : "memory.limit_in_bytes";
        for (int b = 0; b < (v2 ? 2 : 1); b++) {
            char dir[4096], full[4200], why[4400];
            snprintf(dir, sizeof dir, "%s", path);
            for (;;) {  /* the group, then each ancestor up to the root */
                snprintf(full, sizeof full, "%s%s%s/%s", root, bases[b], strcmp(dir, "/") == 0 ? "" : dir, file);
                snprintf(why, sizeof why, "the cgroup limit %s", full);
                take(mem, source, n, limit_file(full), why);
                char *slash = strrchr(dir, '/');
                if (!slash || strcmp(dir, "/") == 0 || dir[0] == '\0')
                    break;
                if (slash == dir)
                    snprintf(dir, sizeof dir, "/");
                else
                    *slash = '\0';
            }
        }
    }
    if (f)
        fclose(f);
}

double rmens_memory_allowance(char *source, size_t n)
{
    double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    snprintf(source, n, "the node's memory");
    const char *node = getenv("SLURM_MEM_PER_NODE"), *cpu = getenv("SLURM_MEM_PER_CPU"),
               *cpus = getenv("SLURM_CPUS_ON_NODE");
    if (node)
        take(&mem, source, n, atof(node) * 1048576.0, "SLURM_MEM_PER_NODE");
    if (cpu)
        take(&mem, source, n, atof(cpu) * 1048576.0 * (cpus && atoi(cpus) > 0 ? atoi(cpus) : 1),
             "SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE");
    cgroup_limits(&mem, source, n);
    return mem;
}

rmens_status rmens_memory_ranks_on_node(MPI_Comm comm, int *n)
{
    *n = 1;
    if (comm == MPI_COMM_NULL)
        return RMENS_OK;
    MPI_Comm node = MPI_COMM_NULL;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
                              "MPI_Comm_split_type(node)"));
    rmens_status st = rmens_mpi_check(MPI_Comm_size(node, n), "MPI_Comm_size(node)");
    MPI_Comm_free(&node);
    return st;
}

static const char *human(char *buf, size_t n, double bytes)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5)
        bytes /= 1024, u++;
    snprintf(buf, n, "%.1f %s", bytes, unit[u]);
    return buf;
}

void rmens_memory_advice(char *buf, size_t n, double alt, const char *option, const char *advice)
{
    char a[32];
    if (alt > 0)
        snprintf(buf, n, "%s would need about %s per rank; or %s", option, human(a, sizeof a, alt), advice);
    else
        snprintf(buf, n, "%s", advice);
}

rmens_status rmens_memory_check(MPI_Comm comm, const char *cmd, double need, const char *what, const char *advice)
{
    int on_node = 1;
    RMENS_TRY(rmens_memory_ranks_on_node(comm, &on_node));
    char source[4500], a[32], b[32], c[32];
    double allowed = rmens_memory_allowance(source, sizeof source), share = allowed / on_node;
    rmens_status st = need > share
                          ? rmens_fail(RMENS_ERR_ARG, "%s needs about %s per rank (%s) but a rank may use %s (%s: %s, "
                                       "shared by %d rank%s on the node): %s", cmd, human(a, sizeof a, need), what,
                                       human(b, sizeof b, share), source, human(c, sizeof c, allowed), on_node,
                                       on_node > 1 ? "s" : "", advice)
                          : RMENS_OK;
    return comm == MPI_COMM_NULL ? st : rmens_verdict(comm, st);
}
