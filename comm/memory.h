/* How much memory a rank may use, and refusing a run that needs more before it
 * allocates: the kernel's OOM killer would otherwise end it (exit 137, no message),
 * and with it whatever else runs on the node. */
#ifndef RMENS_COMM_MEMORY_H
#define RMENS_COMM_MEMORY_H

#include <mpi.h>

#include "rmens.h"

/* Bytes the node allows this process: the least of its physical memory, SLURM's
 * allocation (SLURM_MEM_PER_NODE; SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE, both in MiB)
 * and its control group's limit (cgroup v2 memory.max, v1 memory.limit_in_bytes, of its
 * own group and the groups above it). source (n bytes) names the one that binds.
 * RMENS_TEST_CGROUP_ROOT and RMENS_TEST_PROC_CGROUP replace /sys/fs/cgroup and
 * /proc/self/cgroup (tests/memory.sh). */
double rmens_memory_allowance(char *source, size_t n);

/* Collective over comm (MPI_COMM_NULL: serial): how many of comm's ranks share this
 * rank's node. */
rmens_status rmens_memory_ranks_on_node(MPI_Comm comm, int *n);

/* A refusal's advice into buf: "<option> would need about <alt> per rank; or <advice>",
 * or advice alone when alt is 0 (the option is on already). */
void rmens_memory_advice(char *buf, size_t n, double alt, const char *option, const char *advice);

/* Collective: refuses (RMENS_ERR_ARG on every rank, with the figures) when the most any
 * rank needs (need bytes; what: its breakdown, for the message) exceeds its share of its
 * node's allowance. cmd names the command in the message, advice ends it. */
rmens_status rmens_memory_check(MPI_Comm comm, const char *cmd, double need, const char *what, const char *advice);

#endif
