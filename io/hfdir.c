#include "io/hfdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct rmens_hfdir {
    char *dir;
    rmens_hf_config config;
    rmens_safetensors *weights;
    const char *prefix;  /* the backbone's prefix in canonical names */
    int bare;            /* the checkpoint stores the backbone without it */
};

rmens_status rmens_hfdir_open(rmens_hfdir **out, const char *dir)
{
    *out = NULL;
    rmens_hfdir *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    rmens_status s = rmens_hfconfig_read(dir, &d->config);
    if (s == RMENS_OK)
        s = rmens_safetensors_open(&d->weights, dir);
    if (s != RMENS_OK) {
        rmens_hfdir_close(d);
        return s;
    }
    /* saved from the bare backbone when no stored name carries the prefix */
    d->prefix = rmens_hf_backbone_prefix(d->config.family);
    d->bare = 1;
    for (int64_t i = 0; i < rmens_safetensors_count(d->weights) && d->bare; i++)
        d->bare = strncmp(rmens_safetensors_tensor(d->weights, i)->name, d->prefix, strlen(d->prefix)) != 0;
    *out = d;
    return RMENS_OK;
}

void rmens_hfdir_close(rmens_hfdir *d)
{
    if (!d)
        return;
    rmens_safetensors_close(d->weights);
    free(d->dir);
    free(d);
}

const rmens_hf_config *rmens_hfdir_config(const rmens_hfdir *d) { return &d->config; }
const rmens_safetensors *rmens_hfdir_weights(const rmens_hfdir *d) { return d->weights; }

static const char *stored_name(const rmens_hfdir *d, const char *name)
{
    size_t n = strlen(d->prefix);
    return d->bare && strncmp(name, d->prefix, n) == 0 ? name + n : name;
}

const rmens_st_tensor *rmens_hfdir_find(const rmens_hfdir *d, const char *name)
{
    return rmens_safetensors_find(d->weights, stored_name(d, name));
}

rmens_status rmens_hfdir_read(const rmens_hfdir *d, const char *name, int rank, const int64_t *shape, float *out)
{
    if (!rmens_hfdir_find(d, name) && d->bare && strcmp(name, stored_name(d, name)) != 0)
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor %s (as the checkpoint stores the bare backbone: %s)",
                          d->dir, name, stored_name(d, name));
    if (!rmens_hfdir_find(d, name))
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor %s", d->dir, name);
    return rmens_safetensors_read(d->weights, stored_name(d, name), rank, shape, out);
}
