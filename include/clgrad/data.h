/*
** clgrad/data.h: datasets on the host: synthetic generators (deterministic
** from the seed), CSV and IDX files, the train/test split, standardisation,
** minibatch order, and NumPy .npy files.
**
** A dataset is row-major float32:
**   x: (n, seq_len, features) for sequence tasks, (n, features) otherwise (seq_len = 1)
**   y: (n, 1): the regression target, the binary label 0/1, or the class index as a float
** Generators, the split and the epoch order depend only on the seed and the
** config: their random numbers come from an integer generator (xoshiro256**
** seeded by splitmix64) and every floating-point step uses IEEE-exact
** operations only (+ - * / sqrt and the library's own log/exp/sin/cos written
** with those), so the same config and seed give the same bytes on every
** IEEE-754 host (see src/run/data_internal.h for the details).
**
** Every function that can fail returns a clgrad_status (the library's one
** convention, include/clgrad/core.h): CLGRAD_OK, or an error status (CLGRAD_E_IO
** for a file or data problem) with a message in err (nerr bytes, NULL-safe) that names the file (and line/column for CSV);
** on failure nothing is left allocated in the outputs (they are zeroed).
**
** Generators ([data] kind; count = samples, noise = noise unless said):
**   linreg   regression, d = features.  x = z diag(s) Q^T where z (n, d) has
**            i.i.d. N(0,1) entries that are then centred and whitened
**            (modified Gram-Schmidt, twice) so that z^T z / n = I exactly when
**            n > d; s_j = condition^(-j / (2 (d-1))) (1 down to
**            1/sqrt(condition)); Q is a random orthogonal (Haar) d x d matrix.
**            So the covariance X^T X / n of the generated set equals
**            Q diag(s^2) Q^T: condition number `condition` (to rounding) with
**            the ill-conditioning not aligned with the axes, so standardising
**            does not undo it.  (n <= d: no whitening; z is i.i.d. normal.)
**            y = x . w* + noise * N(0,1), w* ~ N(0, I_d) from the seed (no
**            intercept); y uses the float32 x the model sees.
**   moons    binary, 2 features, sklearn make_moons: n//2 points on the
**            upper half circle (label 0), the rest on the shifted lower one
**            (label 1), N(0, noise^2) added to both coordinates, shuffled.
**   circles  binary, 2 features, sklearn make_circles(factor=0.5): n//2 on
**            the unit circle (label 0), the rest on radius 0.5 (label 1),
**            angles 2 pi i / m (endpoint excluded), noise added, shuffled.
**   xor      binary, 2 features: four clusters centred at (+-1, +-1), n/4
**            each (the first n%4 clusters one more), N(0, noise^2) around the
**            centre; label 1 when the centre's signs differ (XOR), so large
**            noise makes labels overlap like moons/circles.  Shuffled.
**   blobs    multiclass, K = classes, d = features: sklearn make_blobs:
**            centres uniform in [-10, 10]^d from the seed, cluster std =
**            noise, n//K per class (the first n%K classes one more), shuffled.
**   spirals  multiclass, K = classes, 2 features, the cs231n construction:
**            for arm j with m points, r_i = i/(m-1), theta_i = 4j + 4i/(m-1)
**            + noise * N(0,1) (cs231n used noise 0.2), x = (r sin t, r cos t).
**   adding   regression, seq_len = T >= 2 steps x 2 features (Hochreiter &
**            Schmidhuber 1997, in the form of Le et al. 2015): feature 0 is
**            uniform in [0, 1), feature 1 is a marker that is 1 at exactly two
**            steps, one uniform in [0, T/2) and one in [T/2, T); y = the sum of
**            the two marked values.  noise is not used.
**   temporal_order  multiclass, K = 4, seq_len = T >= 2 steps x 6 features
**            (Hochreiter & Schmidhuber 1997 task 6a, as in Pascanu et al.
**            2013, without the B/E framing symbols): each step is one-hot
**            over {a, b, c, d, X, Y}; distractors a-d uniform everywhere
**            except at t1 uniform in [floor(T/10), floor(2T/10)] and t2 uniform
**            in [floor(5T/10), floor(6T/10)], which hold X or Y; class =
**            2*[s1 == Y] + [s2 == Y] (XX=0, XY=1, YX=2, YY=3).  noise unused.
**
** Files:
**   csv      header row, then one row per sample; the column named `target`
**            is y, every other column is a feature (in file order).  RFC 4180
**            basics: ',' separators, "quoted" fields with "" for a quote (they
**            may hold commas and line breaks), LF or CRLF line ends, a UTF-8
**            BOM is skipped, blank lines are skipped, spaces around a value
**            are ignored.  Values are decimal numbers ([+-]digits[.digits]
**            [e[+-]digits]); NaN and Inf are rejected with an error (a data
**            file with NaN is a user error worth naming, not something to
**            train on), as are values outside float32 range.  task:
**            regression (any value), binary (exactly 0 or 1), multiclass
**            (integers 0..65535; K = max + 1, at least 2).  Errors read
**            "FILE:LINE: column 'NAME': message" (e.g. "data.csv:17: column
**            'x3': 'abc' is not a number"), ragged rows name the expected and
**            found field counts, a missing target lists the columns.
**   idx      MNIST format: images (magic 0x00000803 u8, or type 0x0D float32
**            big-endian; 2 to 16 dims: n, then the sample's dims, features =
**            their product) and labels (0x00000801 u8, one dim).  The
**            header's size (overflow-checked) must equal the file's real size
**            before anything is allocated.  u8 images are scaled to [0, 1]
**            (v / 255); float32 images are taken as they are (must be
**            finite).  Multiclass with K = max label + 1 (at least 2).  A
**            gzip file, a wrong magic, a truncated file and an image/label
**            count mismatch are errors.
**   cifar10  CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin): path
**            is one file or a comma list (read in that order, concatenated).
**            Each record is 3073 bytes: the label (0..9), then 3072 pixel
**            bytes: the 32x32 red plane, green, blue, rows top to bottom;
**            features = 3072 in that order (PyTorch's CHW layout, flattened),
**            scaled to [0, 1] (v / 255).  Multiclass with K = 10 always.
**            Every file's size must be a non-zero multiple of 3073 (checked
**            before anything is allocated; the message gives the record and
**            leftover byte counts, and names CIFAR-100's 3074-byte records); a
**            label above 9 names the file, record and byte offset; a gzip file
**            (the .tar.gz archive) is named as such.
*/
#ifndef CLGRAD_DATA_H
#define CLGRAD_DATA_H
#include "clgrad/config.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLGRAD_TASK_REGRESSION = 0, CLGRAD_TASK_BINARY = 1, CLGRAD_TASK_MULTICLASS = 2 } clgrad_task;

/* "regression" | "binary" | "multiclass" */
const char *clgrad_task_name(clgrad_task t);

/* The largest class count a CSV or IDX file may give (labels 0..65535). */
#define CLGRAD_DATA_MAX_CLASSES 65536

typedef struct clgrad_dataset {
    size_t n;        /* samples */
    size_t features; /* per time step */
    size_t seq_len;  /* 1 for non-sequence data */
    clgrad_task task;
    size_t classes;  /* multiclass: K (targets are 0..K-1); binary: 2; regression: 0 */
    float *x;        /* owned: (n, seq_len, features); NULL when n = 0 */
    float *y;        /* owned: (n, 1); NULL when n = 0 */
} clgrad_dataset;

void clgrad_dataset_free(clgrad_dataset *d); /* frees x, y; zeroes the struct; NULL-safe */

/* Build the train and test sets the config describes: generate (kind is a
** generator) or read (csv, idx), then split by test_fraction with a seeded
** shuffle (clgrad_data_split), then standardise the features with the train
** mean/std when cfg->standardize is set (clgrad_data_standardize).  test->n
** is 0 when test_fraction is 0.  Paths are used as given (relative to the
** current directory). */
clgrad_status clgrad_data_load(const clgrad_data_section *cfg, uint64_t seed, clgrad_dataset *train, clgrad_dataset *test,
                     char *err, size_t nerr);

/* The steps of clgrad_data_load, for callers and tests that need one. */
/* A synthetic set (cfg->kind a generator), unsplit. */
clgrad_status clgrad_data_generate(const clgrad_data_section *cfg, uint64_t seed, clgrad_dataset *out, char *err, size_t nerr);
/* task: "regression" (also "" or NULL), "binary" or "multiclass". */
clgrad_status clgrad_data_read_csv(const char *path, const char *target, const char *task, clgrad_dataset *out, char *err,
                         size_t nerr);
clgrad_status clgrad_data_read_idx(const char *images, const char *labels, clgrad_dataset *out, char *err, size_t nerr);
/* paths: one CIFAR-10 batch file or a comma list of them (items trimmed). */
clgrad_status clgrad_data_read_cifar10(const char *paths, clgrad_dataset *out, char *err, size_t nerr);

/* Split `all` into train and test: n_test = round(test_fraction * n), at
** least 1 when test_fraction > 0 and n >= 2, at most n - 1.  When
** test_fraction > 0 the samples are first put in a random order drawn from
** seed (the first n_test go to test, the rest to train, both in that order);
** with test_fraction = 0 train is a copy of all in file order and test is
** empty.  test_fraction must be in [0, 1). */
clgrad_status clgrad_data_split(const clgrad_dataset *all, double test_fraction, uint64_t seed, clgrad_dataset *train,
                      clgrad_dataset *test, char *err, size_t nerr);

/* z-score every feature (per feature index, over all samples and time steps
** of train) with the TRAIN mean and population std (ddof 0, as sklearn's
** StandardScaler), applied to train and to test (test may be NULL or empty).
** A constant feature (std <= 10 * DBL_EPSILON * |mean|, so also std 0) is
** only centred (scale 1), as sklearn does.  mean and scale, when not NULL,
** receive the `features` values used (x' = (x - mean) / scale).  y is not
** touched.  Fails only when out of memory. */
clgrad_status clgrad_data_standardize(clgrad_dataset *train, clgrad_dataset *test, double *mean, double *scale, char *err,
                            size_t nerr);

/* Minibatch order: the sample indices of epoch e, reshuffled from (seed, e)
** when shuffle is set (Fisher-Yates with unbiased bounded integers; each
** epoch's permutation depends only on seed and e), 0..n-1 otherwise.  idx has
** n entries. */
void clgrad_data_epoch_order(size_t n, uint64_t seed, long epoch, int shuffle, size_t *idx);

/* Gather rows idx[0..b) of d into x (b, seq_len, features) and y (b, 1). */
void clgrad_data_gather(const clgrad_dataset *d, const size_t *idx, size_t b, float *x, float *y);

/* NumPy .npy (format 1.0, '<f4', C order), byte for byte as numpy >= 1.23
** writes it: "\x93NUMPY\x01\x00", a little-endian u16 header length, then
** "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" followed by
** numpy's spare spaces, padded with spaces and a final '\n' so that the data
** starts at a multiple of 64.  shape[0..ndim) with 0 <= ndim <= 32 (ndim 0 is
** a scalar: one value).  Write is atomic (a temp file in the same directory,
** fsync, rename) and converts to little-endian on big-endian hosts.  Read
** accepts format 1.0, 2.0 and 3.0 headers, descr '<f4' only, fortran_order
** False (True only for ndim <= 1), checks the data size against the file's
** real size before allocating, and returns *data malloc'd (free() it; at
** least one float is allocated even for an empty array), shape[0..*ndim). */
clgrad_status clgrad_npy_write(const char *path, const float *data, const size_t *shape, int ndim, char *err, size_t nerr);
clgrad_status clgrad_npy_read(const char *path, float **data, size_t *shape, int *ndim, int maxdim, char *err, size_t nerr);

#ifdef __cplusplus
}
#endif
#endif
