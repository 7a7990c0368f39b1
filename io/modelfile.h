/* The "model" file (docs/FORMAT.md): a reward model's weights as one float32 dataset per
 * tensor under /params/, named and shaped as in the architecture's Hugging Face state dict (model/arch.h). The
 * same layout is used under each member of an ensemble checkpoint. */
#ifndef RMENS_IO_MODELFILE_H
#define RMENS_IO_MODELFILE_H

#include <hdf5.h>

#include "model/model.h"

/* The config as attributes: the five GPT-2 fields always; for other architectures also
 * model_type and every field under its config.json name (model/arch.h's key table). */
rmens_status rmens_modelfile_write_config(hid_t obj, const rmens_model_config *cfg);
/* The "architecture" attribute: "<Arch>ForSequenceClassification". */
rmens_status rmens_modelfile_write_architecture(hid_t obj, const rmens_model_config *cfg);
rmens_status rmens_modelfile_read_config(hid_t obj, rmens_model_config *cfg);
/* The "tokenizer" root attribute of a model or checkpoint file ("" when it has none,
 * e.g. a Hugging Face conversion made without --tokenizer). */
rmens_status rmens_modelfile_tokenizer(const char *path, char *tok, size_t n);

/* Writes every tensor of m (params, or grads when grads is set) under group/. */
rmens_status rmens_modelfile_write_tensors(hid_t loc, const char *group, const rmens_model *m, int grads);
/* Datasets in the flat layout of cfg: one per tensor (and layer). */
int rmens_modelfile_ntensors(const rmens_model_config *cfg);
/* Before writing: checks that every value of base (laid out like the parameters of cfg)
 * is finite, naming group/tensor and the index otherwise (RMENS_ERR_NUMERIC), and
 * computes each tensor's CRC-32 into crcs[ntensors]. No HDF5 call. */
rmens_status rmens_modelfile_seal_flat(const char *group, const rmens_model_config *cfg, const float *base,
                                       uint32_t *crcs);
/* Creates the datasets of such a flat array (Adam moments, say) under group/, writing
 * base and its crc32 attributes; base NULL creates them without writing (collective
 * creation, owner writes), with crc32 attributes from crcs[ntensors] unless NULL. */
rmens_status rmens_modelfile_write_flat(hid_t loc, const char *group, const rmens_model_config *cfg,
                                        const float *base, const uint32_t *crcs);
/* Writes base into datasets write_flat created earlier (no collective call). */
rmens_status rmens_modelfile_fill_flat(hid_t loc, const char *group, const rmens_model_config *cfg, const float *base);
/* Reads such a flat array back (shapes checked; values need not be finite-checked),
 * verifying each tensor's crc32 where present (and requiring it when need_crc). */
rmens_status rmens_modelfile_read_flat(hid_t loc, const char *group, const rmens_model_config *cfg, float *base,
                                       int need_crc);

/* Reads every tensor into m->params, checking names, shapes, type, checksums (as
 * read_flat) and finiteness. *has_head = 0 when score.weight is absent (a language-model
 * checkpoint). */
rmens_status rmens_modelfile_read_tensors(hid_t loc, const char *group, rmens_model *m, int *has_head, int need_crc);

#endif
