/* The "model" file (docs/FORMAT.md): a reward model's weights as one float32 dataset per
 * tensor under /params/, named and shaped as in a Hugging Face GPT-2 state dict. The
 * same layout is used under each member of an ensemble checkpoint. */
#ifndef RMENS_IO_MODELFILE_H
#define RMENS_IO_MODELFILE_H

#include <hdf5.h>

#include "ensemble/model.h"

rmens_status rmens_modelfile_write_config(hid_t obj, const rmens_model_config *cfg);
rmens_status rmens_modelfile_read_config(hid_t obj, rmens_model_config *cfg);

/* Writes every tensor of m (params, or grads when grads is set) under group/. */
rmens_status rmens_modelfile_write_tensors(hid_t loc, const char *group, const rmens_model *m, int grads);
/* The same for any flat array laid out like the parameters of cfg (Adam moments, say);
 * base NULL creates the datasets without writing (collective creation, owner writes). */
rmens_status rmens_modelfile_write_flat(hid_t loc, const char *group, const rmens_model_config *cfg,
                                        const float *base);
/* Writes base into datasets write_flat created earlier (no collective call). */
rmens_status rmens_modelfile_fill_flat(hid_t loc, const char *group, const rmens_model_config *cfg, const float *base);
/* Reads such a flat array back (shapes checked; values need not be finite-checked). */
rmens_status rmens_modelfile_read_flat(hid_t loc, const char *group, const rmens_model_config *cfg, float *base);

/* Reads every tensor into m->params, checking names, shapes, type and finiteness.
 * *has_head = 0 when score.weight is absent (a language-model checkpoint). */
rmens_status rmens_modelfile_read_tensors(hid_t loc, const char *group, rmens_model *m, int *has_head);

#endif
