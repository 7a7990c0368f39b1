/* Fuzz target: the checkpoint and model loaders on arbitrary bytes as an HDF5 file
 * (seeds: small checkpoints from rmens train and small model and checkpoint files
 * made to the format, mutated byte by byte): rmens_checkpoint_read_header,
 * rmens_checkpoint_read_member, rmens_model_load, rmens_ensemble_open with scoring,
 * rmens info (fuzz_exercise_checkpoint in fuzz_util.c).
 *
 * As with fuzz_dataset, byte-level mutation mostly exercises libhdf5's own parser
 * (tests/fuzz/README.md); fuzz_checkpoint_fields drives rmens' checks instead. */
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "in.h5");
    fuzz_write_file(path, data, size);
    fuzz_exercise_checkpoint(path);
    fuzz_clean_dir();
    return 0;
}
