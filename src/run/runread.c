/*
** runread.c: reading a run directory back: a small JSON reader for
** manifest.json / summary.json, a CSV reader with columns by header name
** (metrics.csv, layers.csv, timesteps.csv, a sweep's summary.csv), and
** clgrad_rundata_read() tying them together.  Host-only; see clgrad/report.h.
*/
#define _POSIX_C_SOURCE 200809L
#include "clgrad/report.h"
#include "core/internal.h"
#include "util/csv.h"
#include "util/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JSON_MAX_DEPTH 64

/* Read a whole file into a NUL-terminated buffer (clgrad_fs_read_all, with a message). */
static clgrad_status slurp_(const char *path, char **out, size_t *len, char *why, size_t nwhy)
{
    int e = clgrad_fs_read_all(path, 0, 0, out, len);
    if (!e) return CLGRAD_OK;
    if (e == ENOMEM) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
    return clgrad_failf(CLGRAD_E_IO, why, nwhy, "cannot read %s: %s", path, strerror(e));
}

/* ==== JSON ================================================================== */

typedef struct {
    const char *p, *start;
    char *why;
    size_t nwhy;
    int failed;
} jparser;

static void jfail_(jparser *jp, const char *what)
{
    if (jp->failed) return;
    jp->failed = 1;
    /* line and column of the failure */
    int line = 1, col = 1;
    for (const char *q = jp->start; q < jp->p; q++) {
        if (*q == '\n') line++, col = 1;
        else col++;
    }
    if (jp->why && jp->nwhy) snprintf(jp->why, jp->nwhy, "%s at line %d column %d", what, line, col);
}

static void jspace_(jparser *jp)
{
    while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r') jp->p++;
}

static int hex4_(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t utf8_put_(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a string at jp->p (which points at the opening quote). */
static char *jstring_(jparser *jp)
{
    const char *p = jp->p + 1;
    /* the decoded text is never longer than the source */
    const char *end = p;
    while (*end && *end != '"') {
        if (*end == '\\' && end[1]) end++;
        end++;
    }
    if (*end != '"') {
        jfail_(jp, "unterminated string");
        return NULL;
    }
    char *s = malloc((size_t)(end - p) + 1), *o = s;
    if (!s) {
        jfail_(jp, "out of memory");
        return NULL;
    }
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) {
            jp->p = p;
            jfail_(jp, "control character in string");
            free(s);
            return NULL;
        }
        if (c != '\\') {
            *o++ = (char)c, p++;
            continue;
        }
        p++;
        switch (*p) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (p + 4 >= end || hex4_(p + 1, &cp) != 0) goto bad;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' && hex4_(p + 3, &lo) == 0 &&
                lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* lone surrogate */
            }
            /* "\uXXXX" is 6 bytes and its UTF-8 at most 3 (4 for a 12-byte pair) */
            o += utf8_put_(o, cp);
            break;
        }
        default:
            goto bad;
        }
        p++;
    }
    *o = '\0';
    jp->p = end + 1;
    return s;
bad:
    jp->p = p;
    jfail_(jp, "bad escape in string");
    free(s);
    return NULL;
}

static int jvalue_(jparser *jp, clgrad_json *v, int depth);

static int jcontainer_(jparser *jp, clgrad_json *v, int depth, int is_obj)
{
    char close = is_obj ? '}' : ']';
    size_t cap = 0;
    v->type = is_obj ? CLGRAD_JSON_OBJECT : CLGRAD_JSON_ARRAY;
    jp->p++;
    jspace_(jp);
    if (*jp->p == close) {
        jp->p++;
        return 0;
    }
    for (;;) {
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            clgrad_json *items = realloc(v->items, nc * sizeof *items);
            if (!items) { jfail_(jp, "out of memory"); return -1; }
            v->items = items;
            if (is_obj) {
                char **keys = realloc(v->keys, nc * sizeof *keys);
                if (!keys) { jfail_(jp, "out of memory"); return -1; }
                v->keys = keys;
            }
            cap = nc;
        }
        jspace_(jp);
        if (is_obj) {
            if (*jp->p != '"') { jfail_(jp, "expected a member name"); return -1; }
            char *key = jstring_(jp);
            if (!key) return -1;
            v->keys[v->n] = key;
            jspace_(jp);
            if (*jp->p != ':') {
                memset(&v->items[v->n], 0, sizeof v->items[0]);
                v->n++;
                jfail_(jp, "expected ':'");
                return -1;
            }
            jp->p++;
        }
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        v->n++; /* counted now so that a failure below still frees it */
        if (jvalue_(jp, &v->items[v->n - 1], depth + 1) != 0) return -1;
        jspace_(jp);
        if (*jp->p == ',') { jp->p++; continue; }
        if (*jp->p == close) { jp->p++; return 0; }
        jfail_(jp, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        return -1;
    }
}

static int jnumber_(jparser *jp, clgrad_json *v)
{
    /* strict JSON number syntax, then strtod for the value */
    const char *p = jp->p;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (isdigit((unsigned char)*p)) while (isdigit((unsigned char)*p)) p++;
    else { jfail_(jp, "invalid value"); return -1; }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) { jp->p = p; jfail_(jp, "invalid number"); return -1; }
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) { jp->p = p; jfail_(jp, "invalid number"); return -1; }
        while (isdigit((unsigned char)*p)) p++;
    }
    v->type = CLGRAD_JSON_NUMBER;
    v->num = strtod(jp->p, NULL); /* out of range gives +-HUGE_VAL, fine */
    jp->p = p;
    return 0;
}

static int jword_(jparser *jp, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(jp->p, w, n) != 0 || isalnum((unsigned char)jp->p[n])) return 0;
    jp->p += n;
    return 1;
}

static int jvalue_(jparser *jp, clgrad_json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) { jfail_(jp, "nesting too deep"); return -1; }
    jspace_(jp);
    switch (*jp->p) {
    case '{': return jcontainer_(jp, v, depth, 1);
    case '[': return jcontainer_(jp, v, depth, 0);
    case '"':
        v->str = jstring_(jp);
        if (!v->str) return -1;
        v->type = CLGRAD_JSON_STRING;
        return 0;
    case '\0': jfail_(jp, "unexpected end of text"); return -1;
    default: break;
    }
    if (jword_(jp, "null")) { v->type = CLGRAD_JSON_NULL; return 0; }
    if (jword_(jp, "true")) { v->type = CLGRAD_JSON_BOOL, v->num = 1; return 0; }
    if (jword_(jp, "false")) { v->type = CLGRAD_JSON_BOOL, v->num = 0; return 0; }
    /* tolerated extension: bare NaN / Infinity as some writers emit them */
    if (jword_(jp, "NaN") || jword_(jp, "nan")) { v->type = CLGRAD_JSON_NUMBER, v->num = NAN; return 0; }
    if (jword_(jp, "Infinity") || jword_(jp, "inf")) { v->type = CLGRAD_JSON_NUMBER, v->num = INFINITY; return 0; }
    if (jword_(jp, "-Infinity") || jword_(jp, "-inf")) { v->type = CLGRAD_JSON_NUMBER, v->num = -INFINITY; return 0; }
    return jnumber_(jp, v);
}

static void json_clear_(clgrad_json *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        json_clear_(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    memset(v, 0, sizeof *v);
}

void clgrad_json_free(clgrad_json *v)
{
    if (!v) return;
    json_clear_(v);
    free(v);
}

clgrad_status clgrad_json_parse(const char *text, clgrad_json **out, char *why, size_t nwhy)
{
    *out = NULL;
    clgrad_json *v = calloc(1, sizeof *v);
    if (!v) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory");
    jparser jp = {text, text, why, nwhy, 0};
    if (jvalue_(&jp, v, 0) == 0) {
        jspace_(&jp);
        if (*jp.p != '\0') jfail_(&jp, "text after the JSON value");
    }
    if (jp.failed) {
        clgrad_json_free(v);
        return CLGRAD_E_IO;
    }
    *out = v;
    return CLGRAD_OK;
}

clgrad_status clgrad_json_load(const char *path, clgrad_json **out, char *why, size_t nwhy)
{
    *out = NULL;
    char *text = NULL;
    clgrad_status st = slurp_(path, &text, NULL, why, nwhy);
    if (st != CLGRAD_OK) return st;
    char msg[256] = "";
    st = clgrad_json_parse(text, out, msg, sizeof msg);
    free(text);
    if (st != CLGRAD_OK) return clgrad_failf(st, why, nwhy, "%s: invalid JSON: %s", path, msg);
    return CLGRAD_OK;
}

const clgrad_json *clgrad_json_member(const clgrad_json *obj, const char *key)
{
    if (!obj || obj->type != CLGRAD_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

const clgrad_json *clgrad_json_path(const clgrad_json *root, const char *path)
{
    const clgrad_json *v = root;
    char key[256];
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = clgrad_json_member(v, key);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the byte at s
** does not start one (overlong forms, surrogates and code points above
** U+10FFFF are invalid; so is a sequence cut short by the NUL). */
size_t clgrad_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

int clgrad_utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
        size_t n = clgrad_utf8_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

void clgrad_json_escape(const char *s, void (*put)(void *u, const char *p, size_t n), void *u)
{
    put(u, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
        unsigned char c = *p;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\', e[1] = (char)c;
            put(u, e, 2);
        } else if (c == '\n') put(u, "\\n", 2);
        else if (c == '\t') put(u, "\\t", 2);
        else if (c == '\r') put(u, "\\r", 2);
        else if (c < 0x20 || c == 0x7f) {
            snprintf(e, sizeof e, "\\u%04x", c);
            put(u, e, 6);
        } else {
            size_t n = clgrad_utf8_len(p);
            if (!n) {
                put(u, "\\ufffd", 6); /* one U+FFFD per byte that is not valid UTF-8 */
                p++;
                continue;
            }
            put(u, (const char *)p, n);
            p += n;
            continue;
        }
        p++;
    }
    put(u, "\"", 1);
}

static void put_file_(void *u, const char *p, size_t n) { fwrite(p, 1, n, (FILE *)u); }

void clgrad_json_fputs(FILE *f, const char *s) { clgrad_json_escape(s, put_file_, f); }

const char *clgrad_json_str(const clgrad_json *v)
{
    return v && v->type == CLGRAD_JSON_STRING ? v->str : NULL;
}

static int nonfinite_word_(const char *s, double *out)
{
    if (!strcmp(s, "nan") || !strcmp(s, "NaN") || !strcmp(s, "-nan")) { *out = NAN; return 1; }
    if (!strcmp(s, "inf") || !strcmp(s, "+inf") || !strcmp(s, "Infinity") || !strcmp(s, "infinity")) {
        *out = INFINITY;
        return 1;
    }
    if (!strcmp(s, "-inf") || !strcmp(s, "-Infinity") || !strcmp(s, "-infinity")) { *out = -INFINITY; return 1; }
    return 0;
}

double clgrad_json_num_field(const clgrad_json *root, const char *path, int *present, int *measured)
{
    const clgrad_json *v = clgrad_json_path(root, path);
    int p = v != NULL, m = 0;
    double d = NAN;
    if (v && v->type == CLGRAD_JSON_NULL) {
        char key[256];
        snprintf(key, sizeof key, "%s_nonfinite", path);
        const clgrad_json *nf = clgrad_json_path(root, key);
        if (nf && nf->type == CLGRAD_JSON_STRING && nonfinite_word_(nf->str, &d)) m = 1;
    } else if (clgrad_json_is_num(v)) {
        d = clgrad_json_num(v);
        m = 1;
    }
    if (present) *present = p;
    if (measured) *measured = m;
    return d;
}

int clgrad_json_is_num(const clgrad_json *v)
{
    double d;
    if (!v) return 0;
    if (v->type == CLGRAD_JSON_NUMBER) return 1;
    return v->type == CLGRAD_JSON_STRING && nonfinite_word_(v->str, &d);
}

double clgrad_json_num(const clgrad_json *v)
{
    double d;
    if (!v) return NAN;
    if (v->type == CLGRAD_JSON_NUMBER || v->type == CLGRAD_JSON_BOOL) return v->num;
    if (v->type == CLGRAD_JSON_STRING && nonfinite_word_(v->str, &d)) return d;
    return NAN;
}

const char *clgrad_json_text(const clgrad_json *v, char *buf, size_t nbuf)
{
    if (!nbuf) return buf;
    buf[0] = '\0';
    if (!v) return buf;
    switch (v->type) {
    case CLGRAD_JSON_NULL: snprintf(buf, nbuf, "null"); break;
    case CLGRAD_JSON_BOOL: snprintf(buf, nbuf, "%s", v->num != 0 ? "true" : "false"); break;
    case CLGRAD_JSON_NUMBER:
        if (isnan(v->num)) snprintf(buf, nbuf, "nan");
        else if (isinf(v->num)) snprintf(buf, nbuf, v->num > 0 ? "inf" : "-inf");
        else snprintf(buf, nbuf, "%.9g", v->num);
        break;
    case CLGRAD_JSON_STRING: snprintf(buf, nbuf, "%s", v->str); break;
    case CLGRAD_JSON_ARRAY: snprintf(buf, nbuf, "[...]"); break;
    case CLGRAD_JSON_OBJECT: snprintf(buf, nbuf, "{...}"); break;
    }
    return buf;
}

/* ==== CSV =================================================================== */

static void trim_(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t') i++;
    if (i) memmove(s, s + i, n - i + 1);
}

static double field_num_(const char *s)
{
    if (!*s) return NAN;
    double d;
    if (nonfinite_word_(s, &d)) return d;
    char *end;
    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end != '\0') return NAN;
    return d;
}

void clgrad_csv_free(clgrad_csv *t)
{
    if (!t) return;
    free(t->names);
    free(t->text);
    free(t->num);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Read the header line into t's column names (trimmed); it must be whole. */
static clgrad_status csv_header_(clgrad_csv *t, clgrad_csv_reader *rd, const char *path, char *why, size_t nwhy)
{
    int got = clgrad_csv_next(rd);
    if (got < 0 && rd->err == CLGRAD_CSVR_NOMEM)
        return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
    if (got <= 0) return clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no header line", path);
    if (!rd->complete) /* its writer stopped in the header: the column names may be cut */
        return clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: the header line is cut short (no newline)", path);
    t->ncols = rd->nf;
    t->names = malloc(t->ncols * sizeof *t->names);
    if (!t->names) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
    for (size_t c = 0; c < t->ncols; c++) {
        trim_(rd->f[c]);
        t->names[c] = rd->f[c];
    }
    return CLGRAD_OK;
}

/* Append the reader's record to t as a row (each field trimmed, and its number), growing t (capacity *rcap). */
static clgrad_status csv_add_row_(clgrad_csv *t, const clgrad_csv_reader *rd, size_t *rcap, const char *path,
                                  char *why, size_t nwhy)
{
    if (t->nrows == *rcap) {
        size_t nc = *rcap ? *rcap * 2 : 64;
        char **tx = realloc(t->text, nc * t->ncols * sizeof *tx);
        if (!tx) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
        t->text = tx;
        double *nu = realloc(t->num, nc * t->ncols * sizeof *nu);
        if (!nu) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
        t->num = nu;
        *rcap = nc;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        trim_(rd->f[c]);
        t->text[t->nrows * t->ncols + c] = rd->f[c];
        t->num[t->nrows * t->ncols + c] = field_num_(rd->f[c]);
    }
    t->nrows++;
    return CLGRAD_OK;
}

clgrad_status clgrad_csv_read(const char *path, clgrad_csv *t, char *why, size_t nwhy)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    clgrad_status st = slurp_(path, &t->buf, NULL, why, nwhy);
    if (st != CLGRAD_OK) return st;
    size_t rcap = 0;
    /* the text ends at a NUL byte (a file zero-filled past what its writer wrote: a cut last line) */
    clgrad_csv_reader rd;
    clgrad_csv_begin(&rd, t->buf, strlen(t->buf));
    if ((st = csv_header_(t, &rd, path, why, nwhy)) != CLGRAD_OK) goto fail;
    int got;
    while ((got = clgrad_csv_next(&rd)) != 0) {
        if (got < 0 && rd.err == CLGRAD_CSVR_NOMEM) {
            st = clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
            goto fail;
        }
        if (got < 0 && rd.err == CLGRAD_CSVR_UNTERMINATED && rd.line == rd.rec_line) {
            t->cut_line = rd.rec_line; /* a last line cut short in a quoted field (see below) */
            break;
        }
        if (got < 0) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s:%zu: %s", path, rd.err_line,
                        rd.err == CLGRAD_CSVR_UNTERMINATED     ? "unterminated quote"
                        : rd.err == CLGRAD_CSVR_QUOTE_IN_FIELD ? "quote inside an unquoted field"
                        : rd.err == CLGRAD_CSVR_AFTER_QUOTE    ? "text after a closing quote"
                                                                : "a NUL byte");
            goto fail;
        }
        if (!rd.complete) {
            /* a last line without its newline: its writer was killed mid-row
            ** or is still writing; a cut number ("3.59e-07" as "3.59") must
            ** not pass for a whole one, so the line is left out (and noted) */
            t->cut_line = rd.rec_line;
            break;
        }
        if (rd.nf != t->ncols) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s:%zu: %zu fields, but the header has %zu", path, rd.rec_line,
                        rd.nf, t->ncols);
            goto fail;
        }
        if ((st = csv_add_row_(t, &rd, &rcap, path, why, nwhy)) != CLGRAD_OK) goto fail;
    }
    clgrad_csv_end(&rd);
    return CLGRAD_OK;
fail:
    clgrad_csv_end(&rd);
    clgrad_csv_free(t);
    return st;
}

const char *clgrad_csv_warning(const clgrad_csv *t, char *buf, size_t nbuf)
{
    if (!t->cut_line || !nbuf) return NULL;
    snprintf(buf, nbuf, "%s: ignored a cut last line (line %zu has no newline: its writer was stopped mid-row or is "
             "still running)", t->path, t->cut_line);
    return buf;
}

int clgrad_csv_col(const clgrad_csv *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0) return (int)c;
    return -1;
}

const char *clgrad_csv_text(const clgrad_csv *t, size_t row, int col)
{
    if (col < 0 || (size_t)col >= t->ncols || row >= t->nrows) return "";
    return t->text[row * t->ncols + (size_t)col];
}

double clgrad_csv_num(const clgrad_csv *t, size_t row, int col)
{
    if (col < 0 || (size_t)col >= t->ncols || row >= t->nrows) return NAN;
    return t->num[row * t->ncols + (size_t)col];
}

int clgrad_csv_present(const clgrad_csv *t, size_t row, int col)
{
    return clgrad_csv_text(t, row, col)[0] != '\0';
}

/* ==== run directory ========================================================== */

static int is_file_(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

void clgrad_rundata_free(clgrad_rundata *run)
{
    if (!run) return;
    clgrad_json_free(run->manifest);
    clgrad_json_free(run->summary);
    clgrad_csv_free(&run->metrics);
    clgrad_csv_free(&run->layers);
    clgrad_csv_free(&run->timesteps);
    clgrad_csv_free(&run->histograms);
    clgrad_csv_free(&run->events);
    memset(run, 0, sizeof *run);
}

clgrad_status clgrad_rundata_read(const char *dir, unsigned flags, clgrad_rundata *run, char *why, size_t nwhy)
{
    clgrad_status st;
    char path[1200];
    memset(run, 0, sizeof *run);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return clgrad_failf(CLGRAD_E_IO, why, nwhy, "run directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return clgrad_failf(CLGRAD_E_IO, why, nwhy, "run directory %s: not a directory", dir);
    if (strlen(dir) >= sizeof run->dir) return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "path too long: %s", dir);
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    /* name: the last non-empty component */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = '\0';
    const char *slash = strrchr(tmp, '/');
    snprintf(run->name, sizeof run->name, "%.255s", slash && slash[1] ? slash + 1 : tmp);

    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if ((st = clgrad_json_load(path, &run->manifest, why, nwhy)) != CLGRAD_OK) goto fail;
    if (run->manifest->type != CLGRAD_JSON_OBJECT) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: not a JSON object", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if ((flags & CLGRAD_RUN_NEED_SUMMARY) || is_file_(path)) {
        if ((st = clgrad_json_load(path, &run->summary, why, nwhy)) != CLGRAD_OK) goto fail;
        if (run->summary->type != CLGRAD_JSON_OBJECT) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: not a JSON object", path);
            goto fail;
        }
    }
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if ((st = clgrad_csv_read(path, &run->metrics, why, nwhy)) != CLGRAD_OK) goto fail;
    if (clgrad_csv_col(&run->metrics, "step") < 0) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no \"step\" column", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/layers.csv", dir);
    if ((st = clgrad_csv_read(path, &run->layers, why, nwhy)) != CLGRAD_OK) goto fail;
    if (clgrad_csv_col(&run->layers, "step") < 0 || clgrad_csv_col(&run->layers, "layer") < 0) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no \"step\" or \"layer\" column", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/timesteps.csv", dir);
    if (is_file_(path)) {
        if ((st = clgrad_csv_read(path, &run->timesteps, why, nwhy)) != CLGRAD_OK) goto fail;
        if (clgrad_csv_col(&run->timesteps, "step") < 0 || clgrad_csv_col(&run->timesteps, "t") < 0) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no \"step\" or \"t\" column", path);
            goto fail;
        }
        run->has_timesteps = 1;
    }
    snprintf(path, sizeof path, "%s/histograms.csv", dir);
    if (is_file_(path)) {
        if ((st = clgrad_csv_read(path, &run->histograms, why, nwhy)) != CLGRAD_OK) goto fail;
        if (clgrad_csv_col(&run->histograms, "step") < 0 || clgrad_csv_col(&run->histograms, "layer") < 0 ||
            clgrad_csv_col(&run->histograms, "tensor") < 0 || clgrad_csv_col(&run->histograms, "param") < 0) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no \"step\", \"layer\", \"tensor\" or \"param\" column", path);
            goto fail;
        }
        run->has_histograms = 1;
    }
    snprintf(path, sizeof path, "%s/events.csv", dir);
    if (is_file_(path)) {
        if ((st = clgrad_csv_read(path, &run->events, why, nwhy)) != CLGRAD_OK) goto fail;
        if (clgrad_csv_col(&run->events, "step") < 0 || clgrad_csv_col(&run->events, "metric") < 0) {
            st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no \"step\" or \"metric\" column", path);
            goto fail;
        }
        run->has_events = 1;
    }
    return CLGRAD_OK;
fail:
    clgrad_rundata_free(run);
    return st;
}

size_t clgrad_rundata_warnings(const clgrad_rundata *run, char *buf, size_t nbuf)
{
    const clgrad_csv *t[5] = {&run->metrics, &run->layers, &run->timesteps, &run->histograms, &run->events};
    size_t n = 0, len = 0;
    if (nbuf) buf[0] = '\0';
    for (int i = 0; i < 5; i++) {
        char one[1400];
        if (!clgrad_csv_warning(t[i], one, sizeof one)) continue;
        n++;
        if (len < nbuf) len += (size_t)snprintf(buf + len, nbuf - len, "%s%s", len ? "\n" : "", one);
    }
    return n;
}

void clgrad_rundata_print_warnings(FILE *f, const char *who, const clgrad_rundata *run)
{
    char w[5800];
    if (!clgrad_rundata_warnings(run, w, sizeof w)) return;
    for (char *l = w, *nl; l; l = nl) {
        nl = strchr(l, '\n');
        if (nl) *nl++ = '\0';
        fprintf(f, "%s: warning: %s\n", who, l);
    }
}

const char *clgrad_rundata_status(const clgrad_rundata *run)
{
    const char *s = clgrad_json_str(clgrad_json_member(run->summary, "status"));
    if (!s) s = clgrad_json_str(clgrad_json_member(run->manifest, "status"));
    return s ? s : "unknown";
}

const clgrad_json *clgrad_rundata_divergence(const clgrad_rundata *run)
{
    const clgrad_json *d = clgrad_json_member(run->summary, "divergence");
    return d && d->type == CLGRAD_JSON_OBJECT ? d : NULL;
}

const char **clgrad_rundata_layers(const clgrad_rundata *run, size_t *n)
{
    return clgrad_csv_distinct(&run->layers, "layer", n);
}

const char **clgrad_csv_distinct(const clgrad_csv *t, const char *col, size_t *n)
{
    int cl = clgrad_csv_col(t, col);
    const char **names = malloc((t->nrows ? t->nrows : 1) * sizeof *names);
    *n = 0;
    if (!names || cl < 0) return names;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *s = clgrad_csv_text(t, r, cl);
        size_t i = 0;
        while (i < *n && strcmp(names[i], s) != 0) i++;
        if (i == *n) names[(*n)++] = s;
    }
    return names;
}
