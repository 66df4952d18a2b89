/*
** npy.c: NumPy .npy files of float32 ('<f4', C order).  The writer produces
** the bytes numpy >= 1.23 writes (format 1.0; header dict in sorted key
** order, numpy's 21-digit growth spare on the first axis, spaces and a final
** '\n' up to a multiple of 64) and replaces the target atomically (temp file
** in the same directory, fsync, rename).  The reader parses the header dict
** (any key order, ' or " quotes), accepts versions 1.0/2.0/3.0, and checks
** the shape's data size against the file's real size before allocating.
*/
#include "run/data_internal.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPY_MAXDIMS 32
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21 /* numpy's GROWTH_AXIS_MAX_DIGITS */

static int host_is_le_(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap4_(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++, b += 4) {
        unsigned char t = b[0];
        b[0] = b[3], b[3] = t;
        t = b[1];
        b[1] = b[2], b[2] = t;
    }
}

/* ---- writing ---- */

/* The full header (magic .. '\n') into h; returns its length, 0 if too long. */
static size_t header_(const size_t *shape, int ndim, unsigned char *h, size_t nh)
{
    char dict[NPY_MAXDIMS * 24 + 128];
    int w = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++) w += snprintf(dict + w, sizeof dict - (size_t)w, "%s%zu", i ? ", " : "", shape[i]);
    w += snprintf(dict + w, sizeof dict - (size_t)w, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        char first[32];
        int lf = snprintf(first, sizeof first, "%zu", shape[0]);
        for (int i = lf; i < NPY_GROWTH_DIGITS; i++) dict[w++] = ' ';
    }
    size_t hlen = (size_t)w + 1;                           /* with the final '\n' */
    size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN;      /* 1..64, as numpy */
    size_t total = 10 + hlen + pad;
    if (total > nh || hlen + pad > 65535) return 0;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (unsigned char)((hlen + pad) & 0xff);
    h[9] = (unsigned char)((hlen + pad) >> 8);
    memcpy(h + 10, dict, (size_t)w);
    memset(h + 10 + w, ' ', pad);
    h[total - 1] = '\n';
    return total;
}

static int write_data_(int fd, const float *data, size_t count)
{
    if (host_is_le_()) return clgrad_fs_write_all(fd, data, count * sizeof(float));
    float buf[4096];
    for (size_t done = 0; done < count;) {
        size_t m = count - done < 4096 ? count - done : 4096;
        memcpy(buf, data + done, m * sizeof(float));
        swap4_(buf, m);
        if (clgrad_fs_write_all(fd, buf, m * sizeof(float))) return -1;
        done += m;
    }
    return 0;
}

typedef struct {
    const unsigned char *h;
    size_t hl;
    const float *data;
    size_t count;
} npy_out_;

static int fill_npy_(int fd, void *user)
{
    const npy_out_ *o = user;
    if (clgrad_fs_write_all(fd, o->h, o->hl) || write_data_(fd, o->data, o->count)) return errno ? errno : EIO;
    return 0;
}

clgrad_status clgrad_npy_write(const char *path, const float *data, const size_t *shape, int ndim, char *err, size_t nerr)
{
    if (ndim < 0 || ndim > NPY_MAXDIMS)
        return clgrad_data_err(err, nerr, "%s: %d dimensions (0..%d allowed)", path, ndim, NPY_MAXDIMS);
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (clgrad_mul_size(count, shape[i], &count)) return clgrad_data_err(err, nerr, "%s: shape overflows", path);
    if (clgrad_mul_size(count, sizeof(float), &bytes)) return clgrad_data_err(err, nerr, "%s: shape overflows", path);
    if (count && !data) return clgrad_data_err(err, nerr, "%s: no data", path);
    unsigned char h[NPY_MAXDIMS * 24 + 256];
    size_t hl = header_(shape, ndim, h, sizeof h);
    if (!hl) return clgrad_data_err(err, nerr, "%s: header too long", path);

    npy_out_ o = {h, hl, data, count};
    int e = clgrad_fs_replace(path, fill_npy_, &o, NULL);
    if (e) return clgrad_data_err(err, nerr, "cannot write %s: %s", path, strerror(e));
    return 0;
}

/* ---- reading ---- */

typedef struct hdr_ {
    const char *p;
    char descr[32];
    int fortran, ndim;
    size_t shape[64];
    int have; /* bit 0 descr, 1 fortran_order, 2 shape */
} hdr_;

static void ws_(hdr_ *h)
{
    while (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r') h->p++;
}

/* A '...' or "..." string (no escapes: numpy's keys and descr have none). */
static int str_(hdr_ *h, char *out, size_t nout)
{
    char q = *h->p;
    if (q != '\'' && q != '"') return -1;
    const char *e = strchr(h->p + 1, q);
    if (!e || (size_t)(e - h->p - 1) >= nout) return -1;
    memcpy(out, h->p + 1, (size_t)(e - h->p - 1));
    out[e - h->p - 1] = '\0';
    h->p = e + 1;
    return 0;
}

static int shape_(hdr_ *h)
{
    if (*h->p != '(') return -1;
    h->p++;
    h->ndim = 0;
    for (;;) {
        ws_(h);
        if (*h->p == ')') break;
        if (!(*h->p >= '0' && *h->p <= '9') || h->ndim >= 64) return -1;
        size_t v = 0;
        for (; *h->p >= '0' && *h->p <= '9'; h->p++) {
            size_t dgt = (size_t)(*h->p - '0');
            if (v > (SIZE_MAX - dgt) / 10) return -1;
            v = v * 10 + dgt;
        }
        if (*h->p == 'L') h->p++; /* Python 2 longs */
        h->shape[h->ndim++] = v;
        ws_(h);
        if (*h->p == ',') {
            h->p++;
            continue;
        }
        if (*h->p != ')') return -1;
    }
    h->p++;
    return 0;
}

/* Parse the header dict; returns NULL or what is wrong with it. */
static const char *parse_(hdr_ *h)
{
    ws_(h);
    if (*h->p++ != '{') return "does not start with '{'";
    for (;;) {
        ws_(h);
        if (*h->p == '}') break;
        char key[32];
        if (str_(h, key, sizeof key)) return "expected a quoted key";
        ws_(h);
        if (*h->p++ != ':') return "expected ':' after a key";
        ws_(h);
        int bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2 : !strcmp(key, "shape") ? 4 : 0;
        if (!bit) return "unknown key (expected descr, fortran_order, shape)";
        if (h->have & bit) return "repeated key";
        h->have |= bit;
        if (bit == 1 && str_(h, h->descr, sizeof h->descr)) return "bad descr value";
        if (bit == 2) {
            if (!strncmp(h->p, "True", 4)) h->fortran = 1, h->p += 4;
            else if (!strncmp(h->p, "False", 5)) h->fortran = 0, h->p += 5;
            else return "fortran_order is not True or False";
        }
        if (bit == 4 && shape_(h)) return "bad shape tuple";
        ws_(h);
        if (*h->p == ',') h->p++;
        else if (*h->p != '}') return "expected ',' or '}'";
    }
    h->p++;
    ws_(h);
    if (*h->p) return "trailing characters after the dict";
    if (h->have != 7) return "missing key (descr, fortran_order and shape are required)";
    return NULL;
}

static int read_header_(FILE *f, const char *path, size_t size, hdr_ *h, char **text, size_t *hsize, char *err,
                        size_t nerr)
{
    unsigned char pre[12];
    if (size < 10 || clgrad_data_read_exact(f, pre, 10, path, err, nerr) || memcmp(pre, "\x93NUMPY", 6))
        return clgrad_data_err(err, nerr, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    size_t len, at;
    if (pre[6] == 1 && pre[7] == 0) {
        len = (size_t)pre[8] | (size_t)pre[9] << 8;
        at = 10;
    } else if ((pre[6] == 2 || pre[6] == 3) && pre[7] == 0) {
        if (size < 12 || clgrad_data_read_exact(f, pre + 10, 2, path, err, nerr))
            return clgrad_data_err(err, nerr, "%s: truncated .npy header", path);
        len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        at = 12;
    } else {
        return clgrad_data_err(err, nerr, "%s: unsupported .npy format version %u.%u", path, pre[6], pre[7]);
    }
    if (len > size - at || len > (1u << 20))
        return clgrad_data_err(err, nerr, "%s: header length %zu exceeds the file (%zu bytes)", path, len, size);
    *text = malloc(len + 1);
    if (!*text) return clgrad_data_err(err, nerr, "%s: out of memory", path);
    if (clgrad_data_read_exact(f, *text, len, path, err, nerr)) return -1;
    (*text)[len] = '\0';
    if (len == 0 || (*text)[len - 1] != '\n' || strlen(*text) != len)
        return clgrad_data_err(err, nerr, "%s: malformed .npy header (not a text line ending in '\\n')", path);
    h->p = *text;
    const char *why = parse_(h);
    if (why) return clgrad_data_err(err, nerr, "%s: malformed .npy header: %s: %.200s", path, why, *text);
    *hsize = at + len;
    return 0;
}

static void shape_str_(const size_t *shape, int ndim, char *s, size_t ns)
{
    size_t used = (size_t)snprintf(s, ns, "(");
    for (int i = 0; i < ndim && used < ns; i++)
        used += (size_t)snprintf(s + used, ns - used, "%s%zu", i ? ", " : "", shape[i]);
    if (used < ns) snprintf(s + used, ns - used, "%s)", ndim == 1 ? "," : "");
}

clgrad_status clgrad_npy_read(const char *path, float **data, size_t *shape, int *ndim, int maxdim, char *err, size_t nerr)
{
    *data = NULL;
    *ndim = 0;
    size_t size, hsize = 0;
    FILE *f = clgrad_data_open_sized(path, &size, err, nerr);
    if (!f) return CLGRAD_E_IO;
    hdr_ h;
    memset(&h, 0, sizeof h);
    char *text = NULL;
    int rc = read_header_(f, path, size, &h, &text, &hsize, err, nerr);
    size_t count = 1, bytes = 0;
    if (rc == 0 && strcmp(h.descr, "<f4"))
        rc = clgrad_data_err(err, nerr, "%s: dtype '%s' is not supported (only '<f4', little-endian float32)", path,
                             h.descr);
    if (rc == 0 && h.fortran && h.ndim > 1)
        rc = clgrad_data_err(err, nerr, "%s: fortran_order True is not supported (save a C-ordered array)", path);
    if (rc == 0 && h.ndim > maxdim)
        rc = clgrad_data_err(err, nerr, "%s: %d dimensions, at most %d expected", path, h.ndim, maxdim);
    for (int i = 0; rc == 0 && i < h.ndim; i++)
        if (clgrad_mul_size(count, h.shape[i], &count)) rc = clgrad_data_err(err, nerr, "%s: shape overflows", path);
    if (rc == 0 && (clgrad_mul_size(count, sizeof(float), &bytes) || bytes != size - hsize)) {
        char sh[256];
        shape_str_(h.shape, h.ndim, sh, sizeof sh);
        rc = clgrad_data_err(err, nerr, "%s: shape %s needs %zu x 4 bytes of data but the file has %zu after the "
                             "%zu-byte header", path, sh, count, size - hsize, hsize);
    }
    float *buf = NULL;
    if (rc == 0 && !(buf = malloc((count ? count : 1) * sizeof *buf)))
        rc = clgrad_data_err(err, nerr, "%s: out of memory for %zu floats", path, count);
    if (rc == 0) rc = clgrad_data_read_exact(f, buf, bytes, path, err, nerr);
    if (rc == 0 && !host_is_le_()) swap4_(buf, count);
    fclose(f);
    free(text);
    if (rc) {
        free(buf);
        return CLGRAD_E_IO;
    }
    *data = buf;
    *ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++) shape[i] = h.shape[i];
    return 0;
}
