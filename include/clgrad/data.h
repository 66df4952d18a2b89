/*
** clgrad/data.h: datasets on the host: synthetic generators (deterministic
** from the seed), CSV and IDX files, the train/test split, standardisation,
** minibatch order, and NumPy .npy files.
**
** A dataset is row-major float32:
**   x: (n, seq_len, features) for sequence tasks, (n, features) otherwise (seq_len = 1)
**   y: (n, 1): the regression target, the binary label 0/1, or the class index as a float
** Generators and the split depend only on the seed and the config, never on
** the device or on the host's libm beyond IEEE arithmetic where documented.
*/
#ifndef CLGRAD_DATA_H
#define CLGRAD_DATA_H
#include "clgrad/config.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { CLGRAD_TASK_REGRESSION = 0, CLGRAD_TASK_BINARY = 1, CLGRAD_TASK_MULTICLASS = 2 } clgrad_task;

typedef struct clgrad_dataset {
    size_t n;        /* samples */
    size_t features; /* per time step */
    size_t seq_len;  /* 1 for non-sequence data */
    clgrad_task task;
    size_t classes;  /* multiclass: K (targets are 0..K-1); binary: 2; regression: 0 */
    float *x;        /* owned: (n, seq_len, features) */
    float *y;        /* owned: (n, 1) */
} clgrad_dataset;

void clgrad_dataset_free(clgrad_dataset *d); /* frees x, y; zeroes the struct; NULL-safe */

/* Build the train and test sets the config describes (generate or read, then
** split by test_fraction with a seeded shuffle, then standardise features with
** the train mean/std if asked).  On error returns -1 with a message naming the
** file (and line/column for CSV) in err; nothing is allocated then. */
int clgrad_data_load(const clgrad_data_section *cfg, uint64_t seed, clgrad_dataset *train, clgrad_dataset *test,
                     char *err, size_t nerr);

/* Minibatch order: the sample indices of epoch e, reshuffled from (seed, e)
** when shuffle is set, sequential otherwise.  idx has n entries. */
void clgrad_data_epoch_order(size_t n, uint64_t seed, long epoch, int shuffle, size_t *idx);

/* Gather rows idx[0..b) of d into x (b, seq_len, features) and y (b, 1). */
void clgrad_data_gather(const clgrad_dataset *d, const size_t *idx, size_t b, float *x, float *y);

/* NumPy .npy (format 1.0, '<f4', C order).  Write atomically (temp + rename).
** Read checks the header against the file's real size.  0 on success, else -1 + err. */
int clgrad_npy_write(const char *path, const float *data, const size_t *shape, int ndim, char *err, size_t nerr);
int clgrad_npy_read(const char *path, float **data, size_t *shape, int *ndim, int maxdim, char *err, size_t nerr);
#endif
