/*
** data_file.c: datasets read from files: CSV (a header row, a named target
** column, numeric features; RFC 4180 quoting, LF/CRLF), IDX (the MNIST
** format, images + labels) and CIFAR-10 binary batches.  Every error names
** the file, and for CSV the line and column.  IDX headers and CIFAR-10 file
** sizes are checked against the file's real size before anything is
** allocated, so a hostile header cannot trigger a huge allocation.  The formats accepted are documented in include/clgrad/data.h.
*/
#include "run/data_internal.h"
#include "util/csv.h"
#include "util/fsutil.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading a whole file ---- */

FILE *clgrad_data_open_sized(const char *path, size_t *size, char *err, size_t nerr)
{
    if (!path || !*path) {
        clgrad_data_err(err, nerr, "no file given ([data] path is empty)");
        return NULL;
    }
    /* O_NONBLOCK: opening a FIFO must not wait for a writer before it is
    ** rejected below; it is cleared again for the reads */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        clgrad_data_err(err, nerr, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        clgrad_data_err(err, nerr, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ? NULL : fdopen(fd, "rb");
    if (!f) {
        clgrad_data_err(err, nerr, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if ((uintmax_t)st.st_size > (uintmax_t)(SIZE_MAX - 1)) {
        clgrad_data_err(err, nerr, "%s: file too large", path);
        fclose(f);
        return NULL;
    }
    *size = (size_t)st.st_size;
    return f;
}

clgrad_status clgrad_data_read_exact(FILE *f, void *dst, size_t n, const char *path, char *err, size_t nerr)
{
    if (n && fread(dst, 1, n, f) != n)
        return clgrad_data_err(err, nerr, "%s: read error or file changed while reading (%s)", path,
                               ferror(f) ? strerror(errno) : "unexpected end of file");
    return 0;
}

/* ==== CSV ==== */

typedef struct csv_ {
    const char *path;
    clgrad_csv_reader rd;  /* the splitter (util/csv.h): the current record's fields */
    char **names;          /* header names once known (for messages), else NULL */
    size_t ncols;
} csv_;

static int grow_(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem) return -1;
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* "column 'x3'", or "column 3" when the header has no name for it. */
static const char *col_(const csv_ *c, size_t j, char *tmp, size_t ntmp)
{
    if (c->names && j < c->ncols && c->names[j][0])
        snprintf(tmp, ntmp, "column '%s'", c->names[j]);
    else
        snprintf(tmp, ntmp, "column %zu", j + 1);
    return tmp;
}

static int oom_(csv_ *c, char *err, size_t nerr) { return clgrad_data_err(err, nerr, "%s: out of memory", c->path); }

/* The next non-blank record (clgrad_csv_next) in c->rd.  1 = a record, 0 = end of file, -1 = error. */
static int record_(csv_ *c, size_t *rec_line, char *err, size_t nerr)
{
    int rc = clgrad_csv_next(&c->rd);
    if (rc >= 0) {
        *rec_line = c->rd.rec_line;
        return rc;
    }
    char tmp[160];
    const char *col = col_(c, c->rd.err_field, tmp, sizeof tmp);
    size_t line = c->rd.err_line;
    switch (c->rd.err) {
    case CLGRAD_CSVR_NOMEM: return oom_(c, err, nerr);
    case CLGRAD_CSVR_UNTERMINATED:
        return clgrad_data_err(err, nerr, "%s:%zu: %s: unterminated quoted field (the quote opened on line %zu)",
                               c->path, line, col, line);
    case CLGRAD_CSVR_AFTER_QUOTE:
        return clgrad_data_err(err, nerr, "%s:%zu: %s: unexpected '%c' after the closing quote", c->path, line, col,
                               c->rd.err_char);
    case CLGRAD_CSVR_QUOTE_IN_FIELD:
        return clgrad_data_err(err, nerr, "%s:%zu: %s: quote inside an unquoted field (quote the whole field)",
                               c->path, line, col);
    default: return clgrad_data_err(err, nerr, "%s:%zu: %s: a NUL byte (is this a text file?)", c->path, line, col);
    }
}

/* s without leading and trailing spaces/tabs, in place. */
static char *trim_(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

static int ieq_(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a, y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

/* A decimal number: [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits].
** 0 ok; 1 not a number; 2 NaN/Inf; 3 outside float32 range; 5 strtod
** disagrees (LC_NUMERIC is not "C": the program called setlocale). */
static int number_(const char *s, double *v)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (ieq_(p, "nan") || ieq_(p, "inf") || ieq_(p, "infinity")) return 2;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return 1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return 1;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return 1;
    errno = 0;
    char *end;
    *v = strtod(s, &end);
    if (*end) return 5; /* valid syntax, but strtod stopped: a locale with another decimal point */
    if ((errno == ERANGE && fabs(*v) == HUGE_VAL) || fabs(*v) > FLT_MAX) return 3;
    return 0;
}

typedef struct csv_out_ {
    float *x, *y;
    size_t xcap, ycap, n;
} csv_out_;

static void free_names_(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The header: column names (trimmed), no duplicates; find the target. */
static int header_(csv_ *c, const char *target, size_t *tcol, char *err, size_t nerr)
{
    size_t line = 0;
    int rc = record_(c, &line, err, nerr);
    if (rc < 0) return -1;
    if (rc == 0) return clgrad_data_err(err, nerr, "%s: the file is empty (expected a header row)", c->path);
    c->names = calloc(c->rd.nf, sizeof *c->names);
    if (!c->names) return oom_(c, err, nerr);
    c->ncols = c->rd.nf;
    for (size_t j = 0; j < c->rd.nf; j++)
        if (!(c->names[j] = strdup(trim_(c->rd.f[j])))) return oom_(c, err, nerr);
    for (size_t j = 0; j < c->ncols; j++)
        for (size_t k = 0; k < j; k++)
            if (c->names[j][0] && !strcmp(c->names[j], c->names[k]))
                return clgrad_data_err(err, nerr, "%s:%zu: column '%s' appears twice (columns %zu and %zu)", c->path,
                                       line, c->names[j], k + 1, j + 1);
    *tcol = c->ncols;
    for (size_t j = 0; j < c->ncols; j++)
        if (target && !strcmp(c->names[j], target)) *tcol = j;
    if (*tcol == c->ncols || !target || !*target) {
        char list[512] = "";
        size_t used = 0;
        for (size_t j = 0; j < c->ncols && used < sizeof list - 1; j++) {
            int w = snprintf(list + used, sizeof list - used, "%s'%s'", j ? ", " : "", c->names[j]);
            used = w < 0 ? sizeof list - 1 : used + (size_t)w;
            if (used >= sizeof list - 1) strcpy(list + sizeof list - 5, "...");
        }
        if (!target || !*target)
            return clgrad_data_err(err, nerr, "%s: [data] target is not set; name the target column (columns: %s)",
                                   c->path, list);
        return clgrad_data_err(err, nerr, "%s:%zu: no column named '%s' for the target (columns: %s)", c->path, line,
                               target, list);
    }
    if (c->ncols < 2)
        return clgrad_data_err(err, nerr, "%s:%zu: only the target column '%s'; there are no feature columns",
                               c->path, line, target);
    return 0;
}

/* One data row into out (features in file order without the target, then y). */
static int row_(csv_ *c, size_t line, size_t tcol, clgrad_task task, csv_out_ *o, char *err, size_t nerr)
{
    char tmp[160];
    if (c->rd.nf != c->ncols)
        return clgrad_data_err(err, nerr, "%s:%zu: %zu fields, but the header has %zu columns", c->path, line, c->rd.nf,
                               c->ncols);
    size_t nfeat = c->ncols - 1;
    if (grow_((void **)&o->x, &o->xcap, (o->n + 1) * nfeat, sizeof *o->x) ||
        grow_((void **)&o->y, &o->ycap, o->n + 1, sizeof *o->y))
        return oom_(c, err, nerr);
    float *x = o->x + o->n * nfeat;
    for (size_t j = 0; j < c->ncols; j++) {
        char *s = trim_(c->rd.f[j]);
        double v = 0;
        int bad = *s ? number_(s, &v) : 4;
        if (bad) {
            static const char *const why[] = {
                "", "is not a number", "is not a finite number (NaN and Inf are not accepted)",
                "is outside the float32 range", "", "cannot be converted (LC_NUMERIC is not the C locale)"};
            if (bad == 4)
                return clgrad_data_err(err, nerr, "%s:%zu: %s: empty value", c->path, c->rd.fline[j],
                                       col_(c, j, tmp, sizeof tmp));
            return clgrad_data_err(err, nerr, "%s:%zu: %s: '%.60s' %s", c->path, c->rd.fline[j],
                                   col_(c, j, tmp, sizeof tmp), s, why[bad]);
        }
        if (j != tcol) {
            *x++ = (float)v;
            continue;
        }
        if (task == CLGRAD_TASK_BINARY && v != 0.0 && v != 1.0)
            return clgrad_data_err(err, nerr, "%s:%zu: %s: label '%s' is not 0 or 1 (task binary)", c->path,
                                   c->rd.fline[j], col_(c, j, tmp, sizeof tmp), s);
        if (task == CLGRAD_TASK_MULTICLASS && (v != floor(v) || v < 0 || v >= CLGRAD_DATA_MAX_CLASSES))
            return clgrad_data_err(err, nerr,
                                   "%s:%zu: %s: label '%s' is not an integer class in 0..%d (task multiclass)", c->path,
                                   c->rd.fline[j], col_(c, j, tmp, sizeof tmp), s, CLGRAD_DATA_MAX_CLASSES - 1);
        o->y[o->n] = (float)v;
    }
    o->n++;
    return 0;
}

static int parse_task_(const char *task, clgrad_task *t)
{
    if (!task || !*task || !strcmp(task, "regression")) *t = CLGRAD_TASK_REGRESSION;
    else if (!strcmp(task, "binary")) *t = CLGRAD_TASK_BINARY;
    else if (!strcmp(task, "multiclass")) *t = CLGRAD_TASK_MULTICLASS;
    else return -1;
    return 0;
}

/* Parse the whole buffer into out. */
static int csv_parse_(csv_ *c, const char *target, clgrad_task task, clgrad_dataset *out, char *err, size_t nerr)
{
    size_t tcol = 0, line = 0;
    csv_out_ o = {0};
    int rc = header_(c, target, &tcol, err, nerr);
    while (rc == 0) {
        int r = record_(c, &line, err, nerr);
        if (r <= 0) {
            rc = r;
            break;
        }
        rc = row_(c, line, tcol, task, &o, err, nerr);
    }
    if (rc == 0 && o.n == 0) rc = clgrad_data_err(err, nerr, "%s: no data rows after the header", c->path);
    size_t classes = task == CLGRAD_TASK_BINARY ? 2 : 0;
    if (rc == 0 && task == CLGRAD_TASK_MULTICLASS) {
        float mx = 0;
        for (size_t i = 0; i < o.n; i++) mx = o.y[i] > mx ? o.y[i] : mx;
        classes = (size_t)mx + 1;
        if (classes < 2)
            rc = clgrad_data_err(err, nerr, "%s: column '%s': every label is 0; multiclass needs at least 2 classes",
                                 c->path, target);
    }
    if (rc == 0) {
        out->n = o.n;
        out->seq_len = 1;
        out->features = c->ncols - 1;
        out->task = task;
        out->classes = classes;
        out->x = o.x;
        out->y = o.y;
        return 0;
    }
    free(o.x);
    free(o.y);
    return -1;
}

clgrad_status clgrad_data_read_csv(const char *path, const char *target, const char *task, clgrad_dataset *out, char *err,
                         size_t nerr)
{
    memset(out, 0, sizeof *out);
    clgrad_task t;
    if (parse_task_(task, &t))
        return clgrad_data_err(err, nerr, "[data] task: unknown '%s'; allowed: regression, binary, multiclass", task);
    if (!path || !*path) return clgrad_data_err(err, nerr, "no file given ([data] path is empty)");
    size_t size;
    char *buf;
    int e = clgrad_fs_read_all(path, 0, 1, &buf, &size), rc = e ? -1 : 0;
    if (e == EINVAL || e == EISDIR) clgrad_data_err(err, nerr, "%s: not a regular file", path);
    else if (e == ENOMEM || e == EFBIG) clgrad_data_err(err, nerr, "%s: out of memory reading it", path);
    else if (e) clgrad_data_err(err, nerr, "cannot open %s: %s", path, strerror(e));
    if (rc == 0) {
        csv_ c = {.path = path};
        clgrad_csv_begin(&c.rd, buf, size);
        rc = csv_parse_(&c, target, t, out, err, nerr);
        clgrad_csv_end(&c.rd);
        free_names_(c.names, c.ncols);
    }
    free(buf);
    if (rc) memset(out, 0, sizeof *out);
    return clgrad_status_of_(rc, CLGRAD_E_IO);
}

/* ==== IDX ==== */

#define IDX_MAXDIMS 16

typedef struct idx_ {
    const char *path;
    FILE *f;
    unsigned type, ndims;
    size_t dims[IDX_MAXDIMS];
    size_t count;    /* elements */
    size_t elsize;
} idx_;

static uint32_t be32_(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void dims_str_(const idx_ *h, char *s, size_t ns)
{
    size_t used = 0;
    s[0] = '\0';
    for (unsigned i = 0; i < h->ndims && used < ns; i++) {
        int w = snprintf(s + used, ns - used, "%s%zu", i ? " x " : "", h->dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Open an IDX file and validate its header against its size.  labels: the
** file must be a u8 vector; images u8 or float32 with 2..16 dims (n, then the sample). */
static int idx_open_(idx_ *h, const char *path, int labels, char *err, size_t nerr)
{
    memset(h, 0, sizeof *h);
    h->path = path;
    size_t size;
    if (!(h->f = clgrad_data_open_sized(path, &size, err, nerr))) return -1;
    unsigned char m[4];
    const char *expect = labels ? "00 00 08 01 (u8 labels)" : "00 00 08 03 (u8 images) or 00 00 0D 03 (float32)";
    if (size < 4 || fread(m, 1, 4, h->f) != 4)
        return clgrad_data_err(err, nerr, "%s: truncated IDX header (%zu bytes; expected magic %s)", path, size,
                               expect);
    if (m[0] == 0x1f && m[1] == 0x8b)
        return clgrad_data_err(err, nerr, "%s: is gzip-compressed; decompress it first (gunzip)", path);
    h->type = m[2];
    h->ndims = m[3];
    int ok = m[0] == 0 && m[1] == 0 &&
             (labels ? h->type == 0x08 && h->ndims == 1
                     : (h->type == 0x08 || h->type == 0x0D) && h->ndims >= 2 && h->ndims <= IDX_MAXDIMS);
    if (!ok)
        return clgrad_data_err(err, nerr, "%s: not an IDX %s file (magic %02x %02x %02x %02x; expected %s)", path,
                               labels ? "labels" : "images", m[0], m[1], m[2], m[3], expect);
    h->elsize = h->type == 0x0D ? 4 : 1;
    size_t hdr = 4 + 4 * (size_t)h->ndims;
    unsigned char d[4 * IDX_MAXDIMS];
    if (size < hdr || fread(d, 1, hdr - 4, h->f) != hdr - 4)
        return clgrad_data_err(err, nerr, "%s: truncated IDX header (%zu bytes; %u dimensions need %zu)", path, size,
                               h->ndims, hdr);
    h->count = 1;
    int overflow = 0;
    for (unsigned i = 0; i < h->ndims; i++) {
        h->dims[i] = be32_(d + 4 * i);
        overflow |= clgrad_mul_size(h->count, h->dims[i], &h->count);
    }
    size_t bytes = 0;
    overflow |= clgrad_mul_size(h->count, h->elsize, &bytes);
    char ds[256];
    dims_str_(h, ds, sizeof ds);
    if (overflow)
        return clgrad_data_err(err, nerr, "%s: header dimensions %s overflow (the file has %zu bytes)", path, ds, size);
    if (bytes != size - hdr)
        return clgrad_data_err(err, nerr,
                               "%s: header says %s x %zu bytes = %zu bytes of data, but the file has %zu bytes after "
                               "the %zu-byte header (%s)",
                               path, ds, h->elsize, bytes, size - hdr, hdr,
                               bytes > size - hdr ? "truncated or wrong header" : "trailing data");
    if (h->dims[0] == 0) return clgrad_data_err(err, nerr, "%s: no samples (first dimension is 0)", path);
    if (h->count == 0) return clgrad_data_err(err, nerr, "%s: empty samples (dimensions %s)", path, ds);
    return 0;
}

static void idx_close_(idx_ *h)
{
    if (h->f) fclose(h->f);
    h->f = NULL;
}

/* Read the image data into d->x (already allocated: count floats). */
static int idx_images_(idx_ *h, float *x, char *err, size_t nerr)
{
    enum { CHUNK = 1 << 16 };
    unsigned char buf[CHUNK];
    for (size_t done = 0; done < h->count;) {
        size_t m = h->count - done;
        if (m > CHUNK / h->elsize) m = CHUNK / h->elsize;
        if (clgrad_data_read_exact(h->f, buf, m * h->elsize, h->path, err, nerr)) return -1;
        for (size_t i = 0; i < m; i++) {
            if (h->elsize == 1) {
                x[done + i] = (float)buf[i] / 255.0f;
                continue;
            }
            uint32_t u = be32_(buf + 4 * i);
            float v;
            memcpy(&v, &u, sizeof v);
            if (!isfinite(v))
                return clgrad_data_err(err, nerr, "%s: value %zu is not finite (NaN and Inf are not accepted)",
                                       h->path, done + i);
            x[done + i] = v;
        }
        done += m;
    }
    return 0;
}

static int idx_labels_(idx_ *h, float *y, size_t *classes, char *err, size_t nerr)
{
    unsigned char *buf = malloc(h->count);
    if (!buf) return clgrad_data_err(err, nerr, "%s: out of memory", h->path);
    int rc = clgrad_data_read_exact(h->f, buf, h->count, h->path, err, nerr);
    unsigned mx = 0;
    for (size_t i = 0; rc == 0 && i < h->count; i++) {
        y[i] = (float)buf[i];
        mx = buf[i] > mx ? buf[i] : mx;
    }
    free(buf);
    if (rc == 0 && mx < 1)
        rc = clgrad_data_err(err, nerr, "%s: every label is 0; multiclass needs at least 2 classes", h->path);
    *classes = (size_t)mx + 1;
    return rc;
}

clgrad_status clgrad_data_read_idx(const char *images, const char *labels, clgrad_dataset *out, char *err, size_t nerr)
{
    memset(out, 0, sizeof *out);
    idx_ hi, hl;
    int rc = idx_open_(&hi, images, 0, err, nerr);
    if (rc == 0 && (!labels || !*labels))
        rc = clgrad_data_err(err, nerr, "%s: no labels file given ([data] labels is empty)", images);
    memset(&hl, 0, sizeof hl);
    if (rc == 0) rc = idx_open_(&hl, labels, 1, err, nerr);
    if (rc == 0 && hl.dims[0] != hi.dims[0])
        rc = clgrad_data_err(err, nerr, "%s has %zu images but %s has %zu labels", images, hi.dims[0], labels,
                             hl.dims[0]);
    if (rc == 0) rc = clgrad_dataset_alloc(out, hi.dims[0], 1, hi.count / hi.dims[0], images, err, nerr);
    if (rc == 0) rc = idx_images_(&hi, out->x, err, nerr);
    if (rc == 0) rc = idx_labels_(&hl, out->y, &out->classes, err, nerr);
    out->task = CLGRAD_TASK_MULTICLASS;
    idx_close_(&hi);
    idx_close_(&hl);
    if (rc) clgrad_dataset_free(out);
    return clgrad_status_of_(rc, CLGRAD_E_IO);
}

/* ==== CIFAR-10 binary batches ==== */

#define CIFAR_PIXELS 3072u /* 3 x 32 x 32, channel-major (all red, then green, then blue; rows of 32) */
#define CIFAR_RECORD (1u + CIFAR_PIXELS)
#define CIFAR_CLASSES 10u

/* One batch file's record count, checked against its size.  0, or -1 + err. */
static int cifar_count_(const char *path, size_t *records, char *err, size_t nerr)
{
    size_t size;
    FILE *f = clgrad_data_open_sized(path, &size, err, nerr);
    if (!f) return -1;
    unsigned char m[2] = {0, 0};
    size_t got = size >= 2 ? fread(m, 1, 2, f) : 0;
    fclose(f);
    if (size == 0) return clgrad_data_err(err, nerr, "%s: empty file (a CIFAR-10 batch has records of %u bytes)", path, CIFAR_RECORD);
    if (got == 2 && m[0] == 0x1f && m[1] == 0x8b)
        return clgrad_data_err(err, nerr,
                               "%s: is gzip-compressed (the cifar-10-binary.tar.gz archive?); extract the "
                               "data_batch_N.bin files first",
                               path);
    if (size % CIFAR_RECORD != 0)
        return clgrad_data_err(err, nerr,
                               "%s: %zu bytes is not a whole number of CIFAR-10 records (%u bytes each: 1 label byte + "
                               "%u pixel bytes; %zu records and %zu bytes left over)%s",
                               path, size, CIFAR_RECORD, CIFAR_PIXELS, size / CIFAR_RECORD, size % CIFAR_RECORD,
                               size % (CIFAR_RECORD + 1) == 0 ? "; records of 3074 bytes look like CIFAR-100, which is "
                                                                "not supported"
                                                              : "; truncated, or not a CIFAR-10 binary batch");
    *records = size / CIFAR_RECORD;
    return 0;
}

/* Read all records of one file into x (records, 3072) and y. */
static int cifar_read_(const char *path, size_t records, float *x, float *y, char *err, size_t nerr)
{
    enum { CHUNK = 64 };
    size_t size;
    FILE *f = clgrad_data_open_sized(path, &size, err, nerr);
    if (!f) return -1;
    int rc = 0;
    if (size != records * CIFAR_RECORD)
        rc = clgrad_data_err(err, nerr, "%s: the file changed while reading (%zu bytes, expected %zu)", path, size,
                             records * CIFAR_RECORD);
    unsigned char *buf = rc ? NULL : malloc((size_t)CHUNK * CIFAR_RECORD);
    if (!rc && !buf) rc = clgrad_data_err(err, nerr, "%s: out of memory", path);
    for (size_t done = 0; rc == 0 && done < records;) {
        size_t m = records - done < CHUNK ? records - done : CHUNK;
        rc = clgrad_data_read_exact(f, buf, m * CIFAR_RECORD, path, err, nerr);
        for (size_t r = 0; rc == 0 && r < m; r++) {
            const unsigned char *rec = buf + r * CIFAR_RECORD;
            if (rec[0] >= CIFAR_CLASSES) {
                rc = clgrad_data_err(err, nerr,
                                     "%s: record %zu (byte offset %zu): label %u is not a CIFAR-10 class (0..9)", path,
                                     done + r, (done + r) * CIFAR_RECORD, rec[0]);
                break;
            }
            y[done + r] = (float)rec[0];
            float *xr = x + (done + r) * CIFAR_PIXELS;
            for (size_t i = 0; i < CIFAR_PIXELS; i++) xr[i] = (float)rec[1 + i] / 255.0f;
        }
        done += m;
    }
    free(buf);
    fclose(f);
    return rc;
}

/* The next item of a comma list (trimmed) into item; *p advances.  0 at the end. */
static int list_item_(const char **p, char *item, size_t nitem)
{
    if (!*p) return 0;
    const char *s = *p;
    size_t len = strcspn(s, ",");
    *p = s[len] ? s + len + 1 : NULL;
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len >= nitem) len = nitem - 1;
    memcpy(item, s, len);
    item[len] = '\0';
    return 1;
}

clgrad_status clgrad_data_read_cifar10(const char *paths, clgrad_dataset *out, char *err, size_t nerr)
{
    memset(out, 0, sizeof *out);
    if (!paths || !*paths) return clgrad_data_err(err, nerr, "no file given ([data] path is empty)");
    char item[1024];
    size_t total = 0;
    const char *p = paths;
    while (list_item_(&p, item, sizeof item)) {
        size_t n = 0;
        if (!item[0]) return clgrad_data_err(err, nerr, "[data] path: an empty item in the list '%s'", paths);
        if (cifar_count_(item, &n, err, nerr)) return CLGRAD_E_IO;
        if (total + n < total) return clgrad_data_err(err, nerr, "%s: too many records", item);
        total += n;
    }
    if (clgrad_dataset_alloc(out, total, 1, CIFAR_PIXELS, "cifar10", err, nerr)) return CLGRAD_E_IO;
    size_t at = 0;
    p = paths;
    while (list_item_(&p, item, sizeof item)) {
        size_t n = 0;
        if (cifar_count_(item, &n, err, nerr) ||
            (at + n > total && clgrad_data_err(err, nerr, "%s: the file grew while reading", item)) ||
            cifar_read_(item, n, out->x + at * CIFAR_PIXELS, out->y + at, err, nerr)) {
            clgrad_dataset_free(out);
            return CLGRAD_E_IO;
        }
        at += n;
    }
    out->task = CLGRAD_TASK_MULTICLASS;
    out->classes = CIFAR_CLASSES;
    return 0;
}
