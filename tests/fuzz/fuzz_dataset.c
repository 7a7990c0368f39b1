/* Fuzz target: the pairs/responses reader and validator on arbitrary bytes as an HDF5
 * file (seeds: valid files from rmens synth and rmens prep, mutated byte by byte).
 *
 * Most mutations break the HDF5 container itself, so this target mostly exercises
 * libhdf5's parser, which has known crashes in 1.10 (tests/fuzz/README.md); what
 * reaches rmens' own checks is covered far better by fuzz_dataset_fields.
 *
 * Oracles (fuzz_check_dataset_file): no internal error or message-less failure; every
 * HDF5 id closed; whole and streamed reads agree; an accepted file keeps the format's
 * promises (fuzz_walk_dataset), reads back the same once written by rmens
 * (fuzz_round_trip), and rmens info describes it. */
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "in.h5");
    fuzz_write_file(path, data, size);

    fuzz_check_dataset_file(path, size & 1);
    fuzz_clean_dir();
    return 0;
}
