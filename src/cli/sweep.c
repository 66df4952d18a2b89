/*
** sweep.c: `clgrad sweep`: grid definition ([sweep] section and --grid),
** the experiment copy, the sweep directory (sweep.json, summary.csv, locks),
** the point scheduler (fork/exec, --jobs, devices, shards, signals) and
** --merge.  The behaviour is documented in src/cli/sweep.h.
**
** This is command-line code: it prints, forks and waits.  It needs nothing
** from the rest of the library but fsutil.h (the configuration check comes
** in through clgrad_sweep_set_validator), so tests build it alone.
*/
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "cli/report.h"
#include "cli/sweep.h"
#include "cli/opts.h"
#include "util/csv.h"
#include "util/fsutil.h"
#include "util/ini.h"
#include "util/sbuf.h"
#include "run/rundir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

#define DIRNAME_MAX 200         /* bytes of a point directory name */
#define MAX_FILE (64L << 20)    /* largest file read (experiment, JSON, CSV) */
#define MAX_JOBS 4096
#define SWEEP_FORMAT "clgrad-sweep-1"

/* ------------------------------------------------------------------ */
/* Strings and files                                                   */
/* ------------------------------------------------------------------ */

static int errf_(char *err, size_t n, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int errf_(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int blank_(char c) { return c == ' ' || c == '\t'; }

static void trim_(const char **s, size_t *n)
{
    while (*n && blank_(**s)) (*s)++, (*n)--;
    while (*n && blank_((*s)[*n - 1])) (*n)--;
}

static char *join_(const char *a, const char *b)
{
    clgrad_sbuf t = {0};
    clgrad_sb_printf(&t, "%s/%s", a, b);
    return clgrad_sb_take(&t);
}

/* Whole file, NUL-terminated (malloc'd), or NULL with why. */
static char *read_file_(const char *path, size_t *len, char *why, size_t nwhy)
{
    char *s;
    int e = clgrad_fs_read_all(path, MAX_FILE, 1, &s, len);
    if (e == EISDIR) errf_(why, nwhy, "%s", "is a directory");
    else if (e == EINVAL || e == EFBIG) errf_(why, nwhy, "%s", "not a regular file of at most 64 MiB");
    else if (e == ENOMEM) errf_(why, nwhy, "out of memory");
    else if (e) errf_(why, nwhy, "%s", strerror(e));
    return s;
}

/* Write dir/name atomically (fsutil.h: exclusive temp file with an
** unpredictable name, fsync, rename). 0 or -1 with why. */
static int write_atomic_(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy)
{
    clgrad_sbuf path = {0};
    clgrad_sb_printf(&path, "%s/%s", dir, name);
    if (path.oom) {
        errf_(why, nwhy, "out of memory");
        return -1;
    }
    int e = clgrad_fs_replace_text(path.s, text, len);
    if (e) errf_(why, nwhy, "cannot write %s: %s", path.s, strerror(e));
    free(path.s);
    return e ? -1 : 0;
}

/* mkdir -p; 0 or an errno. */
static int mkdirs_(const char *path)
{
    char *p = strdup(path);
    if (!p) return ENOMEM;
    int e = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) e = errno;
            *s = c;
            if (e || !c) break;
        }
    }
    struct stat st;
    if (!e && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) e = ENOTDIR;
    free(p);
    return e;
}

static int exists_(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static double now_(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void iso_time_(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A double with the fewest digits that read back exactly; nan, inf, -inf. */
static void sb_num(clgrad_sbuf *b, double v)
{
    if (isnan(v)) {
        clgrad_sb_puts(b, "nan");
        return;
    }
    if (isinf(v)) {
        clgrad_sb_puts(b, v > 0 ? "inf" : "-inf");
        return;
    }
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    clgrad_sb_puts(b, t);
}


/* A CSV field, quoted when it holds a comma, quote, line break or edge space. */
static void sb_csv(clgrad_sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!strpbrk(s, ",\"\r\n") && !(n && (blank_(s[0]) || blank_(s[n - 1])))) {
        clgrad_sb_puts(b, s);
        return;
    }
    clgrad_sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') clgrad_sb_putc(b, '"');
        clgrad_sb_putc(b, *s);
    }
    clgrad_sb_putc(b, '"');
}

/* ------------------------------------------------------------------ */
/* JSON reading (summary.json, manifest.json, sweep.json): clgrad_json  */
/* ------------------------------------------------------------------ */

/* A JSON number, or one of the strings nan / inf / -inf: 1 with *d, else 0. */
static int jnum_(const clgrad_json *v, double *d)
{
    if (!clgrad_json_is_num(v)) return 0;
    *d = clgrad_json_num(v);
    return 1;
}

/* Read and parse a JSON file (clgrad_json_parse): *v (clgrad_json_free), or
** -1 with why ("" when it does not exist). */
static int jload_(const char *path, clgrad_json **v, char *why, size_t nwhy)
{
    size_t len;
    *v = NULL;
    if (!exists_(path)) {
        errf_(why, nwhy, "%s", "");
        return -1;
    }
    char *t = read_file_(path, &len, why, nwhy);
    if (!t) return -1;
    int rc = clgrad_json_parse(t, v, NULL, 0) == CLGRAD_OK ? 0 : -1;
    free(t);
    if (rc) errf_(why, nwhy, "not valid JSON");
    return rc;
}

/* ------------------------------------------------------------------ */
/* CSV reading (merge)                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    char **f;
    int n;
} csv_row;

static void row_free_(csv_row *r)
{
    for (int i = 0; i < r->n; i++) free(r->f[i]);
    free(r->f);
    r->f = NULL, r->n = 0;
}

/* The next record of rd (util/csv.h) as a row of its own (malloc'd
** fields).  1 with a row, 0 at the end, -1 on malformed input. */
static int csv_next_(clgrad_csv_reader *rd, csv_row *r)
{
    memset(r, 0, sizeof *r);
    int got = clgrad_csv_next(rd);
    if (got <= 0) return got;
    r->f = calloc(rd->nf, sizeof *r->f);
    if (!r->f) return -1;
    for (size_t j = 0; j < rd->nf; j++, r->n++)
        if (!(r->f[j] = strdup(rd->f[j]))) {
            row_free_(r);
            return -1;
        }
    return 1;
}

/* ------------------------------------------------------------------ */
/* The grid                                                            */
/* ------------------------------------------------------------------ */

static void free_strs_(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void clgrad_sweep_grid_free(clgrad_sweep_grid *g)
{
    if (!g) return;
    for (int i = 0; i < g->naxes; i++) {
        free(g->axes[i].key);
        free_strs_(g->axes[i].values, g->axes[i].nvalues);
    }
    free(g->axes);
    g->axes = NULL;
    g->naxes = 0;
}

/* "section.key": letters, digits, '_', exactly one '.', both parts non-empty. */
static int key_ok_(const char *k, size_t n)
{
    size_t dot = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c == '.') {
            if (dot != n) return 0;
            dot = i;
        } else if (!isalnum(c) && c != '_') return 0;
    }
    return dot > 0 && dot + 1 < n;
}

static int add_value_(char ***vals, int *nv, const char *s, size_t n)
{
    char **v = realloc(*vals, (size_t)(*nv + 1) * sizeof *v);
    if (!v) return -1;
    *vals = v;
    v[*nv] = strndup(s, n);
    if (!v[*nv]) return -1;
    (*nv)++;
    return 0;
}

/* Parse "v1, v2, 'v,3'" (with_comments: [sweep] line, an inline comment may
** follow) into *vals.  0, or -1 with why. */
static int parse_values_(const char *s, size_t n, int with_comments, char ***vals, int *nv, char *why, size_t nwhy)
{
    *vals = NULL, *nv = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && blank_(s[i])) i++;
        int item = *nv + 1;
        if (i == n || (with_comments && clgrad_ini_comment_at(s, i, i)) || s[i] == ',') {
            if (*nv == 0 && (i == n || s[i] != ',')) errf_(why, nwhy, "no values");
            else errf_(why, nwhy, "value %d is empty (quote it, \"\", to sweep an empty value)", item);
            goto bad;
        }
        if (s[i] == '"' || s[i] == '\'') {
            const char *close = memchr(s + i + 1, s[i], n - i - 1);
            if (!close) {
                errf_(why, nwhy, "value %d: missing closing %c quote", item, s[i]);
                goto bad;
            }
            if (add_value_(vals, nv, s + i + 1, (size_t)(close - s - (long)i - 1))) goto oom;
            i = (size_t)(close - s) + 1;
            while (i < n && blank_(s[i])) i++;
            if (i < n && s[i] != ',' && !(with_comments && clgrad_ini_comment_at(s, i, i))) {
                errf_(why, nwhy, "value %d: text after the closing quote: '%.*s'", item, (int)(n - i), s + i);
                goto bad;
            }
        } else {
            size_t j = i;
            while (j < n && s[j] != ',' && !(with_comments && clgrad_ini_comment_at(s, j, i))) j++;
            size_t e = j;
            while (e > i && blank_(s[e - 1])) e--;
            if (add_value_(vals, nv, s + i, e - i)) goto oom;
            i = j;
        }
        const char *v = (*vals)[*nv - 1];
        for (const char *c = v; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                errf_(why, nwhy, "value %d: control character (byte 0x%02x)", item, (unsigned char)*c);
                goto bad;
            }
        for (int k = 0; k < *nv - 1; k++)
            if (strcmp((*vals)[k], v) == 0) {
                errf_(why, nwhy, "value '%s' is listed twice (values %d and %d)", v, k + 1, item);
                goto bad;
            }
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        return 0; /* end of text or a comment */
    }
oom:
    errf_(why, nwhy, "out of memory");
bad:
    free_strs_(*vals, *nv);
    *vals = NULL, *nv = 0;
    return -1;
}

static int find_axis_(const clgrad_sweep_grid *g, const char *key, size_t n)
{
    for (int i = 0; i < g->naxes; i++)
        if (strlen(g->axes[i].key) == n && memcmp(g->axes[i].key, key, n) == 0) return i;
    return -1;
}

static int push_axis_(clgrad_sweep_grid *g, const char *key, size_t nk, char **vals, int nv, int line)
{
    if (g->naxes >= CLGRAD_SWEEP_MAX_AXES) return -1;
    clgrad_sweep_axis *a = realloc(g->axes, (size_t)(g->naxes + 1) * sizeof *a);
    if (!a) return -1;
    g->axes = a;
    char *k = strndup(key, nk);
    if (!k) return -1;
    a[g->naxes].key = k;
    a[g->naxes].values = vals;
    a[g->naxes].nvalues = nv;
    a[g->naxes].line = line;
    g->naxes++;
    return 0;
}

int clgrad_sweep_grid_add(clgrad_sweep_grid *g, const char *spec, char *err, size_t nerr)
{
    const char *eq = strchr(spec, '=');
    if (!eq)
        return errf_(err, nerr, "--grid '%s': expected SECTION.KEY=V1,V2,... (no '='), e.g. optim.lr=1e-3,1e-2",
                     spec);
    const char *key = spec;
    size_t nk = (size_t)(eq - spec);
    trim_(&key, &nk);
    if (!key_ok_(key, nk))
        return errf_(err, nerr,
                     "--grid '%s': '%.*s' is not a SECTION.KEY name (letters, digits, '_' and one '.', "
                     "e.g. optim.lr)",
                     spec, (int)nk, key);
    if (nk > 6 && memcmp(key, "sweep.", 6) == 0)
        return errf_(err, nerr, "--grid '%s': [sweep] keys cannot be swept", spec);
    char why[512];
    char **vals;
    int nv;
    if (parse_values_(eq + 1, strlen(eq + 1), 0, &vals, &nv, why, sizeof why))
        return errf_(err, nerr, "--grid '%s': %s", spec, why);
    int a = find_axis_(g, key, nk);
    if (a >= 0 && g->axes[a].line == 0) {
        free_strs_(vals, nv);
        return errf_(err, nerr, "--grid '%s': %.*s is given twice on the command line; list all its values in one --grid",
                     spec, (int)nk, key);
    }
    if (a >= 0) { /* replaces the [sweep] axis, in place */
        free_strs_(g->axes[a].values, g->axes[a].nvalues);
        g->axes[a].values = vals;
        g->axes[a].nvalues = nv;
        g->axes[a].line = 0;
        return 0;
    }
    if (push_axis_(g, key, nk, vals, nv, 0)) {
        free_strs_(vals, nv);
        return errf_(err, nerr, "--grid '%s': %s", spec,
                     g->naxes >= CLGRAD_SWEEP_MAX_AXES ? "more than 64 grid keys" : "out of memory");
    }
    return 0;
}

static int is_(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

int clgrad_sweep_grid_from_ini(clgrad_sweep_grid *g, const char *name, const char *text, int *has_section,
                               char *err, size_t nerr)
{
    clgrad_ini it;
    clgrad_ini_line l;
    int in_sweep = 0, seen = 0, first_axis = g->naxes;
    if (has_section) *has_section = 0;
    clgrad_ini_begin(&it, text, strlen(text));
    while (clgrad_ini_next(&it, &l)) {
        const char *s = l.s;
        size_t n = l.n;
        if (l.kind == CLGRAD_INI_BLANK) continue;
        if (l.kind == CLGRAD_INI_SECTION) {
            in_sweep = is_(l.section, l.nsection, "sweep");
            if (in_sweep && seen) {
                errf_(err, nerr, "%s:%d: [sweep]: section appears twice (first at line %d); merge them", name,
                      it.line, seen);
                goto bad;
            }
            if (in_sweep) seen = it.line;
            continue;
        }
        if (!in_sweep) continue;
        if (!l.key) {
            errf_(err, nerr, "%s:%d: [sweep]: expected 'section.key = value, value, ...', got '%.*s'", name,
                  it.line, (int)n, s);
            goto bad;
        }
        const char *key = l.key;
        size_t nk = l.nkey;
        if (!key_ok_(key, nk)) {
            errf_(err, nerr,
                  "%s:%d: [sweep]: '%.*s' is not a section.key name (letters, digits, '_' and one '.', "
                  "e.g. optim.lr)",
                  name, it.line, (int)nk, key);
            goto bad;
        }
        int a = find_axis_(g, key, nk);
        if (a >= first_axis) {
            errf_(err, nerr, "%s:%d: [sweep] %.*s: set twice (first at line %d)", name, it.line, (int)nk, key,
                  g->axes[a].line);
            goto bad;
        }
        char why[512];
        char **vals;
        int nv;
        if (parse_values_(l.value, l.nvalue, 1, &vals, &nv, why, sizeof why)) {
            errf_(err, nerr, "%s:%d: [sweep] %.*s: %s", name, it.line, (int)nk, key, why);
            goto bad;
        }
        if (push_axis_(g, key, nk, vals, nv, it.line)) {
            free_strs_(vals, nv);
            errf_(err, nerr, "%s:%d: [sweep] %.*s: %s", name, it.line, (int)nk, key,
                  g->naxes >= CLGRAD_SWEEP_MAX_AXES ? "more than 64 grid keys" : "out of memory");
            goto bad;
        }
    }
    if (has_section) *has_section = seen > 0;
    return 0;
bad:
    while (g->naxes > first_axis) { /* leave g as it was */
        clgrad_sweep_axis *a = &g->axes[--g->naxes];
        free(a->key);
        free_strs_(a->values, a->nvalues);
    }
    if (g->naxes == 0) {
        free(g->axes);
        g->axes = NULL;
    }
    return -1;
}

long clgrad_sweep_npoints(const clgrad_sweep_grid *g)
{
    if (!g || g->naxes == 0) return 0;
    long p = 1;
    for (int i = 0; i < g->naxes; i++) {
        long nv = g->axes[i].nvalues;
        if (nv <= 0) return 0;
        if (p > CLGRAD_SWEEP_MAX_POINTS / nv) return -1;
        p *= nv;
    }
    return p;
}

void clgrad_sweep_point(const clgrad_sweep_grid *g, long idx, int *vi)
{
    for (int a = g->naxes - 1; a >= 0; a--) {
        vi[a] = (int)(idx % g->axes[a].nvalues);
        idx /= g->axes[a].nvalues;
    }
}

static void sb_safe_(clgrad_sbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        clgrad_sb_putc(b, (char)((isalnum(c) && c < 0x80) || strchr("._=+-", c) ? c : '_'));
    }
}

int clgrad_sweep_dirname(const clgrad_sweep_grid *g, long idx, char *out, size_t n)
{
    long np = clgrad_sweep_npoints(g);
    int width = 3;
    for (long m = np - 1; m >= 1000; m /= 10) width++;
    int vi[CLGRAD_SWEEP_MAX_AXES];
    clgrad_sweep_point(g, idx, vi);
    clgrad_sbuf b = {0};
    clgrad_sb_printf(&b, "%0*ld", width, idx);
    for (int a = 0; a < g->naxes; a++) {
        clgrad_sb_putc(&b, '-');
        sb_safe_(&b, g->axes[a].key);
        clgrad_sb_putc(&b, '=');
        sb_safe_(&b, g->axes[a].values[vi[a]]);
    }
    if (b.oom) return -1;
    size_t len = b.len < DIRNAME_MAX ? b.len : DIRNAME_MAX;
    int rc = -1;
    if (len < n) {
        memcpy(out, b.s, len);
        out[len] = 0;
        rc = 0;
    }
    free(b.s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The experiment copy                                                 */
/* ------------------------------------------------------------------ */

static int absolute_(const char *s, size_t n)
{
    return (n && (s[0] == '/' || s[0] == '\\')) || (n > 1 && isalpha((unsigned char)s[0]) && s[1] == ':');
}

/* The value of a "key = value" line as config.c reads it (clgrad_ini_value:
** quotes removed, an inline comment dropped).  0, or -1 when it is malformed. */
static int ini_value_(const char *s, size_t n, const char **v, size_t *nv)
{
    return clgrad_ini_value(s, n, v, nv, NULL, NULL) == CLGRAD_INI_NO_CLOSE ? -1 : 0;
}

/* The directory prefix config.c puts before a relative path from `path`. */
static char *path_prefix_(const char *path)
{
    clgrad_sbuf b = {0};
    const char *slash = strrchr(path, '/');
    if (!slash || !absolute_(path, strlen(path))) {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) return NULL;
        clgrad_sb_printf(&b, "%s/", cwd);
    }
    if (slash) clgrad_sb_putn(&b, path, (size_t)(slash - path) + 1);
    return clgrad_sb_take(&b);
}

/* A directory made absolute against the working directory (malloc'd), or
** NULL (errno). */
static char *abs_dir_(const char *d)
{
    if (absolute_(d, strlen(d))) return strdup(d);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    while (d[0] == '.' && d[1] == '/') d += 2;
    clgrad_sbuf b = {0};
    clgrad_sb_printf(&b, "%s/%s", cwd, strcmp(d, ".") ? d : "");
    while (b.len > 1 && b.s[b.len - 1] == '/') b.s[--b.len] = 0;
    if (b.oom) errno = ENOMEM;
    return clgrad_sb_take(&b);
}

char *clgrad_sweep_experiment_copy(const char *path, const char *text, char *err, size_t nerr)
{
    clgrad_ini it;
    clgrad_ini_line l;
    clgrad_sbuf b = {0};
    char *prefix = NULL;
    int in_sweep = 0, in_data = 0;
    size_t len = strlen(text);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) clgrad_sb_putn(&b, text, 3);
    clgrad_ini_begin(&it, text, len);
    while (clgrad_ini_next(&it, &l)) {
        const char *s = l.raw;
        size_t n = l.nraw, eol = l.neol;
        if (l.kind == CLGRAD_INI_SECTION) {
            in_sweep = is_(l.section, l.nsection, "sweep");
            in_data = is_(l.section, l.nsection, "data");
        }
        if (in_sweep) {
            clgrad_sb_puts(&b, "# sweep: ");
            clgrad_sb_putn(&b, s, n + eol);
            continue;
        }
        if (in_data && l.key) {
            const char *key = l.key, *v;
            size_t nk = l.nkey, nv;
            if ((is_(key, nk, "path") || is_(key, nk, "labels")) &&
                ini_value_(l.value, l.nvalue, &v, &nv) == 0 && nv && !absolute_(v, nv)) {
                if (!prefix && !(prefix = path_prefix_(path))) {
                    errf_(err, nerr, "%s: cannot make [data] %.*s absolute: current directory: %s", path,
                          (int)nk, key, strerror(errno));
                    goto bad;
                }
                clgrad_sbuf abs = {0};
                clgrad_sb_puts(&abs, prefix);
                clgrad_sb_putn(&abs, v, nv);
                const char *as = clgrad_sb_str(&abs);
                char q = strchr(as, '"') ? '\'' : '"';
                if (strchr(as, q)) {
                    free(abs.s);
                    errf_(err, nerr, "%s: [data] %.*s: the absolute path holds both quote characters", path,
                          (int)nk, key);
                    goto bad;
                }
                clgrad_sb_printf(&b, "%.*s = %c%s%c", (int)nk, key, q, as, q);
                clgrad_sb_putn(&b, s + n, eol);
                free(abs.s);
                continue;
            }
        }
        clgrad_sb_putn(&b, s, n + eol);
    }
    free(prefix);
    char *out = clgrad_sb_take(&b);
    if (!out) errf_(err, nerr, "out of memory");
    return out;
bad:
    free(prefix);
    free(b.s);
    return NULL;
}

/* [run] name from INI text (malloc'd), or NULL. */
static char *ini_run_name_(const char *text)
{
    clgrad_ini it;
    clgrad_ini_line l;
    int in_run = 0;
    clgrad_ini_begin(&it, text, strlen(text));
    while (clgrad_ini_next(&it, &l)) {
        const char *v;
        size_t nv;
        if (l.kind == CLGRAD_INI_SECTION) {
            in_run = is_(l.section, l.nsection, "run");
            continue;
        }
        if (in_run && l.key && is_(l.key, l.nkey, "name") && ini_value_(l.value, l.nvalue, &v, &nv) == 0 && nv)
            return strndup(v, nv);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The sweep                                                           */
/* ------------------------------------------------------------------ */

enum { ST_PENDING, ST_RUNNING, ST_COMPLETED, ST_DIVERGED, ST_INTERRUPTED, ST_FAILED, ST_COUNT };
static const char *const state_names[ST_COUNT] = {"pending",  "running", "completed",
                                                 "diverged", "interrupted", "failed"};

enum { F_TRAIN, F_TEST, F_ACC, F_GNORM, F_MS, F_COUNT };
static const char *const num_keys[F_COUNT] = {"final_train_loss", "final_test_loss", "final_test_accuracy",
                                              "max_grad_norm", "ms_per_step"};

typedef struct {
    long index;
    char *dir;             /* name under the sweep directory (owned) */
    int mine;              /* in this shard */
    int state;
    int skipped;           /* found done at start */
    pid_t pid;
    int dev;               /* index into the device list, -1 = none */
    double t0;
    char *device;          /* the device column (owned) */
    int has_step;
    double step;           /* divergence step */
    char *kind;            /* divergence kind (owned) */
    int has[F_COUNT];
    double num[F_COUNT];
    char *error;           /* why it failed (owned) */
} point;

typedef struct {
    /* options */
    const char *exp;
    char *out;
    int jobs, quiet, force, dry_run, emit;
    int jobs_given, shard_off; /* --jobs given; --shard off */
    char shard_from[512];  /* where an automatic shard came from ("" = --shard or none) */
    char **devices;
    int ndev;
    long shard_k, shard_n; /* shard_n 0: no sharding */
    const char **sets;
    int nsets;
    const char **grids;
    int ngrids;
    const char **pass;     /* options for `clgrad run` */
    int npass;
    const char *runner;
    const char *merge;
    char cmdline[4096];
    /* definition */
    char *exp_abs;         /* EXP made absolute */
    char *copy_name;       /* base name of EXP: the copy in the sweep directory */
    char *copy_path;       /* out/copy_name */
    char *copy_text;
    clgrad_sweep_grid grid;
    long npoints;
    point *pts;
    /* run state */
    int lock_fd[2];
    int watch_fd;          /* run_points_: the watchdog's pipe (-1: none) */
    int running, io_error, stopping;
    char **pt_sets;        /* scratch: one point's "key=value" strings */
} sweep;

static clgrad_sweep_validate_fn validator_;
static clgrad_sweep_devices_fn device_lister_;

void clgrad_sweep_set_validator(clgrad_sweep_validate_fn fn) { validator_ = fn; }
void clgrad_sweep_set_device_lister(clgrad_sweep_devices_fn fn) { device_lister_ = fn; }

static void usage_(FILE *f)
{
    fprintf(f,
            "usage: clgrad sweep EXP.ini [--grid SEC.KEY=V1,V2,...]... [options]\n"
            "       clgrad sweep EXP.ini ... --out DIR --emit | parallel --joblog J --resume\n"
            "       clgrad sweep --merge SWEEP_DIR\n"
            "\n"
            "Runs EXP.ini once per point of the grid (the cartesian product of the [sweep]\n"
            "section of EXP.ini and the --grid options, first key outermost), each point\n"
            "in its own run directory SWEEP_DIR/<index>-<key=value>..., and writes\n"
            "SWEEP_DIR/summary.csv.  Running the same sweep again resumes it.\n"
            "\n"
            "options:\n"
            "  --grid SEC.KEY=V1,V2,...  an axis (adds to / replaces one of [sweep]); quote values\n"
            "                     holding commas: 'model.hidden=\"64,64\",128'\n"
            "  --set SEC.KEY=VAL  override a key in every point (repeatable)\n"
            "  --out DIR          sweep directory (default sweeps/<name>-<timestamp>)\n"
            "  --jobs N           run up to N points at once (default 1)\n"
            "  --device A[,B...]  device(s) for the points, shared out round-robin; all: every device,\n"
            "                     one point on each at a time (unless --jobs)\n"
            "  --shard K/N        run only the points with index %% N == K (0 <= K < N; needs --out);\n"
            "                     default: from SLURM_ARRAY_TASK_ID (+ CLGRAD_SHARDS or the array's size),\n"
            "                     OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE, srun's SLURM_PROCID/NTASKS;\n"
            "                     --shard off: every point, whatever the environment says\n"
            "  --emit             print one self-contained `clgrad run` line per point (for GNU\n"
            "                     parallel, xargs -P, HTCondor); records the sweep, runs nothing\n"
            "  --merge DIR        build DIR/summary.csv from the run directories and the shard summaries\n"
            "  --force            resume even though the sweep definition changed\n"
            "  --dry-run          print the points and their commands, run nothing\n"
            "  --quiet            only errors and the final line\n"
            "  --runner PATH      program run as `PATH run ...` ($CLGRAD_SWEEP_RUNNER, default: clgrad)\n"
            "  --cl-dir, --cache-dir, --no-cache, --gemm, --save-data, --init-from\n"
            "                     passed on to every `clgrad run`\n"
            "\n"
            "exit status: 0 all points completed or diverged, 1 some failed, 2 usage or\n"
            "configuration error, 130 interrupted.\n");
}

static void point_clear_(point *p)
{
    free(p->device);
    free(p->kind);
    free(p->error);
    p->device = p->kind = p->error = NULL;
    p->has_step = 0;
    for (int f = 0; f < F_COUNT; f++) p->has[f] = 0;
}

static void sweep_free_(sweep *sw)
{
    free(sw->out);
    free_strs_(sw->devices, sw->ndev);
    free(sw->sets);
    free(sw->grids);
    free(sw->pass);
    free(sw->exp_abs);
    free(sw->copy_name);
    free(sw->copy_path);
    free(sw->copy_text);
    for (long i = 0; sw->pts && i < sw->npoints; i++) {
        point_clear_(&sw->pts[i]);
        free(sw->pts[i].dir);
    }
    free(sw->pts);
    if (sw->pt_sets) free_strs_(sw->pt_sets, sw->grid.naxes);
    clgrad_sweep_grid_free(&sw->grid);
    for (int i = 0; i < 2; i++)
        if (sw->lock_fd[i] >= 0) close(sw->lock_fd[i]);
}

/* ---- command line ---- */

static int parse_long_(const char *s, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (e == s || *e || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int set_ok_(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq) return 0;
    const char *k = s;
    size_t n = (size_t)(eq - s);
    trim_(&k, &n);
    return key_ok_(k, n);
}

static int split_devices_(sweep *sw, const char *spec)
{
    const char *s = spec;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        const char *t = s;
        trim_(&t, &n);
        if (!n) {
            fprintf(stderr, "clgrad sweep: --device '%s': empty device in the list\n", spec);
            return -1;
        }
        if (add_value_(&sw->devices, &sw->ndev, t, n)) return -1;
        if (!c) return 0;
        s = c + 1;
    }
}

/* An environment variable as a whole number in [lo, hi]: 1 (set in *v), 0
** when unset or empty, -1 when malformed (printed). */
static int env_long_(const char *name, long lo, long hi, long *v)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    if (parse_long_(s, lo, hi, v) == 0) return 1;
    fprintf(stderr, "clgrad sweep: %s='%s' in the environment: expected a whole number in [%ld, %ld]\n", name, s, lo,
            hi);
    return -1;
}

/* The shard from a scheduler's environment, when --shard is not given:
**   a Slurm job array: K = (SLURM_ARRAY_TASK_ID - MIN) / STEP of N =
**   SLURM_ARRAY_TASK_COUNT (else (MAX - MIN) / STEP + 1); with CLGRAD_SHARDS
**   set, K = SLURM_ARRAY_TASK_ID of N = CLGRAD_SHARDS (so that some tasks can
**   be submitted again on their own: sbatch --array=1,4);
**   ranks of a parallel launch (mpirun, srun): the first pair of
**   OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/PMI_SIZE, SLURM_PROCID/SLURM_NTASKS
**   (the last only inside a job step, SLURM_STEP_ID set: a batch script sees
**   SLURM_PROCID=0 and the allocation's SLURM_NTASKS) with a size > 1;
**   both: the array task's share split again among the ranks.
** 0 (sw->shard_k/n, sw->shard_from set when found), or -1 (printed). */
static int env_shard_(sweep *sw)
{
    long k = 0, n = 1, id, lo = 0, hi, step = 1, cnt;
    const long M = CLGRAD_SWEEP_MAX_POINTS;
    clgrad_sbuf from = {0};
    int r = env_long_("SLURM_ARRAY_TASK_ID", 0, LONG_MAX / 2, &id);
    if (r < 0) return -1;
    if (r) {
        int rl = env_long_("SLURM_ARRAY_TASK_MIN", 0, id, &lo), rs = env_long_("SLURM_ARRAY_TASK_STEP", 1, M, &step);
        int rc = env_long_("SLURM_ARRAY_TASK_COUNT", 1, M, &cnt), rh = env_long_("SLURM_ARRAY_TASK_MAX", id, LONG_MAX / 2, &hi);
        if (rl < 0 || rs < 0 || rc < 0 || rh < 0) return -1;
        long total;
        int rt = env_long_("CLGRAD_SHARDS", 1, M, &total);
        if (rt < 0) return -1;
        if (rt) { /* the task ids are the shard numbers (resubmitting some: --array=1,4) */
            if (id >= total) {
                fprintf(stderr, "clgrad sweep: SLURM_ARRAY_TASK_ID=%ld is not a shard of CLGRAD_SHARDS=%ld (0 to %ld)\n",
                        id, total, total - 1);
                return -1;
            }
            lo = 0, step = 1, cnt = total, rc = 1;
        } else if (!rc && rh) cnt = (hi - lo) / step + 1, rc = 1;
        if (!rc) {
            fprintf(stderr,
                    "clgrad sweep: SLURM_ARRAY_TASK_ID=%ld is set but neither SLURM_ARRAY_TASK_COUNT nor "
                    "SLURM_ARRAY_TASK_MAX: cannot tell the array's size; give --shard K/N (or --shard off)\n",
                    id);
            return -1;
        }
        k = (id - lo) / step, n = cnt;
        if ((id - lo) % step || k >= n) {
            fprintf(stderr,
                    "clgrad sweep: SLURM_ARRAY_TASK_ID=%ld is not a task of the array (min %ld, step %ld, %ld "
                    "tasks); give --shard K/N\n",
                    id, lo, step, n);
            return -1;
        }
        clgrad_sb_printf(&from, "SLURM_ARRAY_TASK_ID=%ld of %ld %s", id, n, rt ? "shards (CLGRAD_SHARDS)" : "array tasks");
    }
    static const char *const ranks[][2] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                           {"PMI_RANK", "PMI_SIZE"},
                                           {"SLURM_PROCID", "SLURM_NTASKS"}};
    for (int i = 0; i < 3; i++) {
        long rank, size;
        if (i == 2 && !getenv("SLURM_STEP_ID")) break;
        int rs = env_long_(ranks[i][1], 1, M, &size);
        if (rs < 0) return -1;
        if (!rs || size < 2) continue;
        int rr = env_long_(ranks[i][0], 0, size - 1, &rank);
        if (rr < 0) return -1;
        if (!rr) continue;
        if (n > M / size) {
            fprintf(stderr, "clgrad sweep: %ld array tasks x %s=%ld ranks: too many shards\n", n, ranks[i][1], size);
            return -1;
        }
        k = k * size + rank, n *= size;
        clgrad_sb_printf(&from, "%s%s=%ld of %s=%ld", from.len ? ", " : "", ranks[i][0], rank, ranks[i][1], size);
        break;
    }
    if (from.len) {
        sw->shard_k = k, sw->shard_n = n;
        snprintf(sw->shard_from, sizeof sw->shard_from, "%s", clgrad_sb_str(&from));
    }
    free(from.s);
    return from.oom ? -1 : 0;
}

/* The options with a value that every point's `clgrad run` gets as given. */
static const char *passed_opt_(const char *a)
{
    static const char *const opts[] = {"--cl-dir", "--cache-dir", "--gemm", "--init-from"};
    for (size_t k = 0; k < sizeof opts / sizeof *opts; k++)
        if (strcmp(a, opts[k]) == 0) return opts[k];
    return NULL;
}

/* One option of clgrad sweep (a: "--name", v: its value or NULL): 0, 1
** (--help printed) or -1 (message printed). */
static int parse_opt_(sweep *sw, const clgrad_cli_args *g, const char *a, const char *v)
{
    if (strcmp(a, "--grid") == 0) sw->grids[sw->ngrids++] = v;
    else if (strcmp(a, "--set") == 0) {
        if (!set_ok_(v)) {
            fprintf(stderr, "clgrad sweep: --set '%s': expected SECTION.KEY=VALUE, e.g. run.steps=100\n", v);
            return -1;
        }
        sw->sets[sw->nsets++] = v;
    } else if (strcmp(a, "--out") == 0) {
        free(sw->out);
        if (!*v) {
            fprintf(stderr, "clgrad sweep: --out needs a directory\n");
            return -1;
        }
        sw->out = strdup(v);
    } else if (strcmp(a, "--jobs") == 0 || strcmp(a, "-j") == 0) {
        long j;
        if (parse_long_(v, 1, MAX_JOBS, &j)) {
            fprintf(stderr, "clgrad sweep: --jobs '%s': expected a number of parallel points in [1, %d]\n", v,
                    MAX_JOBS);
            return -1;
        }
        sw->jobs = (int)j;
        sw->jobs_given = 1;
    } else if (strcmp(a, "--device") == 0) {
        free_strs_(sw->devices, sw->ndev);
        sw->devices = NULL, sw->ndev = 0;
        if (strcmp(v, "all") == 0) { /* every device of this machine, one point on each at a time */
            char list[4096];
            int nd = device_lister_ ? device_lister_(list, sizeof list) : -1;
            if (nd <= 0) {
                fprintf(stderr, "clgrad sweep: --device all: %s\n",
                        !device_lister_ ? "no device list in this program; give --device A,B,..."
                        : nd == 0       ? "no OpenCL device found"
                                        : list);
                return -1;
            }
            if (split_devices_(sw, list)) return -1;
            if (!sw->jobs_given) sw->jobs = sw->ndev;
        } else if (split_devices_(sw, v)) return -1;
    } else if (strcmp(a, "--shard") == 0 && strcmp(v, "off") == 0) {
        sw->shard_off = 1;
        sw->shard_n = 0;
    } else if (strcmp(a, "--shard") == 0) {
        sw->shard_off = 0;
        const char *slash = strchr(v, '/');
        char k[32] = "";
        size_t nk = slash ? (size_t)(slash - v) : 0;
        if (slash && nk < sizeof k) memcpy(k, v, nk), k[nk] = 0;
        if (!slash || parse_long_(slash + 1, 1, CLGRAD_SWEEP_MAX_POINTS, &sw->shard_n) ||
            parse_long_(k, 0, sw->shard_n - 1, &sw->shard_k)) {
            sw->shard_n = 0;
            fprintf(stderr,
                    "clgrad sweep: --shard '%s': expected K/N with 0 <= K < N (0-based: --shard 0/2 and "
                    "--shard 1/2 run half each)\n",
                    v);
            return -1;
        }
    } else if (strcmp(a, "--merge") == 0) sw->merge = v;
    else if (strcmp(a, "--runner") == 0) sw->runner = v;
    else if (passed_opt_(a)) { /* --opt value, also for --opt=value */
        sw->pass[sw->npass++] = passed_opt_(a);
        sw->pass[sw->npass++] = v;
    } else if (strcmp(a, "--no-cache") == 0 || strcmp(a, "--save-data") == 0) sw->pass[sw->npass++] = g->elem;
    else if (strcmp(a, "--quiet") == 0) sw->quiet = 1;
    else if (strcmp(a, "--force") == 0) sw->force = 1;
    else if (strcmp(a, "--dry-run") == 0) sw->dry_run = 1;
    else if (strcmp(a, "--emit") == 0) sw->emit = 1;
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        usage_(stdout);
        return 1;
    } else {
        clgrad_cli_unknown_option("sweep", g->elem);
        return -1;
    }
    return 0;
}

/* 0, 1 (--help printed) or -1 (message printed). */
static int parse_args_(sweep *sw, int argc, char **argv)
{
    size_t na = (size_t)(argc > 0 ? argc : 1);
    sw->sets = calloc(na, sizeof *sw->sets);
    sw->grids = calloc(na, sizeof *sw->grids);
    sw->pass = calloc(2 * na, sizeof *sw->pass);
    if (!sw->sets || !sw->grids || !sw->pass) return -1;
    sw->jobs = 1;
    clgrad_cli_cmdline("sweep", "clgrad", argc, argv, sw->cmdline, sizeof sw->cmdline);
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, "sweep", "clgrad sweep", "j=jobs", argc, argv) != 0) return -1;
    int r, rc = 0;
    while (!rc && (r = clgrad_cli_args_next(&g)) != -1) {
        const char *a = r == 1 ? g.opt : g.value, *v = g.value;
        if (r == -2) rc = -1;
        else if (r == 0) {
            if (!sw->exp) sw->exp = a;
            else {
                fprintf(stderr, "clgrad sweep: unexpected argument '%s' (one experiment file per sweep)\n", a);
                rc = -1;
            }
        } else rc = parse_opt_(sw, &g, a, v);
    }
    clgrad_cli_args_free(&g);
    if (rc) return rc;
    if (sw->merge) {
        if (sw->exp || sw->ngrids || sw->nsets || sw->shard_n || sw->emit) {
            fprintf(stderr, "clgrad sweep: --merge DIR takes no experiment, --grid, --set, --shard or --emit\n");
            return -1;
        }
        return 0;
    }
    if (!sw->exp) {
        fprintf(stderr, "clgrad sweep: which experiment? usage: clgrad sweep EXP.ini --grid SEC.KEY=V1,V2,...\n");
        return -1;
    }
    if (sw->emit && sw->dry_run) {
        fprintf(stderr, "clgrad sweep: --emit and --dry-run: choose one\n");
        return -1;
    }
    if (!sw->shard_n && !sw->shard_off && env_shard_(sw)) return -1;
    if (sw->shard_n && !sw->out) {
        if (*sw->shard_from)
            fprintf(stderr,
                    "clgrad sweep: %s: this is one shard of a sweep (from %s); give --out DIR, the same directory "
                    "for every shard (or --shard off to run every point here)\n",
                    sw->exp, sw->shard_from);
        else fprintf(stderr, "clgrad sweep: --shard needs --out DIR, the same directory for every shard\n");
        return -1;
    }
    return 0;
}

/* ---- definition ---- */

static const char *base_name_(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Check that no --set names a key the grid sweeps; 0 or -1 (message printed). */
static int check_sets_(sweep *sw)
{
    for (int s = 0; s < sw->nsets; s++) {
        const char *eq = strchr(sw->sets[s], '='), *k = sw->sets[s];
        size_t nk = (size_t)(eq - k);
        trim_(&k, &nk);
        if (find_axis_(&sw->grid, k, nk) >= 0) {
            fprintf(stderr, "clgrad sweep: --set %s: %.*s is swept by the grid; drop the --set or the axis\n",
                    sw->sets[s], (int)nk, k);
            return -1;
        }
    }
    return 0;
}

/* Name the copy and set EXP's absolute path; refuses the sweep directory's own names; 0 or -1 (message printed). */
static int name_copy_(sweep *sw)
{
    sw->copy_name = strdup(base_name_(sw->exp));
    char *prefix = absolute_(sw->exp, strlen(sw->exp)) ? strdup("") : path_prefix_("x");
    if (prefix) {
        clgrad_sbuf b = {0};
        clgrad_sb_printf(&b, "%s%s", prefix, sw->exp);
        sw->exp_abs = clgrad_sb_take(&b);
        free(prefix);
    }
    if (!sw->copy_name || !sw->exp_abs) {
        fprintf(stderr, "clgrad sweep: out of memory\n");
        return -1;
    }
    size_t ncopy = strlen(sw->copy_name);
    if (!ncopy || strcmp(sw->copy_name, "sweep.json") == 0 || strncmp(sw->copy_name, ".sweep", 6) == 0 ||
        (strncmp(sw->copy_name, "summary", 7) == 0 && ncopy > 4 && strcmp(sw->copy_name + ncopy - 4, ".csv") == 0)) {
        fprintf(stderr,
                "clgrad sweep: %s: the experiment's file name is one of the sweep directory's own "
                "(sweep.json, summary*.csv, .sweep*); rename it\n",
                sw->exp);
        return -1;
    }
    if (!clgrad_utf8_valid(sw->copy_name)) { /* sweep.json could not record it (JSON is UTF-8): a resume would not find it */
        fprintf(stderr, "clgrad sweep: %s: the experiment's file name is not valid UTF-8; rename it\n", sw->exp);
        return -1;
    }
    return 0;
}

/* The default --out: sweeps/NAME-TIME, NAME from run.name (a --set wins) or EXP's file name; NULL: no memory. */
static char *default_out_(sweep *sw, const char *text)
{
    char *name = ini_run_name_(text);
    for (int s = 0; s < sw->nsets; s++) { /* a --set run.name wins */
        const char *k = sw->sets[s], *eq = strchr(k, '='), *v = eq + 1;
        size_t nk = (size_t)(eq - k), nv = strlen(v);
        trim_(&k, &nk);
        trim_(&v, &nv);
        if (nv >= 2 && (v[0] == '"' || v[0] == '\'') && v[nv - 1] == v[0]) v++, nv -= 2;
        if (is_(k, nk, "run.name") && nv) {
            free(name);
            name = strndup(v, nv);
        }
    }
    if (!name) {
        const char *b = base_name_(sw->exp);
        size_t nb = strlen(b);
        if (nb > 4 && strcmp(b + nb - 4, ".ini") == 0) nb -= 4;
        name = strndup(b, nb);
    }
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, "sweeps/");
    sb_safe_(&b, name ? name : "sweep");
    clgrad_sb_printf(&b, "-%s", ts);
    free(name);
    return clgrad_sb_take(&b);
}

/* Allocate the points (directory names, shard membership) and the copy's path; 0 or -1 (message printed). */
static int init_points_(sweep *sw)
{
    sw->copy_path = join_(sw->out, sw->copy_name);
    sw->pts = calloc((size_t)sw->npoints, sizeof *sw->pts);
    sw->pt_sets = calloc((size_t)sw->grid.naxes, sizeof *sw->pt_sets);
    if (!sw->copy_path || !sw->pts || !sw->pt_sets) {
        fprintf(stderr, "clgrad sweep: out of memory\n");
        return -1;
    }
    for (long i = 0; i < sw->npoints; i++) {
        char d[DIRNAME_MAX + 1];
        point *p = &sw->pts[i];
        p->index = i;
        p->dev = -1;
        p->mine = !sw->shard_n || i % sw->shard_n == sw->shard_k;
        if (clgrad_sweep_dirname(&sw->grid, i, d, sizeof d) || !(p->dir = strdup(d))) {
            fprintf(stderr, "clgrad sweep: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* Read EXP, build the grid and the copy; 0 or -1 (message printed). */
static int load_definition_(sweep *sw)
{
    char why[4096];
    size_t len;
    char *text = read_file_(sw->exp, &len, why, sizeof why);
    if (!text) {
        fprintf(stderr, "clgrad sweep: %s: %s\n", sw->exp, why);
        return -1;
    }
    int rc = -1;
    if (strlen(text) != len) {
        fprintf(stderr, "clgrad sweep: %s: holds a NUL byte; is this a text file?\n", sw->exp);
        goto out;
    }
    if (clgrad_sweep_grid_from_ini(&sw->grid, sw->exp, text, NULL, why, sizeof why)) {
        fprintf(stderr, "clgrad sweep: %s\n", why);
        goto out;
    }
    for (int i = 0; i < sw->ngrids; i++)
        if (clgrad_sweep_grid_add(&sw->grid, sw->grids[i], why, sizeof why)) {
            fprintf(stderr, "clgrad sweep: %s\n", why);
            goto out;
        }
    sw->npoints = clgrad_sweep_npoints(&sw->grid);
    if (sw->npoints == 0) {
        fprintf(stderr, "clgrad sweep: %s: nothing to sweep: give --grid SEC.KEY=V1,V2,... or a [sweep] section\n",
                sw->exp);
        goto out;
    }
    if (sw->npoints < 0) {
        fprintf(stderr, "clgrad sweep: the grid has more than %ld points\n", CLGRAD_SWEEP_MAX_POINTS);
        goto out;
    }
    if (check_sets_(sw)) goto out;
    sw->copy_text = clgrad_sweep_experiment_copy(sw->exp, text, why, sizeof why);
    if (!sw->copy_text) {
        fprintf(stderr, "clgrad sweep: %s\n", why);
        goto out;
    }
    if (name_copy_(sw)) goto out;
    if (!sw->out && !(sw->out = default_out_(sw, text))) goto out;
    if (init_points_(sw)) goto out;
    rc = 0;
out:
    free(text);
    return rc;
}

/* Fill sw->pt_sets with point idx's "key=value" strings; 0 or -1. */
static int point_sets_(sweep *sw, long idx)
{
    int vi[CLGRAD_SWEEP_MAX_AXES];
    clgrad_sweep_point(&sw->grid, idx, vi);
    for (int a = 0; a < sw->grid.naxes; a++) {
        free(sw->pt_sets[a]);
        clgrad_sbuf b = {0};
        clgrad_sb_printf(&b, "%s=%s", sw->grid.axes[a].key, sw->grid.axes[a].values[vi[a]]);
        if (!(sw->pt_sets[a] = clgrad_sb_take(&b))) return -1;
    }
    return 0;
}

/* Check every point's configuration with the validator; 0 or -1 (printed:
** each distinct error line once, under the first point that has it). */
static int validate_(sweep *sw)
{
    if (!validator_) return 0;
    enum { ERRLEN = 1 << 16, MAX_SHOWN = 40 };
    int na = sw->grid.naxes, nall = na + sw->nsets, nbad = 0, nseen = 0, nhidden = 0;
    const char **sets = calloc((size_t)nall + 1, sizeof *sets);
    char **seen = NULL; /* distinct error lines */
    char *err = malloc(ERRLEN);
    int rc = -1;
    if (!sets || !err) goto oom;
    for (long i = 0; i < sw->npoints; i++) {
        if (point_sets_(sw, i)) goto oom;
        for (int a = 0; a < na; a++) sets[a] = sw->pt_sets[a];
        for (int k = 0; k < sw->nsets; k++) sets[na + k] = sw->sets[k];
        err[0] = 0;
        if (validator_(sw->exp, sw->copy_text, sets, nall, err, ERRLEN) == 0) continue;
        nbad++;
        int header = 0;
        for (const char *l = err; *l;) {
            const char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            int old = 0;
            for (int m = 0; m < nseen && !old; m++) old = strlen(seen[m]) == n && memcmp(seen[m], l, n) == 0;
            if (!old && n) {
                char **ns = realloc(seen, (size_t)(nseen + 1) * sizeof *ns);
                if (!ns || !(ns[nseen] = strndup(l, n))) {
                    if (ns) seen = ns;
                    goto oom;
                }
                seen = ns;
                nseen++;
                if (nseen > MAX_SHOWN) nhidden++;
                else {
                    if (!header++) fprintf(stderr, "clgrad sweep: point %s:\n", sw->pts[i].dir);
                    fprintf(stderr, "  %.*s\n", (int)n, l);
                }
            }
            l += n + (e ? 1 : 0);
        }
    }
    if (nhidden) fprintf(stderr, "clgrad sweep: ... and %d more distinct errors\n", nhidden);
    if (nbad)
        fprintf(stderr, "clgrad sweep: %d of %ld points have configuration errors (line numbers are %s's)\n", nbad,
                sw->npoints, sw->exp);
    rc = nbad ? -1 : 0;
    goto out;
oom:
    fprintf(stderr, "clgrad sweep: out of memory\n");
out:
    free_strs_(seen, nseen);
    free(sets);
    free(err);
    return rc;
}

static char *def_json_(const sweep *sw)
{
    clgrad_sbuf b = {0};
    char ts[40];
    iso_time_(ts, sizeof ts);
    clgrad_sb_puts(&b, "{\n  \"format\": \"" SWEEP_FORMAT "\",\n  \"experiment\": ");
    clgrad_sb_json_str(&b, sw->exp_abs);
    clgrad_sb_puts(&b, ",\n  \"experiment_copy\": ");
    clgrad_sb_json_str(&b, sw->copy_name);
    clgrad_sb_puts(&b, ",\n  \"grid\": [");
    for (int a = 0; a < sw->grid.naxes; a++) {
        clgrad_sb_puts(&b, a ? ",\n    {\"key\": " : "\n    {\"key\": ");
        clgrad_sb_json_str(&b, sw->grid.axes[a].key);
        clgrad_sb_puts(&b, ", \"values\": [");
        for (int v = 0; v < sw->grid.axes[a].nvalues; v++) {
            if (v) clgrad_sb_puts(&b, ", ");
            clgrad_sb_json_str(&b, sw->grid.axes[a].values[v]);
        }
        clgrad_sb_puts(&b, "]}");
    }
    clgrad_sb_puts(&b, "\n  ],\n  \"sets\": [");
    for (int s = 0; s < sw->nsets; s++) {
        if (s) clgrad_sb_puts(&b, ", ");
        clgrad_sb_json_str(&b, sw->sets[s]);
    }
    clgrad_sb_printf(&b, "],\n  \"points\": %ld,\n  \"created\": \"%s\",\n  \"command_line\": ", sw->npoints, ts);
    clgrad_sb_json_str(&b, sw->cmdline);
    clgrad_sb_puts(&b, "\n}\n");
    return clgrad_sb_take(&b);
}

/* The grid recorded in sweep.json (into g); 0 or -1. */
static int grid_from_json_(const clgrad_json *def, clgrad_sweep_grid *g)
{
    const clgrad_json *grid = clgrad_json_member(def, "grid");
    if (!grid || grid->type != CLGRAD_JSON_ARRAY) return -1;
    for (size_t a = 0; a < grid->n; a++) {
        const char *key = clgrad_json_str(clgrad_json_member(&grid->items[a], "key"));
        const clgrad_json *vals = clgrad_json_member(&grid->items[a], "values");
        if (!key || !vals || vals->type != CLGRAD_JSON_ARRAY || vals->n < 1) return -1;
        char **v = NULL;
        int nv = 0;
        for (size_t i = 0; i < vals->n; i++)
            if (!clgrad_json_str(&vals->items[i]) || add_value_(&v, &nv, vals->items[i].str, strlen(vals->items[i].str))) {
                free_strs_(v, nv);
                return -1;
            }
        if (push_axis_(g, key, strlen(key), v, nv, 0)) {
            free_strs_(v, nv);
            return -1;
        }
    }
    return 0;
}

static void sb_grid_(clgrad_sbuf *b, const clgrad_sweep_grid *g)
{
    for (int a = 0; a < g->naxes; a++) {
        clgrad_sb_printf(b, "%s--grid %s=", a ? " " : "", g->axes[a].key);
        for (int v = 0; v < g->axes[a].nvalues; v++) clgrad_sb_printf(b, "%s%s", v ? "," : "", g->axes[a].values[v]);
    }
}

/* Compare the recorded definition with this one; appends differences to d. */
static void def_diff_(const sweep *sw, const clgrad_json *def, const char *old_copy, clgrad_sbuf *d)
{
    clgrad_sweep_grid g = {0};
    int same = grid_from_json_(def, &g) == 0 && g.naxes == sw->grid.naxes;
    for (int a = 0; same && a < g.naxes; a++) {
        const clgrad_sweep_axis *x = &g.axes[a], *y = &sw->grid.axes[a];
        same = strcmp(x->key, y->key) == 0 && x->nvalues == y->nvalues;
        for (int v = 0; same && v < x->nvalues; v++) same = strcmp(x->values[v], y->values[v]) == 0;
    }
    if (!same) {
        clgrad_sb_puts(d, "  grid: recorded ");
        sb_grid_(d, &g);
        clgrad_sb_puts(d, "\n        now      ");
        sb_grid_(d, &sw->grid);
        clgrad_sb_puts(d, "\n");
    }
    clgrad_sweep_grid_free(&g);
    const clgrad_json *sets = clgrad_json_member(def, "sets");
    same = sets && sets->type == CLGRAD_JSON_ARRAY && sets->n == (size_t)sw->nsets;
    for (int s = 0; same && s < sw->nsets; s++) same = clgrad_json_str(&sets->items[s]) && !strcmp(sets->items[s].str, sw->sets[s]);
    if (!same) {
        clgrad_sb_puts(d, "  --set: recorded");
        for (size_t s = 0; sets && sets->type == CLGRAD_JSON_ARRAY && s < sets->n; s++)
            clgrad_sb_printf(d, " %s", clgrad_json_str(&sets->items[s]) ? sets->items[s].str : "?");
        clgrad_sb_puts(d, sets && sets->n ? "\n         now     " : " (none)\n         now     ");
        for (int s = 0; s < sw->nsets; s++) clgrad_sb_printf(d, " %s", sw->sets[s]);
        clgrad_sb_puts(d, sw->nsets ? "\n" : " (none)\n");
    }
    const char *copy = clgrad_json_str(clgrad_json_member(def, "experiment_copy"));
    if (!copy || strcmp(copy, sw->copy_name) != 0)
        clgrad_sb_printf(d, "  experiment: recorded %s, now %s\n", copy ? copy : "?", sw->copy_name);
    else if (old_copy && strcmp(old_copy, sw->copy_text) != 0) { /* a missing copy is written again */
        int line = 1;
        for (const char *x = old_copy, *y = sw->copy_text; *x && *x == *y; x++, y++) line += *x == '\n';
        clgrad_sb_printf(d, "  experiment: %s differs from the recorded copy %s/%s (first at line %d)\n", sw->exp, sw->out,
                  copy, line);
    }
}

/* A file name of the sweep's own (locks, temp files) or empty directory check. */
static int dir_is_empty_(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strncmp(e->d_name, ".sweep", 6)) empty = 0;
    closedir(d);
    return empty;
}

/* fcntl lock on dir/name; 0, or -1 (printed). */
static int lock_(sweep *sw, int slot, const char *name, int exclusive)
{
    char *path = join_(sw->out, name);
    if (!path) return -1;
    int fd = clgrad_fs_open_lock(path); /* never through a symlink; a regular file */
    if (fd < 0) {
        fprintf(stderr, "clgrad sweep: cannot create %s: %s\n", path, strerror(errno));
        free(path);
        return -1;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = (short)(exclusive ? F_WRLCK : F_RDLCK);
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        struct flock who = fl;
        long pid = fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : 0;
        fprintf(stderr, "clgrad sweep: another sweep%s (pid %ld) is running in %s; wait for it or use another --out\n",
                exclusive && slot == 0 ? " or shard" : "", pid, sw->out);
        close(fd);
        free(path);
        return -1;
    }
    sw->lock_fd[slot] = fd;
    free(path);
    return 0;
}

static int definition_(sweep *sw);

/* Create/lock the sweep directory and record or check the definition.
** 0, or the exit status (printed).  The shards of one sweep share the
** directory, so they check and write the definition one at a time (under
** .sweep-def.lock): a shard that looked for sweep.json while another was
** writing it would otherwise find neither the file nor an empty directory. */
static int prepare_dir_(sweep *sw)
{
    int e = mkdirs_(sw->out);
    if (e) {
        fprintf(stderr, "clgrad sweep: cannot create the sweep directory %s: %s\n", sw->out, strerror(e));
        return 1;
    }
    if (sw->shard_n) {
        char name[96];
        snprintf(name, sizeof name, ".sweep-shard-%ld-of-%ld.lock", sw->shard_k, sw->shard_n);
        if (lock_(sw, 0, ".sweep.lock", 0) || lock_(sw, 1, name, 1)) return 1;
    } else if (lock_(sw, 0, ".sweep.lock", 1)) return 1;
    char *path = join_(sw->out, ".sweep-def.lock");
    int fd = path ? clgrad_fs_open_lock(path) : -1;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK, fl.l_whence = SEEK_SET;
    while (fd >= 0 && fcntl(fd, F_SETLKW, &fl) != 0 && errno == EINTR) {}
    if (fd < 0) fprintf(stderr, "clgrad sweep: cannot create %s: %s\n", path ? path : sw->out, strerror(errno));
    free(path);
    if (fd < 0) return 1;
    int rc = definition_(sw);
    close(fd); /* releases the lock */
    return rc;
}

/* Record the definition in a new directory, or check it against the one
** there.  0, or the exit status (printed). */
static int definition_(sweep *sw)
{
    char why[512];
    char *path = join_(sw->out, "sweep.json");
    clgrad_json *def = NULL;
    int rc = 0, have = jload_(path, &def, why, sizeof why) == 0;
    if (!have && *why) {
        fprintf(stderr, "clgrad sweep: %s: %s%s\n", path, why, sw->force ? " (replaced: --force)" : "");
        if (!sw->force) rc = 2;
    } else if (!have && !dir_is_empty_(sw->out) && !sw->force) {
        fprintf(stderr,
                "clgrad sweep: %s exists, is not empty and holds no sweep.json; refusing to write a sweep into "
                "it (use another --out, or --force)\n",
                sw->out);
        rc = 2;
    } else if (have) {
        const char *fmt = clgrad_json_str(clgrad_json_member(def, "format"));
        char *old_copy = NULL;
        clgrad_sbuf d = {0};
        if (!fmt || strcmp(fmt, SWEEP_FORMAT) != 0) clgrad_sb_printf(&d, "  format: %s, expected " SWEEP_FORMAT "\n", fmt ? fmt : "missing");
        else {
            const char *copy = clgrad_json_str(clgrad_json_member(def, "experiment_copy"));
            char *cp = copy && !strchr(copy, '/') ? join_(sw->out, copy) : NULL;
            old_copy = cp ? read_file_(cp, NULL, why, sizeof why) : NULL;
            free(cp);
            def_diff_(sw, def, old_copy, &d);
        }
        if (d.len) {
            fprintf(stderr, "clgrad sweep: %s holds a different sweep:\n%s", sw->out, clgrad_sb_str(&d));
            if (sw->force) fprintf(stderr, "clgrad sweep: --force: replacing its definition\n");
            else {
                fprintf(stderr,
                        "clgrad sweep: refusing to resume it; use another --out, or --force to replace the "
                        "definition (points whose run directories hold a completed run are kept)\n");
                rc = 2;
            }
        } else {
            have = 2; /* the same sweep: resume */
            if (!old_copy && write_atomic_(sw->out, sw->copy_name, sw->copy_text, strlen(sw->copy_text), why,
                                           sizeof why)) {
                fprintf(stderr, "clgrad sweep: %s\n", why);
                rc = 1;
            }
        }
        free(old_copy);
        free(d.s);
        clgrad_json_free(def);
    }
    free(path);
    if (rc) return rc;
    if (have != 2) {
        char *json = def_json_(sw);
        if (!json || write_atomic_(sw->out, "sweep.json", json, strlen(json), why, sizeof why) ||
            write_atomic_(sw->out, sw->copy_name, sw->copy_text, strlen(sw->copy_text), why, sizeof why)) {
            fprintf(stderr, "clgrad sweep: %s\n", json ? why : "out of memory");
            free(json);
            return 1;
        }
        free(json);
    }
    return 0;
}

/* ---- point results ---- */

/* Read the point's summary.json and manifest.json; the summary's state
** (ST_COMPLETED...) or -1 when there is none. */
static int load_result_(sweep *sw, point *p)
{
    char why[256];
    clgrad_sbuf path = {0};
    clgrad_sb_printf(&path, "%s/%s/summary.json", sw->out, p->dir);
    clgrad_json *s = NULL, *m = NULL;
    int state = -1;
    if (path.s && jload_(path.s, &s, why, sizeof why) == 0) {
        const char *status = clgrad_json_str(clgrad_json_member(s, "status"));
        for (int k = ST_COMPLETED; status && k < ST_COUNT; k++)
            if (strcmp(status, state_names[k]) == 0) state = k;
        const clgrad_json *dv = clgrad_json_member(s, "divergence");
        free(p->kind);
        p->kind = NULL;
        p->has_step = jnum_(clgrad_json_member(dv, "step"), &p->step);
        if (clgrad_json_str(clgrad_json_member(dv, "kind"))) p->kind = strdup(clgrad_json_member(dv, "kind")->str);
        for (int f = 0; f < F_COUNT; f++) {
            /* a non-finite value is null with KEY_nonfinite ("nan", "inf", "-inf") beside it; null alone: not measured */
            const clgrad_json *v = clgrad_json_member(s, num_keys[f]);
            if (v && v->type == CLGRAD_JSON_NULL) {
                char nf[64];
                snprintf(nf, sizeof nf, "%s_nonfinite", num_keys[f]);
                v = clgrad_json_member(s, nf);
            }
            p->has[f] = jnum_(v, &p->num[f]);
        }
        const char *e = clgrad_json_str(clgrad_json_member(s, "error"));
        if (e && !p->error) p->error = strdup(e);
        clgrad_json_free(s);
    }
    path.len = 0;
    clgrad_sb_printf(&path, "%s/%s/manifest.json", sw->out, p->dir);
    if (path.s && jload_(path.s, &m, why, sizeof why) == 0) {
        const char *idx = clgrad_json_str(clgrad_json_member(clgrad_json_member(m, "device"), "index"));
        if (idx) {
            free(p->device);
            p->device = strdup(idx);
        }
        clgrad_json_free(m);
    }
    free(path.s);
    return state;
}

static const char *summary_name_(const sweep *sw, char *buf, size_t n)
{
    if (!sw->shard_n) return "summary.csv";
    snprintf(buf, n, "summary-shard-%ld-of-%ld.csv", sw->shard_k, sw->shard_n);
    return buf;
}

static void csv_header_(clgrad_sbuf *b, const clgrad_sweep_grid *g)
{
    clgrad_sb_puts(b, "index");
    for (int a = 0; a < g->naxes; a++) {
        clgrad_sb_putc(b, ',');
        sb_csv(b, g->axes[a].key);
    }
    clgrad_sb_puts(b, ",status,diverge_step,diverge_kind");
    for (int f = 0; f < F_COUNT; f++) clgrad_sb_printf(b, ",%s", num_keys[f]);
    clgrad_sb_puts(b, ",device,run_dir\n");
}

/* Point i's summary.csv row (with its newline), p->state as the status. */
static void row_line_(clgrad_sbuf *b, const clgrad_sweep_grid *g, long i, const point *p)
{
    int vi[CLGRAD_SWEEP_MAX_AXES];
    clgrad_sweep_point(g, i, vi);
    clgrad_sb_printf(b, "%ld", i);
    for (int a = 0; a < g->naxes; a++) {
        clgrad_sb_putc(b, ',');
        sb_csv(b, g->axes[a].values[vi[a]]);
    }
    clgrad_sb_printf(b, ",%s,", state_names[p->state]);
    if (p->has_step) sb_num(b, p->step);
    clgrad_sb_putc(b, ',');
    if (p->kind) sb_csv(b, p->kind);
    for (int f = 0; f < F_COUNT; f++) {
        clgrad_sb_putc(b, ',');
        if (p->has[f]) sb_num(b, p->num[f]);
    }
    clgrad_sb_putc(b, ',');
    if (p->device) sb_csv(b, p->device);
    clgrad_sb_putc(b, ',');
    sb_csv(b, p->dir);
    clgrad_sb_putc(b, '\n');
}

static void write_summary_(sweep *sw)
{
    clgrad_sbuf b = {0};
    csv_header_(&b, &sw->grid);
    for (long i = 0; i < sw->npoints; i++)
        if (sw->pts[i].mine) row_line_(&b, &sw->grid, i, &sw->pts[i]);
    char why[512], name[96];
    if (b.oom || write_atomic_(sw->out, summary_name_(sw, name, sizeof name), b.s, b.len, why, sizeof why)) {
        fprintf(stderr, "clgrad sweep: %s\n", b.oom ? "out of memory writing the summary" : why);
        sw->io_error = 1;
    }
    free(b.s);
}

/* The last (up to 3) non-empty lines of a point's run.log, each starting
** with "\n    " (malloc'd), or NULL. */
static char *log_tail_(const sweep *sw, const point *p)
{
    clgrad_sbuf path = {0};
    clgrad_sb_printf(&path, "%s/%s/run.log", sw->out, p->dir);
    int fd = path.s ? open(path.s, O_RDONLY | O_CLOEXEC) : -1;
    free(path.s);
    if (fd < 0) return NULL;
    char buf[4096];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = lseek(fd, from, SEEK_SET) == from ? read(fd, buf, sizeof buf - 1) : -1;
    close(fd);
    if (n <= 0) return NULL;
    buf[n] = 0;
    const char *lines[3];
    size_t lens[3];
    int nl = 0;
    for (size_t end = (size_t)n; end > 0 && nl < 3;) { /* backwards over the lines */
        size_t st = end;
        while (st > 0 && buf[st - 1] != '\n') st--;
        const char *l = buf + st;
        size_t len = end - st;
        trim_(&l, &len);
        while (len && l[len - 1] == '\r') len--;
        if (len >= 15 && strncmp(l, "# clgrad sweep:", 15) == 0) break; /* this attempt's header */
        if (len && !(from > 0 && st == 0) && *l != '#') lines[nl] = l, lens[nl++] = len;
        end = st > 0 ? st - 1 : 0;
        if (st == 0) break;
    }
    clgrad_sbuf b = {0};
    for (int i = nl - 1; i >= 0; i--) clgrad_sb_printf(&b, "\n    %.*s", (int)lens[i], lines[i]);
    return nl ? clgrad_sb_take(&b) : NULL;
}

static int count_state_(const sweep *sw, int state, int mine_only)
{
    int n = 0;
    for (long i = 0; i < sw->npoints; i++) n += sw->pts[i].state == state && (!mine_only || sw->pts[i].mine);
    return n;
}

/* ---- running points ---- */

static volatile sig_atomic_t sig_count_, sig_last_;

static void on_stop_signal_(int sig)
{
    sig_last_ = sig;
    sig_count_ = sig_count_ + 1;
}

static void on_child_(int sig) { (void)sig; }

static char *runner_path_(const sweep *sw)
{
    if (sw->runner) return strdup(sw->runner);
    const char *env = getenv("CLGRAD_SWEEP_RUNNER");
    if (env && *env) return strdup(env);
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = 0;
    return strdup(buf);
}

/* The argv of point p (NULL-terminated, strings borrowed from sw/pdir except
** the ones in sw->pt_sets), or NULL. */
static const char **point_argv_(sweep *sw, const point *p, const char *runner, const char *pdir)
{
    if (point_sets_(sw, p->index)) return NULL;
    size_t n = 3 + 2 * (size_t)(sw->grid.naxes + sw->nsets) + 4 + (size_t)sw->npass + 2 + 1;
    const char **av = calloc(n, sizeof *av);
    if (!av) return NULL;
    size_t k = 0;
    av[k++] = runner;
    av[k++] = "run";
    av[k++] = sw->copy_path;
    for (int a = 0; a < sw->grid.naxes; a++) av[k++] = "--set", av[k++] = sw->pt_sets[a];
    for (int s = 0; s < sw->nsets; s++) av[k++] = "--set", av[k++] = sw->sets[s];
    av[k++] = "--out", av[k++] = pdir;
    av[k++] = "--quiet";
    av[k++] = "--force"; /* a point is rerun in its own directory (the lock keeps it to one run at a time) */
    for (int i = 0; i < sw->npass; i++) av[k++] = sw->pass[i];
    if (p->dev >= 0) av[k++] = "--device", av[k++] = sw->devices[p->dev];
    av[k] = NULL;
    return av;
}

static void sb_argv_(clgrad_sbuf *b, const char *const *av)
{
    for (int i = 0; av[i]; i++) {
        const char *s = av[i];
        int plain = *s != 0;
        for (const char *c = s; *c; c++)
            plain &= isalnum((unsigned char)*c) || strchr("-_./=:+,@%", *c) != NULL;
        if (i) clgrad_sb_putc(b, ' ');
        if (plain) clgrad_sb_puts(b, s);
        else {
            clgrad_sb_putc(b, '\'');
            for (; *s; s++) {
                if (*s == '\'') clgrad_sb_puts(b, "'\\''");
                else clgrad_sb_putc(b, *s);
            }
            clgrad_sb_putc(b, '\'');
        }
    }
}

static int pick_device_(sweep *sw, int *rr)
{
    if (!sw->ndev) return -1;
    int best = -1, best_load = 0;
    for (int k = 0; k < sw->ndev; k++) {
        int d = (*rr + k) % sw->ndev, load = 0;
        for (long i = 0; i < sw->npoints; i++) load += sw->pts[i].state == ST_RUNNING && sw->pts[i].dev == d;
        if (best < 0 || load < best_load) best = d, best_load = load;
    }
    *rr = (best + 1) % sw->ndev;
    return best;
}

static void fail_point_(point *p, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail_point_(point *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(p->error);
    p->error = strdup(buf);
    p->state = ST_FAILED;
}

/* The watchdog: a process of its own (own process group, SIGINT, SIGTERM and
** SIGHUP ignored) that reads the process groups of the running points from a
** pipe (a pid_t: +pgid started, -pgid ended).  When the sweep is gone, however
** it ended (SIGKILL too), the pipe's write end closes: the watchdog kills
** every group still listed, so a point's own children die with the sweep as
** the point does (PR_SET_PDEATHSIG in launch_).  Returns its pid, or -1 (no
** watchdog: the points still die, their children may not). */
static pid_t watchdog_start_(sweep *sw, int devnull)
{
    int fd[2];
    sw->watch_fd = -1;
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[1]);
        setpgid(0, 0);
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGINT, &ign, NULL);
        sigaction(SIGTERM, &ign, NULL);
        sigaction(SIGHUP, &ign, NULL);
        if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
        for (int f = 3; f < 1024; f++) /* the sweep's files (its locks among them) are not the watchdog's */
            if (f != fd[0]) close(f);
        static pid_t groups[MAX_JOBS];
        int n = 0;
        for (;;) {
            pid_t v;
            ssize_t r = read(fd[0], &v, sizeof v);
            if (r < 0 && errno == EINTR) continue;
            if (r != (ssize_t)sizeof v) break; /* end of file: the sweep is gone */
            if (v > 0 && n < MAX_JOBS) groups[n++] = v;
            for (int i = 0; v < 0 && i < n; i++)
                if (groups[i] == -v) {
                    groups[i] = groups[--n];
                    break;
                }
        }
        for (int i = 0; i < n; i++) kill(-groups[i], SIGKILL);
        _exit(0);
    }
    close(fd[0]);
    if (pid < 0) {
        close(fd[1]);
        return -1;
    }
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    sw->watch_fd = fd[1];
    return pid;
}

/* Tell the watchdog that process group pgid started (> 0) or ended (< 0). */
static void watch_(sweep *sw, pid_t pgid)
{
    if (sw->watch_fd >= 0 && write(sw->watch_fd, &pgid, sizeof pgid) != (ssize_t)sizeof pgid) {
        close(sw->watch_fd); /* the watchdog is gone (EPIPE, SIGPIPE ignored): go on without */
        sw->watch_fd = -1;
    }
}

static void watchdog_stop_(sweep *sw, pid_t pid)
{
    if (sw->watch_fd >= 0) close(sw->watch_fd);
    sw->watch_fd = -1;
    while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

/* Create point p's run directory and take its lock; the lock's descriptor, or -1 with p marked failed. */
static int lock_point_dir_(point *p, const char *pdir, const char *lck)
{
    if (mkdir(pdir, 0755) != 0 && errno != EEXIST) {
        fail_point_(p, "cannot create %s: %s", pdir, strerror(errno));
        return -1;
    }
    struct stat pst;
    if (lstat(pdir, &pst) != 0 || !S_ISDIR(pst.st_mode)) { /* a planted symlink would lead the run elsewhere */
        fail_point_(p, "%s is not a directory (a symbolic link?)", pdir);
        return -1;
    }
    /* the point's run-directory lock (what `clgrad run` takes): a point whose
    ** run is still going (another sweep, a launcher, by hand) is not touched;
    ** the run started here inherits the lock ($CLGRAD_RUN_LOCK_FD) */
    int lfd = lck ? clgrad_fs_open_lock(lck) : -1;
    if (lfd < 0 || clgrad_fs_trylock(lfd) != 0) {
        int e = errno;
        if (lfd >= 0 && e == EWOULDBLOCK) fail_point_(p, "%s is in use by another clgrad run; not started twice", pdir);
        else fail_point_(p, "cannot lock %s: %s", lck ? lck : pdir, strerror(e));
        if (lfd >= 0) close(lfd);
        return -1;
    }
    return lfd;
}

/* Write the head of point p's run.log (fd): the point, its start time and its command line. */
static void log_header_(const sweep *sw, const point *p, int fd, const char **av)
{
    char ts[40];
    iso_time_(ts, sizeof ts);
    clgrad_sbuf h = {0};
    clgrad_sb_printf(&h, "# clgrad sweep: point %ld of %ld, started %s\n# ", p->index, sw->npoints, ts);
    sb_argv_(&h, av);
    clgrad_sb_putc(&h, '\n');
    if (!h.oom) clgrad_fs_write_all(fd, h.s, h.len);
    free(h.s);
}

/* The forked child of launch_: its own process group, stdio on run.log, default signals, the
** point's lock kept across exec; execs the runner (em: the message if it cannot). Never returns. */
static void exec_point_(pid_t parent, int devnull, int fd, int lfd, const sigset_t *orig, const char *runner,
                        const char **av, const clgrad_sbuf *em)
{
    /* only async-signal-safe calls until exec */
    /* the point dies with the sweep, however the sweep ends (SIGKILL
    ** included): a sweep run again must not meet orphans still writing */
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) _exit(127); /* the sweep died before prctl */
    /* its own process group, so that the sweep's signals reach the
    ** runner's children too */
    setpgid(0, 0);
    dup2(devnull, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL); /* main ignores it; a runner gets the default back */
    sigprocmask(SIG_SETMASK, orig, NULL);
    fcntl(lfd, F_SETFD, 0); /* the run takes the point's lock over */
    execv(runner, (char *const *)av);
    int e = errno;
    if (em->s) clgrad_fs_write_all(2, em->s, em->len);
    const char *es = strerror(e);
    clgrad_fs_write_all(2, es, strlen(es));
    clgrad_fs_write_all(2, "\n", 1);
    _exit(127);
}

/* Start point p; on failure it is marked failed. */
static void launch_(sweep *sw, point *p, const char *runner, const sigset_t *orig, int devnull, int *rr, long nth,
                    long total)
{
    char *pdir = join_(sw->out, p->dir);
    char *sum = pdir ? join_(pdir, "summary.json") : NULL;
    char *log = pdir ? join_(pdir, "run.log") : NULL;
    char *lck = pdir ? join_(pdir, ".clgrad-lock") : NULL;
    const char **av = NULL;
    int lfd = -1;
    point_clear_(p);
    p->dev = pick_device_(sw, rr);
    if (!log) {
        fail_point_(p, "out of memory");
        goto out;
    }
    if ((lfd = lock_point_dir_(p, pdir, lck)) < 0) goto out;
    if (unlink(sum) != 0 && errno != ENOENT) { /* a stale result must not count */
        fail_point_(p, "cannot remove the old %s: %s", sum, strerror(errno));
        goto out;
    }
    av = point_argv_(sw, p, runner, pdir);
    if (!av) {
        fail_point_(p, "out of memory");
        goto out;
    }
    int fd = clgrad_fs_open_append(log); /* never through a symlink; a regular file */
    if (fd < 0) {
        fail_point_(p, "cannot open %s: %s", log, strerror(errno));
        goto out;
    }
    char lfds[24];
    snprintf(lfds, sizeof lfds, "%d", lfd);
    setenv("CLGRAD_RUN_LOCK_FD", lfds, 1);
    log_header_(sw, p, fd, av);
    clgrad_sbuf em = {0};
    clgrad_sb_printf(&em, "clgrad sweep: cannot execute %s: ", runner);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) exec_point_(parent, devnull, fd, lfd, orig, runner, av, &em); /* the child */
    int fork_errno = errno;
    unsetenv("CLGRAD_RUN_LOCK_FD");
    free(em.s);
    close(fd);
    if (pid > 0) { /* the child holds the lock now */
        close(lfd);
        lfd = -1;
    }
    if (pid < 0) {
        fail_point_(p, "fork: %s", strerror(fork_errno));
        goto out;
    }
    setpgid(pid, pid); /* also here: no signal may find the group missing */
    watch_(sw, pid);
    p->pid = pid;
    p->state = ST_RUNNING;
    p->t0 = now_();
    sw->running++;
    if (!sw->quiet)
        fprintf(stderr, "clgrad sweep: [%ld/%ld] start %s%s%s\n", nth, total, p->dir, p->dev >= 0 ? " on " : "",
                p->dev >= 0 ? sw->devices[p->dev] : "");
out:
    if (lfd >= 0) { /* not started: release (and remove) the lock this took */
        unlink(lck);
        close(lfd);
    }
    if (p->state == ST_FAILED)
        fprintf(stderr, "clgrad sweep: %s: not started: %s\n", p->dir, p->error ? p->error : "out of memory");
    free(lck);
    free(av);
    free(pdir);
    free(sum);
    free(log);
}

/* Point p's process ended with wait status ws. */
static void finish_(sweep *sw, point *p, int ws, long done, long total)
{
    double secs = now_() - p->t0;
    sw->running--;
    p->pid = 0;
    int sum = load_result_(sw, p);
    char *serr = p->error; /* summary.json's "error", if any */
    p->error = NULL;
    if (!p->device && p->dev >= 0) p->device = strdup(sw->devices[p->dev]);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    if (code == 0) {
        if (sum == ST_COMPLETED || sum == ST_DIVERGED) p->state = sum;
        else fail_point_(p, "exited 0 without a completed or diverged summary.json");
    } else if (code == 130) p->state = ST_INTERRUPTED;
    else if (code > 0)
        fail_point_(p, "exit status %d%s%s%s", code,
                    code == 2 ? ", configuration error" : code == 127 ? ", could not run the runner" : "",
                    serr ? ": " : "", serr ? serr : "");
    else if (WIFSIGNALED(ws) && sw->stopping) p->state = ST_INTERRUPTED;
    else fail_point_(p, "killed by signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    free(serr);

    if (p->state == ST_FAILED || (p->state == ST_INTERRUPTED && !sw->stopping)) {
        char *tail = log_tail_(sw, p);
        fprintf(stderr, "clgrad sweep: [%ld/%ld] %s: %s after %.1f s (%s); log %s/%s/run.log%s%s\n", done, total,
                p->dir, state_names[p->state], secs, p->error ? p->error : "interrupted", sw->out, p->dir,
                tail ? ", ending:" : "", tail ? tail : "");
        free(tail);
        return;
    }
    if (sw->quiet) return;
    clgrad_sbuf b = {0};
    clgrad_sb_printf(&b, "clgrad sweep: [%ld/%ld] %s: %s", done, total, p->dir, state_names[p->state]);
    if (p->state == ST_DIVERGED && p->has_step) {
        clgrad_sb_puts(&b, " at step ");
        sb_num(&b, p->step);
        if (p->kind) clgrad_sb_printf(&b, " (%s)", p->kind);
    }
    clgrad_sb_printf(&b, " in %.1f s", secs);
    if (p->has[F_TEST]) {
        clgrad_sb_puts(&b, "; test loss ");
        sb_num(&b, p->num[F_TEST]);
    }
    if (p->has[F_ACC] && !isnan(p->num[F_ACC])) {
        clgrad_sb_puts(&b, ", accuracy ");
        sb_num(&b, p->num[F_ACC]);
    }
    fprintf(stderr, "%s\n", clgrad_sb_str(&b));
    free(b.s);
}

static void signal_running_(sweep *sw, int sig)
{
    for (long i = 0; i < sw->npoints; i++)
        if (sw->pts[i].state == ST_RUNNING && sw->pts[i].pid > 0 && kill(-sw->pts[i].pid, sig) != 0)
            kill(sw->pts[i].pid, sig); /* the point's process group, else the point */
}

/* Act on the SIGINT/SIGTERM counted since the last call: the first stops the sweep and signals
** the running points, a later one kills them; *handled: the signals acted on so far. */
static void handle_stop_(sweep *sw, int *handled)
{
    if (sig_count_ <= *handled) return;
    int sig = (int)sig_last_;
    if (!*handled) {
        sw->stopping = 1;
        fprintf(stderr, "clgrad sweep: %s: starting no more points", sig == SIGINT ? "SIGINT" : "SIGTERM");
        if (sw->running)
            fprintf(stderr, "; %d running point%s will stop at a step boundary (signal again to kill %s)",
                    sw->running, sw->running == 1 ? "" : "s", sw->running == 1 ? "it" : "them");
        fputc('\n', stderr);
        signal_running_(sw, sig);
    } else {
        fprintf(stderr, "clgrad sweep: killing %d running point%s\n", sw->running, sw->running == 1 ? "" : "s");
        signal_running_(sw, SIGKILL);
    }
    *handled = (int)sig_count_;
}

/* Reap the running points that ended (*done counts them, of nqueue); 1 when any did. */
static int reap_points_(sweep *sw, long *done, long nqueue)
{
    int reaped = 0;
    for (long i = 0; i < sw->npoints; i++) {
        point *p = &sw->pts[i];
        int ws;
        if (p->state != ST_RUNNING) continue;
        pid_t r = waitpid(p->pid, &ws, WNOHANG);
        if (r == p->pid) {
            watch_(sw, -p->pid);
            finish_(sw, p, ws, ++*done, nqueue);
            reaped = 1;
        } else if (r < 0 && errno == ECHILD) { /* reaped elsewhere: unknown outcome */
            watch_(sw, -p->pid);
            sw->running--;
            p->pid = 0;
            fail_point_(p, "lost track of the process");
            ++*done;
            reaped = 1;
        }
    }
    return reaped;
}

/* Run the queued points; returns 1 when stopped by a signal. */
static int run_points_(sweep *sw, const char *runner, long *queue, long nqueue)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa, old_int, old_term, old_chld, old_pipe;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN; /* a write to a watchdog that is gone must not kill the sweep */
    sigaction(SIGPIPE, &sa, &old_pipe);
    pid_t watchdog = watchdog_start_(sw, devnull);
    sigfillset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal_;
    sig_count_ = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = on_child_;
    sigaction(SIGCHLD, &sa, &old_chld);

    long next = 0, done = 0;
    int handled = 0, rr = 0;
    for (;;) {
        handle_stop_(sw, &handled);
        int changed = reap_points_(sw, &done, nqueue);
        while (!sw->stopping && sw->running < sw->jobs && next < nqueue) {
            point *p = &sw->pts[queue[next++]];
            launch_(sw, p, runner, &orig, devnull, &rr, next, nqueue);
            done += p->state != ST_RUNNING;
            changed = 1; /* the summary shows it running (or failed) */
        }
        if (changed) write_summary_(sw);
        if (sw->running == 0 && (sw->stopping || next == nqueue)) break;
        sigsuspend(&orig);
    }
    /* Unblock with our handlers still in place (a late signal is counted,
    ** not fatal), then restore the caller's. */
    sigprocmask(SIG_SETMASK, &orig, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    watchdog_stop_(sw, watchdog);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (devnull >= 0) close(devnull);
    return sw->stopping;
}

/* --emit: record the definition, then print one self-contained `clgrad run`
** line per point (absolute paths) on stdout; 0 or the exit status. */
static int emit_(sweep *sw, const char *runner)
{
    int rc = prepare_dir_(sw);
    if (rc) return rc;
    char *abs = abs_dir_(sw->out);
    char *copy = abs ? join_(abs, sw->copy_name) : NULL;
    if (!copy) {
        fprintf(stderr, "clgrad sweep: %s: %s\n", sw->out, abs ? "out of memory" : strerror(errno));
        free(abs);
        return 1;
    }
    free(sw->copy_path);
    sw->copy_path = copy;
    int rr = 0, oom = 0;
    for (long i = 0; i < sw->npoints && !oom; i++) {
        point *p = &sw->pts[i];
        if (!p->mine) continue;
        clgrad_sbuf pdir = {0}, line = {0};
        clgrad_sb_printf(&pdir, "%s/%s", abs, p->dir);
        p->dev = pick_device_(sw, &rr);
        const char **av = pdir.oom ? NULL : point_argv_(sw, p, runner, pdir.s);
        if (av) sb_argv_(&line, av);
        if (!av || line.oom) oom = 1;
        else printf("%s\n", line.s);
        free(av);
        free(pdir.s);
        free(line.s);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "clgrad sweep: --emit: cannot write the commands: %s\n", strerror(errno));
        rc = 1;
    }
    if (oom) fprintf(stderr, "clgrad sweep: --emit: out of memory\n");
    rc |= oom;
    free(abs);
    return rc;
}

/* --dry-run: print the sweep's points of this shard, each with its command line and whether it is done. */
static void dry_run_(sweep *sw, const char *runner, long nmine)
{
    printf("sweep of %s: %ld point%s", sw->exp, sw->npoints, sw->npoints == 1 ? "" : "s");
    if (sw->shard_n) printf(", %ld in shard %ld/%ld", nmine, sw->shard_k, sw->shard_n);
    printf(" -> %s\n", sw->out);
    int rr = 0;
    for (long i = 0; i < sw->npoints; i++) {
        point *p = &sw->pts[i];
        if (!p->mine) continue;
        clgrad_sbuf pdir = {0}, line = {0};
        clgrad_sb_printf(&pdir, "%s/%s", sw->out, p->dir);
        p->dev = pick_device_(sw, &rr);
        const char **av = point_argv_(sw, p, runner, clgrad_sb_str(&pdir));
        int st = load_result_(sw, p);
        if (av) sb_argv_(&line, av);
        printf("%s%s\n    %s\n", p->dir, st == ST_COMPLETED || st == ST_DIVERGED ? "  (done: skipped)" : "",
               clgrad_sb_str(&line));
        free(av);
        free(pdir.s);
        free(line.s);
    }
}

/* Queue this shard's points not done yet (queue: their indexes); the points done count in *nskip; the number queued. */
static long queue_points_(sweep *sw, long *queue, long *nskip)
{
    long nq = 0;
    for (long i = 0; i < sw->npoints; i++) {
        point *p = &sw->pts[i];
        if (!p->mine) continue;
        int st = load_result_(sw, p);
        if (st == ST_COMPLETED || st == ST_DIVERGED) {
            p->state = st;
            p->skipped = 1;
            (*nskip)++;
        } else {
            point_clear_(p);
            queue[nq++] = i;
        }
    }
    return nq;
}

static int cmd_run_(sweep *sw)
{
    long nmine = 0, nskip = 0;
    for (long i = 0; i < sw->npoints; i++) nmine += sw->pts[i].mine;
    char *runner = runner_path_(sw);
    if (!runner) {
        fprintf(stderr, "clgrad sweep: cannot find the clgrad executable (/proc/self/exe); pass --runner PATH\n");
        return 2;
    }
    if (access(runner, X_OK) != 0) {
        fprintf(stderr, "clgrad sweep: the runner %s is not executable: %s\n", runner, strerror(errno));
        free(runner);
        return 2;
    }
    if (*sw->shard_from)
        fprintf(stderr, "clgrad sweep: running shard %ld/%ld (%ld of %ld points), from %s\n", sw->shard_k, sw->shard_n,
                nmine, sw->npoints, sw->shard_from);
    if (sw->emit) {
        int rc = emit_(sw, runner);
        free(runner);
        return rc;
    }
    if (sw->dry_run) {
        dry_run_(sw, runner, nmine);
        free(runner);
        return 0;
    }
    int rc = prepare_dir_(sw);
    if (rc) {
        free(runner);
        return rc;
    }
    long *queue = calloc((size_t)sw->npoints, sizeof *queue), nq = 0;
    if (!queue) {
        free(runner);
        return 1;
    }
    nq = queue_points_(sw, queue, &nskip);
    if (!sw->quiet)
        fprintf(stderr, "clgrad sweep: %s: %ld point%s%s, %ld already done, %ld to run (%d at a time) -> %s\n", sw->exp,
                nmine, nmine == 1 ? "" : "s", sw->shard_n ? " in this shard" : "", nskip, nq, sw->jobs, sw->out);
    else if (sw->shard_n && !*sw->shard_from)
        fprintf(stderr, "clgrad sweep: running shard %ld/%ld (%ld of %ld points)\n", sw->shard_k, sw->shard_n, nmine,
                sw->npoints);
    write_summary_(sw);
    int stopped = run_points_(sw, runner, queue, nq);
    write_summary_(sw);
    free(queue);
    free(runner);

    int nc = count_state_(sw, ST_COMPLETED, 1), nd = count_state_(sw, ST_DIVERGED, 1);
    int nf = count_state_(sw, ST_FAILED, 1), ni = count_state_(sw, ST_INTERRUPTED, 1);
    int np = count_state_(sw, ST_PENDING, 1);
    char name[96];
    fprintf(stderr, "clgrad sweep: %s%ld point%s: %d completed, %d diverged, %d failed, %d interrupted, %d not run -> %s/%s\n",
            stopped ? "interrupted; " : "", nmine, nmine == 1 ? "" : "s", nc, nd, nf, ni, np, sw->out,
            summary_name_(sw, name, sizeof name));
    if (stopped) {
        fprintf(stderr, "clgrad sweep: run the same command again to resume\n");
        return 130;
    }
    return nf || ni || np || sw->io_error ? 1 : 0;
}

/* ---- merge ---- */

/* One candidate row of a point: from a shard file or its run directory. */
typedef struct {
    csv_row row;
    char *src;  /* "summary-shard-K-of-N.csv:LINE" or "RUN_DIR/summary.json" (owned) */
    int state;  /* ST_*, or ST_COUNT for anything else ("missing") */
} cand_;

typedef struct {
    cand_ *c;
    int n;
} cands_;

static void cands_free_(cands_ *v)
{
    for (int i = 0; i < v->n; i++) {
        row_free_(&v->c[i].row);
        free(v->c[i].src);
    }
    free(v->c);
    v->c = NULL, v->n = 0;
}

static int state_of_(const char *s)
{
    for (int k = 0; k < ST_COUNT; k++)
        if (strcmp(s, state_names[k]) == 0) return k;
    return ST_COUNT;
}

/* Append a candidate (takes r and src); 0 or -1 (out of memory: both freed). */
static int cand_push_(cands_ *v, csv_row *r, char *src, int status_col)
{
    cand_ *c = realloc(v->c, (size_t)(v->n + 1) * sizeof *c);
    if (!c || !src) {
        row_free_(r);
        free(src);
        if (c) v->c = c;
        return -1;
    }
    v->c = c;
    c[v->n].row = *r;
    c[v->n].src = src;
    c[v->n].state = state_of_(r->f[status_col]);
    v->n++;
    memset(r, 0, sizeof *r);
    return 0;
}

/* Two rows of one point agree: every field but ms_per_step (timing). */
static int rows_agree_(const csv_row *a, const csv_row *b, int ms_col)
{
    if (a->n != b->n) return 0;
    for (int f = 0; f < a->n; f++)
        if (f != ms_col && strcmp(a->f[f], b->f[f]) != 0) return 0;
    return 1;
}

static void sb_ranges_(clgrad_sbuf *b, const long *v, long n)
{
    for (long i = 0; i < n;) {
        long j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1) j++;
        clgrad_sb_printf(b, "%s%ld", i ? ", " : "", v[i]);
        if (j > i) clgrad_sb_printf(b, "-%ld", v[j]);
        i = j + 1;
    }
}

/* One shard file's rows into the points' candidates; 0, or -1 with the
** problem appended to d (the file is not this sweep's). */
static int merge_file_(const char *dir, const char *name, long k, long n, const clgrad_sweep_grid *g, long np,
                       const char *header, cands_ *cands, clgrad_sbuf *d)
{
    char why[256];
    char *path = join_(dir, name);
    size_t len;
    char *text = path ? read_file_(path, &len, why, sizeof why) : NULL;
    free(path);
    if (!text) {
        clgrad_sb_printf(d, "  %s: %s\n", name, why);
        return -1;
    }
    char *s = text, *end = text + len;
    if (len > 0 && text[len - 1] != '\n') { /* a last line its writer never finished: left out, reported */
        long cut = 1;
        while (end > text && end[-1] != '\n') end--;
        for (const char *c = text; c < end; c++) cut += *c == '\n';
        fprintf(stderr, "clgrad sweep: warning: --merge %s: %s: ignored a cut last line (line %ld has no newline)\n",
                dir, name, cut);
    }
    char *nl = strchr(s, '\n');
    int rc = 0, line = 1;
    if (!nl || (size_t)(nl - s + 1) != strlen(header) || memcmp(s, header, strlen(header)) != 0) {
        clgrad_sb_printf(d, "  %s: its columns are not this sweep's (%s/sweep.json)\n", name, dir);
        free(text);
        return -1;
    }
    s = nl + 1;
    int vi[CLGRAD_SWEEP_MAX_AXES];
    csv_row r;
    int got;
    clgrad_csv_reader rd;
    clgrad_csv_begin(&rd, s, (size_t)(end - s));
    while ((got = csv_next_(&rd, &r)) == 1) {
        line = 1 + (int)rd.rec_line;
        long idx;
        int ok = r.n == 1 + g->naxes + 3 + F_COUNT + 2 && parse_long_(r.f[0], 0, np - 1, &idx) == 0;
        if (ok) {
            clgrad_sweep_point(g, idx, vi);
            for (int a = 0; ok && a < g->naxes; a++) ok = strcmp(r.f[1 + a], g->axes[a].values[vi[a]]) == 0;
        }
        if (!ok) {
            clgrad_sb_printf(d, "  %s:%d: not a row of this sweep\n", name, line);
            rc = -1;
        } else if (idx % n != k) {
            clgrad_sb_printf(d, "  %s:%d: point %ld does not belong to shard %ld/%ld\n", name, line, idx, k, n);
            rc = -1;
        } else {
            clgrad_sbuf src = {0};
            clgrad_sb_printf(&src, "%s:%d", name, line);
            if (cand_push_(&cands[idx], &r, clgrad_sb_take(&src), 1 + g->naxes)) {
                clgrad_sb_printf(d, "  out of memory\n");
                rc = -1;
            }
            continue;
        }
        row_free_(&r);
    }
    clgrad_csv_end(&rd);
    if (got < 0) {
        clgrad_sb_printf(d, "  %s:%d: malformed CSV\n", name, 1 + (int)rd.rec_line);
        rc = -1;
    }
    free(text);
    return rc;
}

/* A candidate in a few words for a conflict report. */
static void sb_cand_(clgrad_sbuf *b, const cand_ *c, int naxes)
{
    const char *const *f = (const char *const *)c->row.f;
    int o = 1 + naxes; /* status */
    clgrad_sb_printf(b, "%s: %s", c->src, f[o]);
    if (*f[o + 1]) clgrad_sb_printf(b, " at step %s", f[o + 1]);
    for (int k = 0; k < F_COUNT; k++)
        if (k != F_MS && *f[o + 3 + k]) clgrad_sb_printf(b, ", %s %s", num_keys[k], f[o + 3 + k]);
    clgrad_sb_printf(b, ", device %s", *f[o + 3 + F_COUNT] ? f[o + 3 + F_COUNT] : "?");
}

/* The state of one --merge: the candidates of every point and the tallies. */
typedef struct {
    long np;
    cands_ *cands;
    long *missing, nmiss;
    long *todo, ntodo;
    int nfiles;
    long nshard; /* the N of the shard files when they agree, else -1 */
    long *ks;    /* the K of each file */
    long counts[ST_COUNT + 1], folded, nconflict;
    clgrad_sbuf header, d;
} merge_;

/* Load DIR/sweep.json into the grid, the --set list and the copy name; 0 or 2 (message printed). */
static int merge_definition_(sweep *sw, clgrad_json **defp)
{
    const char *dir = sw->merge;
    char why[512];
    char *path = join_(dir, "sweep.json");
    clgrad_json *def = NULL;
    if (!path || jload_(path, &def, why, sizeof why)) {
        fprintf(stderr, "clgrad sweep: --merge %s: %s: %s (not a sweep directory?)\n", dir, path ? path : dir,
                *why ? why : "No such file or directory");
        free(path);
        return 2;
    }
    free(path);
    const char *fmt = clgrad_json_str(clgrad_json_member(def, "format"));
    const char *copy = clgrad_json_str(clgrad_json_member(def, "experiment_copy"));
    int bad = !fmt || strcmp(fmt, SWEEP_FORMAT) != 0 || grid_from_json_(def, &sw->grid) != 0 || !copy ||
              strchr(copy, '/');
    const clgrad_json *sets = clgrad_json_member(def, "sets");
    if (!bad && sets && sets->type == CLGRAD_JSON_ARRAY) {
        free(sw->sets); /* parse_args_'s (empty: --merge takes no --set) */
        sw->nsets = 0;
        sw->sets = calloc((size_t)sets->n + 1, sizeof *sw->sets);
        for (size_t i = 0; sw->sets && i < sets->n; i++)
            if (clgrad_json_str(&sets->items[i])) sw->sets[sw->nsets++] = sets->items[i].str;
    }
    long np = clgrad_sweep_npoints(&sw->grid);
    if (bad || np <= 0) {
        fprintf(stderr, "clgrad sweep: --merge %s: sweep.json is not a clgrad sweep definition\n", dir);
        clgrad_json_free(def);
        return 2;
    }
    sw->out = strdup(dir);
    sw->copy_name = strdup(copy);
    *defp = def;
    return 0;
}

/* Take the sweep directory's merge lock (held until sweep_free_); 0 or 2 (message printed). */
static int merge_lock_(sweep *sw)
{
    const char *dir = sw->merge;
    /* One merge at a time (a second waits): concurrent merges, e.g. one per
    ** finished array task, each write a whole summary.csv. */
    char *lpath = join_(dir, ".sweep-merge.lock");
    int lfd = lpath ? clgrad_fs_open_lock(lpath) : -1;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    int locked = -1;
    if (lfd >= 0)
        while ((locked = fcntl(lfd, F_SETLKW, &fl)) != 0 && errno == EINTR) {}
    if (lfd < 0 || locked != 0 || !sw->out || !sw->copy_name) {
        fprintf(stderr, "clgrad sweep: --merge %s: cannot lock %s: %s\n", dir, lpath ? lpath : dir, strerror(errno));
        free(lpath);
        if (lfd >= 0) close(lfd);
        return 2;
    }
    free(lpath);
    sw->lock_fd[0] = lfd; /* closed (unlocked) by sweep_free_ */
    return 0;
}

/* Read every summary-shard-K-of-N.csv of dd (closed here) into m; 1 when they conflict (m->d says how). */
static int merge_scan_(sweep *sw, const char *dir, DIR *dd, merge_ *m)
{
    int conflict = 0;
    struct dirent *e;
    while ((e = readdir(dd))) {
        long k, n;
        char probe[128];
        if (sscanf(e->d_name, "summary-shard-%ld-of-%ld.csv", &k, &n) != 2 || n < 1 || k < 0 || k >= n) continue;
        snprintf(probe, sizeof probe, "summary-shard-%ld-of-%ld.csv", k, n);
        if (strcmp(probe, e->d_name) != 0) continue;
        long *nk = realloc(m->ks, (size_t)(m->nfiles + 1) * sizeof *nk);
        if (!nk) continue;
        m->ks = nk;
        m->ks[m->nfiles++] = k;
        m->nshard = m->nshard == 0 || m->nshard == n ? n : -1;
        if (merge_file_(dir, e->d_name, k, n, &sw->grid, m->np, clgrad_sb_str(&m->header), m->cands, &m->d))
            conflict = 1;
    }
    closedir(dd);
    return conflict;
}

/* Add point i's run-directory result (dname/summary.json) to cv; its candidate index, or -1. */
static int merge_dir_cand_(sweep *sw, long i, char *dname, cands_ *cv)
{
    const int status_col = 1 + sw->grid.naxes;
    point p;
    memset(&p, 0, sizeof p);
    p.dir = dname;
    int st = load_result_(sw, &p);
    int dir_c = -1;
    if (st >= 0) {
        p.state = st;
        clgrad_sbuf line = {0}, src = {0};
        row_line_(&line, &sw->grid, i, &p);
        clgrad_sb_printf(&src, "%s/summary.json", dname);
        csv_row r;
        clgrad_csv_reader rd;
        clgrad_csv_begin(&rd, line.s, line.len);
        if (!line.oom && line.s && csv_next_(&rd, &r) == 1 && cand_push_(cv, &r, clgrad_sb_take(&src), status_col) == 0)
            dir_c = cv->n - 1;
        else free(src.s);
        clgrad_csv_end(&rd);
        free(line.s);
    }
    point_clear_(&p);
    return dir_c;
}

/* The candidate summary.csv takes for point i, or -1: the run directory's, else a final
** shard row, else the shard rows' furthest state; folds duplicates, notes conflicts in m. */
static int merge_pick_(sweep *sw, merge_ *m, long i, const char *dname, cands_ *cv, int dir_c)
{
    const int ms_col = 1 + sw->grid.naxes + 3 + F_MS;
    int pick = dir_c, nfinal = 0;
    int finals[64];
    for (int c = 0; c < cv->n; c++) {
        if (cv->c[c].state != ST_COMPLETED && cv->c[c].state != ST_DIVERGED) continue;
        int same = -1;
        for (int f = 0; f < nfinal && same < 0; f++)
            if (rows_agree_(&cv->c[finals[f]].row, &cv->c[c].row, ms_col)) same = f;
        if (same < 0 && nfinal < 64) finals[nfinal++] = c;
    }
    int nfile = cv->n - (dir_c >= 0);
    if (nfile > 1) m->folded += nfile - 1; /* the point is in several shard files */
    if (nfinal > 1) {
        m->nconflict++;
        clgrad_sb_printf(&m->d, "  point %ld (%s): different results:\n", i, dname);
        for (int f = 0; f < nfinal; f++) {
            clgrad_sb_puts(&m->d, "    ");
            sb_cand_(&m->d, &cv->c[finals[f]], sw->grid.naxes);
            clgrad_sb_putc(&m->d, '\n');
        }
    }
    if (nfinal && (pick < 0 || (cv->c[pick].state != ST_COMPLETED && cv->c[pick].state != ST_DIVERGED)))
        pick = finals[0];
    if (pick < 0) { /* no run directory result: the shard rows' furthest state */
        static const int pref[] = {ST_FAILED, ST_INTERRUPTED, ST_RUNNING, ST_PENDING, ST_COUNT};
        for (int k = 0; k < 5 && pick < 0; k++)
            for (int c = cv->n - 1; c >= 0 && pick < 0; c--)
                if (cv->c[c].state == pref[k]) pick = c;
    }
    return pick;
}

/* Append point i's summary.csv row to b (its picked candidate or a "missing" row) and tally it in m. */
static void merge_point_(sweep *sw, merge_ *m, long i, clgrad_sbuf *b)
{
    /* Every point: its run directory (the truth, however it was launched) and
    ** the shard files' rows; identical rows fold, different results conflict. */
    cands_ *cv = &m->cands[i];
    char dname[DIRNAME_MAX + 1];
    clgrad_sweep_dirname(&sw->grid, i, dname, sizeof dname);
    int dir_c = merge_dir_cand_(sw, i, dname, cv);
    int pick = merge_pick_(sw, m, i, dname, cv, dir_c);
    if (pick >= 0) {
        const csv_row *r = &cv->c[pick].row;
        for (int f = 0; f < r->n; f++) {
            if (f) clgrad_sb_putc(b, ',');
            sb_csv(b, r->f[f]);
        }
        clgrad_sb_putc(b, '\n');
        m->counts[cv->c[pick].state]++;
        if (cv->c[pick].state != ST_COMPLETED && cv->c[pick].state != ST_DIVERGED) m->todo[m->ntodo++] = i;
        return;
    }
    m->missing[m->nmiss++] = i;
    m->todo[m->ntodo++] = i;
    int vi[CLGRAD_SWEEP_MAX_AXES];
    clgrad_sweep_point(&sw->grid, i, vi);
    clgrad_sb_printf(b, "%ld", i);
    for (int a = 0; a < sw->grid.naxes; a++) {
        clgrad_sb_putc(b, ',');
        sb_csv(b, sw->grid.axes[a].values[vi[a]]);
    }
    clgrad_sb_puts(b, ",missing,,,,,,,,,");
    sb_csv(b, dname);
    clgrad_sb_putc(b, '\n');
}

/* Print what the merge found: the counts, conflicts, missing points and shards, unfinished points. */
static void merge_report_(const char *dir, merge_ *m, long unfinished)
{
    long np = m->np, nmiss = m->nmiss, folded = m->folded, nconflict = m->nconflict, nshard = m->nshard;
    int nfiles = m->nfiles;
    printf("merged %d shard file%s and the run directories into %s/summary.csv: %ld points, %ld completed, %ld "
           "diverged, %ld failed, %ld unfinished, %ld missing",
           nfiles, nfiles == 1 ? "" : "s", dir, np, m->counts[ST_COMPLETED], m->counts[ST_DIVERGED],
           m->counts[ST_FAILED], unfinished, nmiss);
    if (folded) printf("; %ld duplicate row%s folded", folded, folded == 1 ? "" : "s");
    printf("\n");
    if (nconflict)
        fprintf(stderr,
                "clgrad sweep: --merge %s: %ld point%s ran more than once with different results (summary.csv "
                "has the run directory's):\n%s",
                dir, nconflict, nconflict == 1 ? "" : "s", clgrad_sb_str(&m->d));
    if (nmiss) {
        clgrad_sbuf s = {0};
        sb_ranges_(&s, m->missing, nmiss);
        fprintf(stderr, "clgrad sweep: --merge %s: %ld point%s missing: %s\n", dir, nmiss, nmiss == 1 ? "" : "s",
                clgrad_sb_str(&s));
        if (nshard > 0) {
            s.len = 0;
            if (s.s) s.s[0] = 0;
            int nm = 0;
            for (long k = 0; k < nshard && nm < 32; k++) {
                int have = 0;
                for (int f = 0; f < nfiles; f++) have |= m->ks[f] == k;
                if (!have) clgrad_sb_printf(&s, "%s%ld/%ld", nm++ ? ", " : "", k, nshard);
            }
            if (nm)
                fprintf(stderr, "clgrad sweep: no summary file from shard%s %s (run: clgrad sweep EXP --shard K/N --out %s)\n",
                        nm == 1 ? "" : "s", clgrad_sb_str(&s), dir);
        }
        free(s.s);
    }
    if (unfinished)
        fprintf(stderr, "clgrad sweep: --merge %s: %ld point%s did not finish (re-run their shards to resume)\n", dir,
                unfinished, unfinished == 1 ? "" : "s");
}

/* Write DIR/rerun-commands.txt, one `clgrad run` line per point not completed or diverged, and
** show the first; with none, remove an earlier merge's list. */
static void merge_rerun_(sweep *sw, const char *dir, const merge_ *m)
{
    long ntodo = m->ntodo;
    if (!ntodo) {
        char *rp = join_(dir, "rerun-commands.txt");
        if (rp) unlink(rp); /* the list an earlier merge wrote: nothing is left to rerun */
        free(rp);
        return;
    }
    char why[512];
    char *runner = runner_path_(sw), *abs = abs_dir_(dir);
    char *cp = abs ? join_(abs, sw->copy_name) : NULL;
    clgrad_sbuf cmds = {0};
    sw->pt_sets = calloc((size_t)sw->grid.naxes + 1, sizeof *sw->pt_sets);
    sw->copy_path = cp;
    for (long t = 0; runner && cp && sw->pt_sets && t < ntodo; t++) {
        point p;
        memset(&p, 0, sizeof p);
        char dname[DIRNAME_MAX + 1];
        clgrad_sweep_dirname(&sw->grid, m->todo[t], dname, sizeof dname);
        p.index = m->todo[t];
        p.dev = -1;
        clgrad_sbuf pdir = {0};
        clgrad_sb_printf(&pdir, "%s/%s", abs, dname);
        const char **av = pdir.oom ? NULL : point_argv_(sw, &p, runner, pdir.s);
        if (av) {
            sb_argv_(&cmds, av);
            clgrad_sb_putc(&cmds, '\n');
        } else cmds.oom = 1;
        free(av);
        free(pdir.s);
    }
    if (!runner || !cp || !sw->pt_sets || cmds.oom ||
        write_atomic_(dir, "rerun-commands.txt", cmds.s, cmds.len, why, sizeof why))
        fprintf(stderr, "clgrad sweep: --merge %s: cannot write the rerun commands: %s\n", dir,
                !abs ? strerror(errno) : runner && cp && !cmds.oom ? why : "out of memory");
    else {
        fprintf(stderr, "clgrad sweep: to rerun the %ld point%s not completed or diverged (%s/rerun-commands.txt%s; "
                "add the sweep's --device and run options if it had any):\n",
                ntodo, ntodo == 1 ? "" : "s", dir, ntodo > 10 ? ", the first 10 here" : "");
        const char *c = cmds.s;
        for (int l = 0; l < 10 && c && *c; l++) {
            const char *nl = strchr(c, '\n');
            fprintf(stderr, "  %.*s\n", (int)(nl - c), c);
            c = nl + 1;
        }
    }
    free(cmds.s);
    free(runner);
    free(abs);
}

static int cmd_merge_(sweep *sw)
{
    const char *dir = sw->merge;
    char why[512];
    clgrad_json *def = NULL;
    if (merge_definition_(sw, &def)) return 2;
    if (merge_lock_(sw)) {
        clgrad_json_free(def);
        return 2;
    }

    merge_ m;
    memset(&m, 0, sizeof m);
    m.np = clgrad_sweep_npoints(&sw->grid);
    csv_header_(&m.header, &sw->grid);
    m.cands = calloc((size_t)m.np, sizeof *m.cands);
    m.missing = calloc((size_t)m.np, sizeof *m.missing);
    m.todo = calloc((size_t)m.np, sizeof *m.todo);
    DIR *dd = opendir(dir);
    int rc = 1;
    if (!m.cands || !m.missing || !m.todo || !dd || m.header.oom) {
        fprintf(stderr, "clgrad sweep: --merge %s: %s\n", dir, dd ? "out of memory" : strerror(errno));
        rc = 2;
        if (dd) closedir(dd);
        goto out;
    }
    if (merge_scan_(sw, dir, dd, &m)) {
        fprintf(stderr, "clgrad sweep: --merge %s: cannot merge:\n%s", dir, clgrad_sb_str(&m.d));
        goto out;
    }
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, clgrad_sb_str(&m.header));
    for (long i = 0; i < m.np; i++) merge_point_(sw, &m, i, &b);
    if (b.oom || write_atomic_(dir, "summary.csv", b.s, b.len, why, sizeof why)) {
        fprintf(stderr, "clgrad sweep: --merge %s: %s\n", dir, b.oom ? "out of memory" : why);
        free(b.s);
        goto out;
    }
    free(b.s);
    long unfinished = m.counts[ST_PENDING] + m.counts[ST_RUNNING] + m.counts[ST_INTERRUPTED] + m.counts[ST_COUNT];
    merge_report_(dir, &m, unfinished);
    merge_rerun_(sw, dir, &m); /* the commands that rerun them, one per line: rerun-commands.txt */
    rc = m.nmiss || unfinished || m.counts[ST_FAILED] || m.nconflict ? 1 : 0;
out:
    for (long i = 0; m.cands && i < m.np; i++) cands_free_(&m.cands[i]);
    free(m.cands);
    free(m.ks);
    free(m.missing);
    free(m.todo);
    free(m.header.s);
    free(m.d.s);
    clgrad_json_free(def);
    return rc;
}

int clgrad_cli_sweep(int argc, char **argv)
{
    sweep sw;
    memset(&sw, 0, sizeof sw);
    sw.lock_fd[0] = sw.lock_fd[1] = -1;
    int rc = parse_args_(&sw, argc, argv);
    if (rc) rc = rc > 0 ? 0 : 2;
    else if (sw.merge) rc = cmd_merge_(&sw);
    else if (load_definition_(&sw) || validate_(&sw)) rc = 2;
    else rc = cmd_run_(&sw);
    if (rc == 2 && !sw.merge) fprintf(stderr, "clgrad sweep: nothing was run.\n");
    sweep_free_(&sw);
    return rc;
}
