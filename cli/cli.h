/* The rmens program: one function per subcommand, each returning the process exit
 * status (0 ok, 1 failure, 2 usage). MPI is initialised once in main. */
#ifndef RMENS_CLI_H
#define RMENS_CLI_H

#include "ensemble/prm.h"
#include "rmens_mpi.h"

int rmens_cmd_prep(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_synth(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_info(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_tensorboard(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_bench(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_train(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_score(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_bon(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_select(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_eval(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_merge(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_export(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_tokenize(int argc, char **argv, MPI_Comm comm);
/* rmens bench --tokenizer (cli/bench_tokenizer.c). */
int rmens_cmd_bench_tokenizer(int argc, char **argv, MPI_Comm comm);
int rmens_cmd_serve(int argc, char **argv, MPI_Comm comm);
/* train's SIGTERM/SIGUSR1 handlers (finish the step, save, exit 0), installed by main
 * before MPI_Init: a signal during the start-up must not kill the ranks. */
void rmens_cli_train_signals(void);

/* Rank 0 of comm prints "rmens <cmd>: <message>" to stderr for a failed status;
 * returns the exit code for st (every rank returns the same). */
int rmens_cli_report(MPI_Comm comm, const char *cmd, rmens_status st);
int rmens_cli_rank(MPI_Comm comm);
/* "rmens <cmd> <args...>" into buf: the command line kept in the files a command writes. */
const char *rmens_cli_command(char *buf, size_t size, const char *cmd, int argc, char **argv);
/* --normalize none|member -> 0 or 1 in *v; 0 on success. */
int rmens_cli_normalize(const char *s, int *v);
/* "min", "prod" or "last": a process reward model's solution aggregate. */
int rmens_cli_aggregate(const char *s, rmens_aggregate *a);
/* score's and eval's one default (*normalize < 0): member when the checkpoint has
 * reward statistics (every ensemble checkpoint), none for a model file. Collective. */
rmens_status rmens_cli_normalize_default(MPI_Comm comm, const char *ckpt, int *normalize);
/* Parses a whole decimal number / a finite double; 0 on success. */
int rmens_cli_int(const char *s, int64_t *v);
int rmens_cli_double(const char *s, double *v);
/* --step-separator S: S with \n, \t and \\ read as escapes, into out[size]. */
void rmens_cli_unescape(const char *s, char *out, size_t size);
/* --data-mem SIZE: bytes with an optional K, M or G suffix (powers of 1024); "0" reads
 * every file in chunks, "auto" (0 in *v) lets rmens_data_budget choose; 0 on success. */
int rmens_cli_data_mem(const char *s, int64_t *v);

#endif
