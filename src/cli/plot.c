/*
** plot.c: `clgrad plot`: SVG figures of one or several run directories (loss,
** gradient norm before/after clipping, the sharpness and the preconditioned
** sharpness against their limits when logged, per-layer gradient norms as lines and
** as a heat map, RNN gradients over time), a sweep's outcome heat map, and a
** self-contained report.html with the figures inline.  Dependency-free: the
** SVG is written by hand.  Line charts skip NaN/Inf points (breaking the line
** there) and, on a log axis, non-positive values; isolated points are dots.
** Host-only; see cli/report.h for the files written.
*/
#define _POSIX_C_SOURCE 200809L
#include "cli/report.h"
#include "cli/opts.h"
#include "clgrad/config.h"
#include "core/internal.h"
#include "clgrad/hist.h"
#include "util/fsutil.h"
#include "util/ini.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------- */

/* Text for XML/HTML: escapes & < > " ' and replaces control characters that
** XML 1.0 does not allow by '?' and each byte that is not valid UTF-8 (a raw
** byte of a name or path) by U+FFFD, as the JSON files do. */
static void esc_(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            size_t n = clgrad_utf8_len((const unsigned char *)s);
            if (!n) fputs("\xef\xbf\xbd", f);
            else fwrite(s, 1, n, f), s += n - 1;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') fputc('?', f);
            else fputc(c, f);
        }
    }
}

/* Shorten s into out to at most max bytes, ending in "..." when cut. */
static const char *shorten_(const char *s, char *out, size_t nout, size_t max)
{
    size_t n = strlen(s);
    if (max >= nout) max = nout - 1;
    if (n <= max) {
        snprintf(out, nout, "%s", s);
        return out;
    }
    size_t keep = max > 3 ? max - 3 : 0;
    /* do not cut inside a UTF-8 sequence */
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    memcpy(out, s, keep);
    snprintf(out + keep, nout - keep, "...");
    return out;
}

/* Shorten s to at most max bytes by cutting out its middle ("abc...xyz"), so
** that both a run name and a trailing "train"/"test" stay readable. */
static const char *shorten_mid_(const char *s, char *out, size_t nout, size_t max)
{
    size_t n = strlen(s);
    if (max >= nout) max = nout - 1;
    if (n <= max || max < 8) return shorten_(s, out, nout, max);
    size_t head = (max - 3) / 2, tail = max - 3 - head;
    while (head > 0 && ((unsigned char)s[head] & 0xC0) == 0x80) head--;
    size_t t0 = n - tail;
    while (t0 < n && ((unsigned char)s[t0] & 0xC0) == 0x80) t0++;
    snprintf(out, nout, "%.*s...%s", (int)head, s, s + t0);
    return out;
}

static int mkdirs_(const char *dir)
{
    char p[1024];
    if (strlen(dir) >= sizeof p) return ENAMETOOLONG;
    snprintf(p, sizeof p, "%s", dir);
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == '\0') {
            char c = *q;
            *q = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) return errno;
            *q = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(p, &sb) != 0) return errno;
    return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

/* Write text to dir/name through a temporary file and rename. */
static clgrad_status write_file_(const char *dir, const char *name, const char *head, const char *text, char *why,
                                 size_t nwhy)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t nh = head ? strlen(head) : 0, nt = strlen(text);
    char *all = malloc(nh + nt + 1);
    if (!all) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory writing %s", path);
    if (nh) memcpy(all, head, nh);
    memcpy(all + nh, text, nt);
    int e = clgrad_fs_replace_text(path, all, nh + nt);
    free(all);
    if (e) return clgrad_failf(CLGRAD_E_IO, why, nwhy, "cannot write %s: %s", path, strerror(e));
    return CLGRAD_OK;
}

/* A text sink in memory (POSIX open_memstream). */
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} mstream;

static int ms_open_(mstream *m)
{
    m->buf = NULL, m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f ? 0 : -1;
}

/* Close and return the text (owned by the caller), NULL on failure. */
static char *ms_close_(mstream *m)
{
    int bad = ferror(m->f);
    if (fclose(m->f) != 0) bad = 1;
    m->f = NULL;
    if (bad) {
        free(m->buf);
        m->buf = NULL;
    }
    return m->buf;
}

/* ---- colours --------------------------------------------------------------------- */

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define COLOR_DIVERGE "#d62728"
#define COLOR_EVENT "#f0c000" /* spike events: amber triangles */
#define COLOR_NONFINITE "#e8175d"
#define COLOR_MISSING "#d9d9d9"
#define COLOR_ZERO "#000000"
#define COLOR_EMPTY "#ffffff"

/* viridis at t in [0, 1], interpolated between 9 samples of the matplotlib map */
static void viridis_(double t, char out[8])
{
    static const unsigned char c[9][3] = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},
                                          {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                          {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 8;
    int i = (int)x;
    if (i > 7) i = 7;
    double u = x - i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(c[i][k] * (1 - u) + c[i + 1][k] * u);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 255, rgb[1] & 255, rgb[2] & 255);
}

/* ---- axes ---------------------------------------------------------------------------- */

#define MAX_TICKS 64

typedef struct {
    int log;           /* lo/hi and ticks are log10 values */
    double lo, hi;     /* the axis range (log10 when log) */
    double tick[MAX_TICKS];
    int ntick;
    double minor[MAX_TICKS * 4];
    int nminor;
    double step;       /* linear tick step */
} axis_t;

static double nice_(double x)
{
    double e = floor(log10(x)), f = x / pow(10, e);
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * pow(10, e);
}

/* Linear axis over [lo, hi]; pad: widen the range to whole tick steps;
** integer: the values are whole numbers (steps, t): ticks at least 1 apart. */
static void axis_linear_(axis_t *a, double lo, double hi, int pad, int integer)
{
    memset(a, 0, sizeof *a);
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (!(hi > lo)) {
        double d = integer ? 1 : lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    double step = nice_((hi - lo) / 5);
    if (integer && step < 1) step = 1;
    if (!isfinite(step) || step <= 0 || !isfinite(hi - lo)) lo = -1, hi = 1, step = 0.5;
    if (pad) {
        lo = floor(lo / step) * step;
        hi = ceil(hi / step) * step;
    }
    a->lo = lo, a->hi = hi, a->step = step;
    double k0 = ceil(lo / step - 1e-9);
    for (int i = 0; a->ntick < MAX_TICKS; i++) {
        double v = (k0 + i) * step;
        if (v > hi + step * 1e-9) break;
        a->tick[a->ntick++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
}

/* Log axis over the positive [lo, hi]: whole decades, ticks at powers of ten. */
static void axis_log_(axis_t *a, double lo, double hi)
{
    memset(a, 0, sizeof *a);
    a->log = 1;
    if (!(lo > 0) || !isfinite(lo) || !(hi > 0) || !isfinite(hi)) lo = 1, hi = 10;
    double dlo = floor(log10(lo) + 1e-12), dhi = ceil(log10(hi) - 1e-12);
    if (dhi <= dlo) dhi = dlo + 1;
    a->lo = dlo, a->hi = dhi;
    int ndec = (int)(dhi - dlo);
    static const int steps[] = {1, 2, 3, 5, 10, 20, 25, 50, 100, 200};
    int k = 1;
    for (int i = 0; i < 10 && ndec / steps[i] > 8; i++) k = steps[i + 1 < 10 ? i + 1 : i];
    for (int d = (int)dlo; d <= (int)dhi && a->ntick < MAX_TICKS; d++)
        if (((d % k) + k) % k == 0) a->tick[a->ntick++] = d;
    if (ndec <= 6)
        for (int d = (int)dlo; d < (int)dhi; d++)
            for (int m = 2; m <= 9; m++) a->minor[a->nminor++] = d + log10(m);
}

/* Map a data value onto [p0, p1]; NaN when it cannot be shown. */
static double axis_map_(const axis_t *a, double v, double p0, double p1)
{
    if (!isfinite(v)) return NAN;
    if (a->log) {
        if (!(v > 0)) return NAN;
        v = log10(v);
    }
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* Tick position (already in axis units: log10 for log axes). */
static double axis_pos_(const axis_t *a, double u, double p0, double p1)
{
    return p0 + (u - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* A linear tick label: enough decimals for the step, exponent form when huge or tiny. */
static void tick_label_(char *b, size_t n, double v, double step)
{
    double av = fabs(v);
    if (av != 0 && (av >= 1e6 || av < 1e-4)) {
        char t[48];
        snprintf(t, sizeof t, "%.3g", v);
        /* 1e+06 -> 1e6, 2.5e-05 -> 2.5e-5 */
        char *e = strchr(t, 'e');
        if (e) {
            char mant[32];
            size_t ml = (size_t)(e - t);
            memcpy(mant, t, ml);
            mant[ml] = '\0';
            int ex = atoi(e + 1);
            snprintf(b, n, "%se%d", mant, ex);
        } else {
            snprintf(b, n, "%s", t);
        }
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 12) dec = 12;
    snprintf(b, n, "%.*f", dec, v);
}

/* ---- the SVG frame ----------------------------------------------------------------------- */

#define FIG_W 820
#define FIG_H 480

typedef struct {
    double x0, x1, y0, y1; /* plot area: x0 left, x1 right, y0 top, y1 bottom */
} frame_t;

static void svg_open_(FILE *f, const char *title, int w, int h)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"12\">\n",
            w, h, w, h);
    fputs("<title>", f), esc_(f, title), fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
    fprintf(f, "<text class=\"title\" x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
            w / 2);
    char t[160];
    esc_(f, shorten_(title, t, sizeof t, 100));
    fputs("</text>\n", f);
}

static void svg_close_(FILE *f)
{
    fputs("</svg>\n", f);
}

static void text_(FILE *f, double x, double y, const char *anchor, const char *extra, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor, extra ? " " : "",
            extra ? extra : "");
    esc_(f, s);
    fputs("</text>\n", f);
}

/* Axis labels, ticks and grid.  xa may be NULL (categorical/other x drawn by the caller).
** band: the height in px of the "0 (underflow)" band at the bottom of a log
** plot (0 for none): the y axis maps onto the area above it. */
static void axes_(FILE *f, const frame_t *fr, const axis_t *xa, const axis_t *ya, const char *xlabel,
                  const char *ylabel, int grid, double band)
{
    char lab[64];
    double yb = fr->y1 - band; /* the bottom of the y axis */
    fputs("<g class=\"axes\">\n", f);
    if (ya) {
        fputs("<g class=\"yaxis\">\n", f);
        for (int i = 0; i < ya->nminor; i++) {
            double y = axis_pos_(ya, ya->minor[i], yb, fr->y0);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", fr->x0 - 3, y,
                    fr->x0, y);
            if (grid)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f2f2f2\"/>\n", fr->x0, y,
                        fr->x1, y);
        }
        for (int i = 0; i < ya->ntick; i++) {
            double y = axis_pos_(ya, ya->tick[i], yb, fr->y0);
            if (grid)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", fr->x0, y,
                        fr->x1, y);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", fr->x0 - 6, y,
                    fr->x0, y);
            if (ya->log) {
                fprintf(f, "<text class=\"logtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">10<tspan dy=\"-6\" "
                           "font-size=\"9\">%d</tspan></text>\n",
                        fr->x0 - 9, y + 4, (int)ya->tick[i]);
            } else {
                tick_label_(lab, sizeof lab, ya->tick[i], ya->step);
                text_(f, fr->x0 - 9, y + 4, "end", NULL, lab);
            }
        }
        fputs("</g>\n", f);
    }
    if (band > 0) {
        /* exact zeros (a gradient that underflowed) are data: their own band below the log axis */
        fputs("<g class=\"zeroband\">\n", f);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f0f0f0\"/>\n", fr->x0, yb,
                fr->x1 - fr->x0, band);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888888\" "
                   "stroke-dasharray=\"3 3\"/>\n",
                fr->x0, yb, fr->x1, yb);
        text_(f, fr->x0 - 6, yb + band / 2 + 4, "end", "font-size=\"10\"", "0 (underflow)");
        fputs("</g>\n", f);
    }
    if (xa) {
        fputs("<g class=\"xaxis\">\n", f);
        for (int i = 0; i < xa->ntick; i++) {
            double x = axis_pos_(xa, xa->tick[i], fr->x0, fr->x1);
            if (grid)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", x, fr->y0,
                        x, fr->y1);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x, fr->y1, x,
                    fr->y1 + 6);
            tick_label_(lab, sizeof lab, xa->tick[i], xa->step);
            text_(f, x, fr->y1 + 19, "middle", NULL, lab);
        }
        fputs("</g>\n", f);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n",
            fr->x0, fr->y0, fr->x1 - fr->x0, fr->y1 - fr->y0);
    if (xlabel) text_(f, (fr->x0 + fr->x1) / 2, fr->y1 + 40, "middle", "class=\"xlabel\"", xlabel);
    if (ylabel) {
        char tr[96];
        double yl = (fr->y0 + yb) / 2;
        snprintf(tr, sizeof tr, "class=\"ylabel\" transform=\"rotate(-90 %.1f %.1f)\"", fr->x0 - 58, yl);
        text_(f, fr->x0 - 58, yl, "middle", tr, ylabel);
    }
    fputs("</g>\n", f);
}

/* ---- line charts --------------------------------------------------------------------------- */

typedef struct {
    double *x, *y; /* owned */
    size_t n;
    char label[192];
    char color[8];
    int dash;      /* dashed line */
    int markers;   /* a dot at every point */
    int faint;     /* drawn faint (the raw curve behind a smoothed one) */
    int events;    /* spike events (events.csv): a triangle at each point, no line */
} series_t;

typedef struct {
    double x;
    char label[192];
    char color[8];
} vmark_t;

#define MAX_SERIES 256
#define LEGEND_W 236    /* width kept right of the plot for the legend */
#define LEGEND_CHARS 31 /* legend text longer than this is cut in the middle */
#define MAX_MARKS 64
#define ZERO_BAND 24    /* px of the "0 (underflow)" band under a log axis */

typedef struct {
    char title[256], xlabel[96], ylabel[128];
    int ylog;
    series_t s[MAX_SERIES];
    int ns;
    vmark_t m[MAX_MARKS];
    int nm;
    /* a y range shared with other figures of the same kind (several runs):
    ** yfixed: use [ylo, yhi] (data units); zero_band: draw the underflow band
    ** even when this chart has no zero */
    int yfixed, zero_band;
    double ylo, yhi;
} chart_t;

static void chart_free_(chart_t *c)
{
    for (int i = 0; i < c->ns; i++) free(c->s[i].x), free(c->s[i].y);
    c->ns = 0;
}

/* How a point is shown: PT_LINE on the axis, PT_ZERO in the underflow band of
** a log axis (an exact 0 is a measured value: a gradient that underflowed),
** PT_NONE not at all (NaN/Inf: a gap; a negative value on a log axis). */
enum { PT_NONE = 0, PT_LINE, PT_ZERO };

static int point_kind_(const chart_t *c, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return PT_NONE;
    if (!c->ylog || y > 0) return PT_LINE;
    return y == 0 ? PT_ZERO : PT_NONE;
}

/* The range of the values a chart shows on its axis; *zeros: it has points
** for the underflow band.  Returns the number of points shown. */
static size_t chart_range_(const chart_t *c, double *ymin, double *ymax, int *zeros)
{
    size_t n = 0;
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            int kind = point_kind_(c, c->s[i].x[k], c->s[i].y[k]);
            if (kind == PT_ZERO) *zeros = 1, n++;
            if (kind != PT_LINE) continue;
            n++;
            *ymin = fmin(*ymin, c->s[i].y[k]), *ymax = fmax(*ymax, c->s[i].y[k]);
        }
    return n;
}

/* Draw one series.  The path data are written whole, inside one attribute
** that is closed before anything else is written, whatever the data (gaps at
** NaN/Inf, a series of single points, an empty one): first one <path> with a
** piece per run of consecutive points, then a dot per isolated point, then the
** underflow marks (at y = yzero). */
static void series_svg_(FILE *f, const chart_t *c, const series_t *s, const axis_t *xa, const axis_t *ya,
                        double yb, double y0, double x0, double x1, double yzero)
{
    fputs("<g class=\"series\" data-label=\"", f), esc_(f, s->label), fputc('"', f);
    if (s->faint) fputs(" opacity=\"0.3\"", f);
    fputs(">\n<title>", f), esc_(f, s->label), fputs("</title>\n", f);
    if (s->events) { /* a downward triangle above each event's value, pointing at it */
        for (size_t i = 0; i < s->n; i++) {
            if (point_kind_(c, s->x[i], s->y[i]) != PT_LINE) continue;
            double px = axis_map_(xa, s->x[i], x0, x1), py = axis_map_(ya, s->y[i], yb, y0);
            fprintf(f, "<path class=\"event\" d=\"M%.2f %.2f L%.2f %.2f L%.2f %.2f L%.2f %.2f\" fill=\"%s\" "
                       "stroke=\"#000000\" stroke-width=\"0.6\"><title>step %.0f: %.6g</title></path>\n",
                    px, py - 2, px - 5, py - 11, px + 5, py - 11, px, py - 2, s->color, s->x[i], s->y[i]);
        }
        fputs("</g>\n", f);
        return;
    }
    int open = 0;
    for (size_t i = 0; i < s->n;) {
        if (point_kind_(c, s->x[i], s->y[i]) != PT_LINE) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->n && point_kind_(c, s->x[j], s->y[j]) == PT_LINE) j++;
        if (j - i >= 2) {
            if (!open)
                fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\"%s d=\"",
                        s->color, s->faint ? "1.2" : "1.6", s->dash ? " stroke-dasharray=\"6 4\"" : "");
            for (size_t k = i; k < j; k++)
                fprintf(f, "%s%c%.2f %.2f", k == i && open ? " " : k == i ? "" : " ", k == i ? 'M' : 'L',
                        axis_map_(xa, s->x[k], x0, x1), axis_map_(ya, s->y[k], yb, y0));
            open = 1;
        }
        i = j;
    }
    if (open) fputs("\"/>\n", f);
    for (size_t i = 0; i < s->n; i++) {
        if (point_kind_(c, s->x[i], s->y[i]) != PT_LINE) continue;
        int isolated = (i == 0 || point_kind_(c, s->x[i - 1], s->y[i - 1]) != PT_LINE) &&
                       (i + 1 == s->n || point_kind_(c, s->x[i + 1], s->y[i + 1]) != PT_LINE);
        if (s->markers || isolated)
            fprintf(f, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n",
                    axis_map_(xa, s->x[i], x0, x1), axis_map_(ya, s->y[i], yb, y0), s->color);
    }
    if (isfinite(yzero))
        for (size_t i = 0; i < s->n; i++)
            if (point_kind_(c, s->x[i], s->y[i]) == PT_ZERO)
                fprintf(f, "<circle class=\"zero\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"none\" stroke=\"%s\" "
                           "stroke-width=\"1.5\"/>\n",
                        axis_map_(xa, s->x[i], x0, x1), yzero, s->color);
    fputs("</g>\n", f);
}

static void legend_(FILE *f, const chart_t *c, double x, double y0, double y1)
{
    if (c->ns == 0) return;
    double avail = y1 - y0;
    double row = 18;
    int fs = 12;
    if (c->ns * row > avail) row = avail / c->ns, fs = row < 13 ? 10 : 12;
    if (row < 11) row = 11;
    int maxrows = (int)(avail / row);
    int shown = c->ns <= maxrows ? c->ns : maxrows - 1;
    fprintf(f, "<g class=\"legend\" font-size=\"%d\">\n", fs);
    for (int i = 0; i < shown; i++) {
        const series_t *s = &c->s[i];
        double y = y0 + row * i + row / 2;
        if (s->events)
            fprintf(f, "<path d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f\" fill=\"%s\" stroke=\"#000000\" "
                       "stroke-width=\"0.6\"/>\n",
                    x + 12, y + 4, x + 7, y - 5, x + 17, y - 5, x + 12, y + 4, s->color);
        else
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s%s/>\n", x,
                    y, x + 24, y, s->color, s->dash ? " stroke-dasharray=\"6 4\"" : "", s->faint ? " opacity=\"0.3\"" : "");
        int valid = 0;
        for (size_t k = 0; k < s->n && !valid; k++) valid = point_kind_(c, s->x[k], s->y[k]) != PT_NONE;
        char full[256], t[64];
        snprintf(full, sizeof full, "%s%s", s->label, valid ? "" : " (no data)");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 30, y + 4);
        esc_(f, shorten_mid_(full, t, sizeof t, LEGEND_CHARS));
        fputs("</text>\n", f);
    }
    if (shown < c->ns) {
        char more[64];
        snprintf(more, sizeof more, "... and %d more", c->ns - shown);
        text_(f, x, y0 + row * shown + row / 2 + 4, "start", NULL, more);
    }
    fputs("</g>\n", f);
}

/* Render a line chart; returns its SVG text (owned) or NULL on no memory. */
static char *chart_svg_(const chart_t *c)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    int legend_w = c->ns > 0 ? LEGEND_W : 20;
    frame_t fr = {84, FIG_W - legend_w, 40, FIG_H - 56};
    /* data ranges over the points that can be shown, and the markers */
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int zeros = 0;
    size_t nvalid = chart_range_(c, &ymin, &ymax, &zeros);
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++)
            if (point_kind_(c, c->s[i].x[k], c->s[i].y[k]) != PT_NONE)
                xmin = fmin(xmin, c->s[i].x[k]), xmax = fmax(xmax, c->s[i].x[k]);
    for (int i = 0; i < c->nm; i++)
        if (isfinite(c->m[i].x)) xmin = fmin(xmin, c->m[i].x), xmax = fmax(xmax, c->m[i].x);
    if (c->yfixed) ymin = c->ylo, ymax = c->yhi;
    double band = c->ylog && (zeros || c->zero_band) ? ZERO_BAND : 0;
    axis_t xa, ya;
    axis_linear_(&xa, xmin, xmax, 1, 1);
    if (c->ylog) axis_log_(&ya, ymin, ymax);
    else axis_linear_(&ya, ymin, ymax, 1, 0);

    svg_open_(f, c->title, FIG_W, FIG_H);
    axes_(f, &fr, &xa, &ya, c->xlabel, c->ylabel, 1, band);
    if (nvalid == 0)
        text_(f, (fr.x0 + fr.x1) / 2, (fr.y0 + fr.y1) / 2, "middle", "class=\"nodata\" fill=\"#888888\"",
              "no data to plot");
    double yzero = band > 0 ? fr.y1 - band / 2 : NAN;
    for (int i = 0; i < c->ns; i++) series_svg_(f, c, &c->s[i], &xa, &ya, fr.y1 - band, fr.y0, fr.x0, fr.x1, yzero);
    for (int i = 0; i < c->nm; i++) {
        const vmark_t *m = &c->m[i];
        double x = axis_map_(&xa, m->x, fr.x0, fr.x1);
        if (!isfinite(x)) continue;
        fprintf(f, "<g class=\"marker diverge\">\n<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
                   "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n",
                x, fr.y0, x, fr.y1, m->color);
        /* the label beside the line, on the side where it fits (about 6.5 px a character) */
        double w = 6.5 * (double)strlen(m->label), tx = x + 4;
        const char *anchor = "start";
        if (tx + w > fr.x1) {
            if (x - 4 - w >= fr.x0) tx = x - 4, anchor = "end";
            else tx = fmax(fr.x0 + 4, fr.x1 - 4 - w);
        }
        char extra[64];
        snprintf(extra, sizeof extra, "fill=\"%s\" font-size=\"11\"", m->color);
        text_(f, tx, fr.y0 + 14 + 14 * i, anchor, extra, m->label);
        fputs("</g>\n", f);
    }
    legend_(f, c, fr.x1 + 14, fr.y0, fr.y1);
    svg_close_(f);
    return ms_close_(&ms);
}

/* ---- heat maps ---------------------------------------------------------------------------------- */

/* CELL_ZERO: every value of the cell exactly 0 (on a log colour scale: an underflow, not "no data") */
/* CELL_EMPTY: a histogram bin without entries (a fraction of 0) */
enum { CELL_VALUE = 0, CELL_NONFINITE, CELL_MISSING, CELL_DIVERGED, CELL_FAILED, CELL_ZERO, CELL_EMPTY };

/* A vertical colour bar for [zlo, zhi] with its label, plus swatches for the special cell states
** listed in `states` (a bit per CELL_* state). */
static void colorbar_(FILE *f, double x, double y0, double y1, double zlo, double zhi, const char *zlabel,
                      unsigned states)
{
    static const struct { int st; const char *color, *text; } sw[] = {
        {CELL_NONFINITE, COLOR_NONFINITE, "non-finite"},
        {CELL_ZERO, COLOR_ZERO, "0 (underflow)"},
        {CELL_MISSING, COLOR_MISSING, "not logged"},
        {CELL_DIVERGED, COLOR_DIVERGE, "diverged (X)"},
        {CELL_FAILED, COLOR_MISSING, "failed / no result"},
        {CELL_EMPTY, COLOR_EMPTY, "no entries"},
    };
    enum { NSW = sizeof sw / sizeof sw[0] };
    int nsw = 0;
    for (int i = 0; i < NSW; i++) nsw += (states >> sw[i].st) & 1;
    double ybar1 = y1 - 22.0 * nsw;
    fputs("<g class=\"colorbar\">\n", f);
    const int nstep = 64;
    double h = (ybar1 - y0) / nstep;
    for (int i = 0; i < nstep; i++) {
        char col[8];
        viridis_((i + 0.5) / nstep, col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>\n", x,
                ybar1 - h * (i + 1), h + 0.4, col);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n", x, y0,
            ybar1 - y0);
    axis_t za;
    axis_linear_(&za, zlo, zhi, 0, 0);
    char lab[64];
    for (int i = 0; i < za.ntick; i++) {
        double y = axis_pos_(&za, za.tick[i], ybar1, y0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x + 16, y, x + 21,
                y);
        tick_label_(lab, sizeof lab, za.tick[i], za.step);
        text_(f, x + 24, y + 4, "start", NULL, lab);
    }
    char tr[96];
    snprintf(tr, sizeof tr, "transform=\"rotate(-90 %.1f %.1f)\"", x + 78, (y0 + ybar1) / 2);
    text_(f, x + 78, (y0 + ybar1) / 2, "middle", tr, zlabel);
    int k = 0;
    for (int i = 0; i < NSW; i++) {
        if (!((states >> sw[i].st) & 1)) continue;
        double y = ybar1 + 8 + 22.0 * k++;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"14\" fill=\"%s\" stroke=\"#000000\"/>\n", x, y,
                sw[i].color);
        if (sw[i].st == CELL_DIVERGED)
            fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"#000000\" stroke-width=\"1.5\"/>\n",
                    x + 3, y + 3, x + 13, y + 11, x + 13, y + 3, x + 3, y + 11);
        text_(f, x + 22, y + 11, "start", "font-size=\"10\"", sw[i].text);
    }
    fputs("</g>\n", f);
}

static void cell_color_(int state, double z, double zlo, double zhi, char col[8])
{
    switch (state) {
    case CELL_VALUE: viridis_(zhi > zlo ? (z - zlo) / (zhi - zlo) : 0.5, col); break;
    case CELL_NONFINITE: snprintf(col, 8, "%s", COLOR_NONFINITE); break;
    case CELL_DIVERGED: snprintf(col, 8, "%s", COLOR_DIVERGE); break;
    case CELL_ZERO: snprintf(col, 8, "%s", COLOR_ZERO); break;
    case CELL_EMPTY: snprintf(col, 8, "%s", COLOR_EMPTY); break;
    default: snprintf(col, 8, "%s", COLOR_MISSING); break;
    }
}

/* The finite range of z over value cells; a unit interval around a single value. */
static void zrange_(const double *z, const unsigned char *state, size_t n, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (state[i] == CELL_VALUE && isfinite(z[i])) *lo = fmin(*lo, z[i]), *hi = fmax(*hi, z[i]);
    if (!(*lo <= *hi)) *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-12) *lo -= 0.5, *hi += 0.5;
}

/* Layer x step heat map: rows (top = row 0) over numeric column positions xs. */
typedef struct {
    char title[256], xlabel[96], ylabel[96], zlabel[96];
    size_t nrows, ncols;
    const char **rowlabel; /* nrows (the array owned; the strings in rowtext or elsewhere) */
    double *xs;            /* ncols column centres (owned) */
    double *z;             /* nrows*ncols (owned) */
    unsigned char *state;  /* nrows*ncols CELL_* (owned) */
    char **rowtext;        /* nrows owned labels when rowlabel points into them, else NULL */
    int zfixed;            /* a colour range shared with other heat maps: [zlo, zhi] */
    double zlo, zhi;
} heat_t;

static char *heat_svg_(const heat_t *hm)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    frame_t fr = {92, FIG_W - 150, 40, FIG_H - 56};
    svg_open_(f, hm->title, FIG_W, FIG_H);
    size_t nr = hm->nrows, nc = hm->ncols;
    if (nr == 0 || nc == 0) {
        axes_(f, &fr, NULL, NULL, hm->xlabel, hm->ylabel, 0, 0);
        text_(f, (fr.x0 + fr.x1) / 2, (fr.y0 + fr.y1) / 2, "middle", "class=\"nodata\" fill=\"#888888\"",
              "no data to plot");
        svg_close_(f);
        return ms_close_(&ms);
    }
    /* column edges halfway between centres */
    double *edge = malloc((nc + 1) * sizeof *edge);
    if (!edge) {
        fclose(ms.f), free(ms.buf);
        return NULL;
    }
    for (size_t j = 1; j < nc; j++) edge[j] = (hm->xs[j - 1] + hm->xs[j]) / 2;
    edge[0] = nc > 1 ? hm->xs[0] - (hm->xs[1] - hm->xs[0]) / 2 : hm->xs[0] - 0.5;
    edge[nc] = nc > 1 ? hm->xs[nc - 1] + (hm->xs[nc - 1] - hm->xs[nc - 2]) / 2 : hm->xs[0] + 0.5;
    axis_t xa;
    axis_linear_(&xa, edge[0], edge[nc], 0, 1);
    double zlo = hm->zlo, zhi = hm->zhi;
    if (!hm->zfixed) zrange_(hm->z, hm->state, nr * nc, &zlo, &zhi);
    unsigned states = 0;
    double rh = (fr.y1 - fr.y0) / (double)nr;
    /* a big map (time steps x training steps) merges runs of equal colour along a row:
    ** the colours are those of the 64-step colour bar, so the file stays small */
    int merge = nr * nc > 5000;
    fputs("<g class=\"cells\" shape-rendering=\"crispEdges\">\n", f);
    for (size_t r = 0; r < nr; r++) {
        for (size_t j = 0; j < nc;) {
            int st = hm->state[r * nc + j];
            states |= st == CELL_VALUE ? 0u : 1u << st;
            char col[8], next[8];
            double z = hm->z[r * nc + j];
            if (merge && st == CELL_VALUE && zhi > zlo) z = zlo + (floor((z - zlo) / (zhi - zlo) * 64) + 0.5) / 64 * (zhi - zlo);
            cell_color_(st, z, zlo, zhi, col);
            size_t j1 = j + 1;
            while (merge && j1 < nc) {
                int st1 = hm->state[r * nc + j1];
                double z1 = hm->z[r * nc + j1];
                if (st1 == CELL_VALUE && zhi > zlo) z1 = zlo + (floor((z1 - zlo) / (zhi - zlo) * 64) + 0.5) / 64 * (zhi - zlo);
                cell_color_(st1, z1, zlo, zhi, next);
                if (st1 != st || strcmp(next, col)) break;
                j1++;
            }
            double xa0 = axis_pos_(&xa, edge[j], fr.x0, fr.x1), xa1 = axis_pos_(&xa, edge[j1], fr.x0, fr.x1);
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", xa0,
                    fr.y0 + rh * r, xa1 - xa0 + 0.3, rh + 0.3, col);
            j = j1;
        }
    }
    fputs("</g>\n", f);
    free(edge);
    axes_(f, &fr, &xa, NULL, hm->xlabel, hm->ylabel, 0, 0);
    /* row labels, thinned when crowded */
    size_t every = (size_t)ceil(14.0 / rh);
    if (every < 1) every = 1;
    fputs("<g class=\"rowlabels\">\n", f);
    for (size_t r = 0; r < nr; r += every) {
        double y = fr.y0 + rh * (r + 0.5);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", fr.x0 - 5, y,
                fr.x0, y);
        char t[40];
        text_(f, fr.x0 - 8, y + 4, "end", NULL, shorten_(hm->rowlabel[r], t, sizeof t, 10));
    }
    fputs("</g>\n", f);
    colorbar_(f, fr.x1 + 18, fr.y0, fr.y1, zlo, zhi, hm->zlabel, states);
    svg_close_(f);
    return ms_close_(&ms);
}

static void heat_free_(heat_t *hm)
{
    if (hm->rowtext)
        for (size_t i = 0; i < hm->nrows; i++) free(hm->rowtext[i]);
    free(hm->rowtext);
    free((void *)hm->rowlabel);
    free(hm->xs), free(hm->z), free(hm->state);
    hm->xs = hm->z = NULL, hm->state = NULL, hm->rowtext = NULL, hm->rowlabel = NULL;
}

/* ---- data from a run ------------------------------------------------------------------------------- */

typedef struct {
    double x, y;
} xy_t;

static int xy_cmp_(const void *a, const void *b)
{
    const xy_t *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* The measured (non-empty) values of ycol against xcol, optionally only rows whose
** fcol equals fval, sorted by x.  Fills s->x, s->y, s->n.  -1 on no memory. */
static int take_xy_(series_t *s, const clgrad_csv *t, const char *xcol, const char *ycol, const char *fcol,
                    const char *fval)
{
    s->x = s->y = NULL, s->n = 0;
    int cx = clgrad_csv_col(t, xcol), cy = clgrad_csv_col(t, ycol), cf = fcol ? clgrad_csv_col(t, fcol) : -1;
    if (cx < 0 || cy < 0 || (fcol && cf < 0)) return 0;
    xy_t *p = malloc((t->nrows ? t->nrows : 1) * sizeof *p);
    if (!p) return -1;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        if (fcol && strcmp(clgrad_csv_text(t, r, cf), fval) != 0) continue;
        if (!clgrad_csv_present(t, r, cy) || !isfinite(clgrad_csv_num(t, r, cx))) continue;
        p[n].x = clgrad_csv_num(t, r, cx), p[n].y = clgrad_csv_num(t, r, cy);
        n++;
    }
    qsort(p, n, sizeof *p, xy_cmp_); /* ties keep no particular order; logged steps are distinct */
    s->x = malloc((n ? n : 1) * sizeof *s->x), s->y = malloc((n ? n : 1) * sizeof *s->y);
    if (!s->x || !s->y) {
        free(p), free(s->x), free(s->y);
        s->x = s->y = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) s->x[i] = p[i].x, s->y[i] = p[i].y;
    s->n = n;
    free(p);
    return 0;
}

/* Add a series to c; NULL when the chart is full (the series is then dropped). */
static series_t *chart_add_(chart_t *c, const char *label, const char *color, int dash)
{
    if (c->ns >= MAX_SERIES) return NULL;
    series_t *s = &c->s[c->ns++];
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s", label);
    snprintf(s->color, sizeof s->color, "%s", color);
    s->dash = dash;
    return s;
}

/* Log y when every shown value is positive and they span more than two decades. */
static int auto_log_(const chart_t *c)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            double y = c->s[i].y[k];
            if (!isfinite(y)) continue;
            if (y <= 0) return 0;
            lo = fmin(lo, y), hi = fmax(hi, y);
        }
    return lo <= hi && hi / lo > 100;
}

static int dcmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct finite values of column col. */
static double *distinct_(const clgrad_csv *t, int col, size_t *n)
{
    double *v = malloc((t->nrows ? t->nrows : 1) * sizeof *v);
    *n = 0;
    if (!v) return NULL;
    for (size_t r = 0; r < t->nrows; r++) {
        double x = clgrad_csv_num(t, r, col);
        if (isfinite(x)) v[(*n)++] = x;
    }
    qsort(v, *n, sizeof *v, dcmp_);
    size_t m = 0;
    for (size_t i = 0; i < *n; i++)
        if (m == 0 || v[i] != v[m - 1]) v[m++] = v[i];
    *n = m;
    return v;
}

/* Label of runs[i]: the run dir name, plus the device when the runs were not
** all made on one device. */
static void run_label_(const clgrad_rundata *runs, int n, int i, char *out, size_t nout)
{
    const char *dev = clgrad_json_str(clgrad_json_path(runs[i].manifest, "device.name"));
    int same = 1;
    for (int k = 1; k < n && same; k++) {
        const char *d0 = clgrad_json_str(clgrad_json_path(runs[0].manifest, "device.name"));
        const char *dk = clgrad_json_str(clgrad_json_path(runs[k].manifest, "device.name"));
        same = d0 && dk && !strcmp(d0, dk);
    }
    if (!same && dev) snprintf(out, nout, "%.90s / %.60s", runs[i].name, dev);
    else snprintf(out, nout, "%.150s", runs[i].name);
}

/* The spike events of one metric (events.csv rows with metric = `metric` and no layer) as a series of
** triangles on the chart; nothing when the run has no such event.  Returns nonzero on no memory. */
static int events_series_(chart_t *c, const clgrad_rundata *r, const char *metric, const char *prefix,
                          const char *color)
{
    if (!r->has_events) return 0;
    const clgrad_csv *t = &r->events;
    int cs = clgrad_csv_col(t, "step"), cm = clgrad_csv_col(t, "metric"), cv = clgrad_csv_col(t, "value");
    int cl = clgrad_csv_col(t, "layer");
    size_t n = 0;
    for (size_t i = 0; i < t->nrows; i++)
        if (!strcmp(clgrad_csv_text(t, i, cm), metric) && !clgrad_csv_text(t, i, cl)[0]) n++;
    if (!n) return 0;
    char lab[192];
    snprintf(lab, sizeof lab, "%s%s%s spikes (%zu)", prefix ? prefix : "", prefix ? ": " : "", metric, n);
    series_t *s = chart_add_(c, lab, color, 0);
    if (!s) return 0;
    s->events = 1;
    s->x = malloc(n * sizeof *s->x), s->y = malloc(n * sizeof *s->y);
    if (!s->x || !s->y) return 1;
    for (size_t i = 0; i < t->nrows; i++)
        if (!strcmp(clgrad_csv_text(t, i, cm), metric) && !clgrad_csv_text(t, i, cl)[0])
            s->x[s->n] = clgrad_csv_num(t, i, cs), s->y[s->n] = clgrad_csv_num(t, i, cv), s->n++;
    return 0;
}

static void divergence_mark_(chart_t *c, const clgrad_rundata *r, const char *prefix, const char *color)
{
    const clgrad_json *d = clgrad_rundata_divergence(r);
    if (!d || c->nm >= MAX_MARKS) return;
    double step = clgrad_json_num(clgrad_json_member(d, "step"));
    if (!isfinite(step)) return;
    char kind[64], layer[64];
    clgrad_json_text(clgrad_json_member(d, "kind"), kind, sizeof kind);
    clgrad_json_text(clgrad_json_member(d, "layer"), layer, sizeof layer);
    vmark_t *m = &c->m[c->nm++];
    m->x = step;
    snprintf(m->label, sizeof m->label, "%s%sdiverged at step %.0f (%s%s%s)", prefix ? prefix : "",
             prefix ? ": " : "", step, kind[0] ? kind : "?", layer[0] && strcmp(layer, "null") ? ", layer " : "",
             layer[0] && strcmp(layer, "null") ? layer : "");
    snprintf(m->color, sizeof m->color, "%s", color);
}

/* ---- the figures ----------------------------------------------------------------------------------- */

typedef struct {
    char name[96];
    char caption[256];
    char *svg; /* owned */
} figure_t;

typedef struct {
    figure_t *f;
    int n, cap;
} figlist;

static clgrad_status fig_add_(figlist *l, const char *name, const char *caption, char *svg, char *why, size_t nwhy)
{
    if (!svg) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory rendering %s", name);
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        figure_t *f = realloc(l->f, (size_t)nc * sizeof *f);
        if (!f) {
            free(svg);
            return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory");
        }
        l->f = f, l->cap = nc;
    }
    figure_t *g = &l->f[l->n++];
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->caption, sizeof g->caption, "%s", caption);
    g->svg = svg;
    return CLGRAD_OK;
}

static void figs_free_(figlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->f[i].svg);
    free(l->f);
    l->f = NULL, l->n = l->cap = 0;
}

/* ---- a run's resolved config (config.ini) ------------------------------------------------------------ */

/* "section.key" -> value, in file order. */
typedef struct {
    size_t n, cap;
    char **key, **val; /* owned */
    int present;       /* the file was there */
} ini_t;

static void ini_free_(ini_t *ini)
{
    for (size_t i = 0; i < ini->n; i++) free(ini->key[i]), free(ini->val[i]);
    free(ini->key), free(ini->val);
    memset(ini, 0, sizeof *ini);
}

static const char *ini_get_(const ini_t *ini, const char *key)
{
    for (size_t i = 0; ini && i < ini->n; i++)
        if (!strcmp(ini->key[i], key)) return ini->val[i];
    return NULL;
}

/* Parse INI text as config.ini writes it ([section], key = value, # comments,
** optional quotes).  -1 on no memory. */
static int ini_parse_(ini_t *ini, const char *text)
{
    ini->present = 1;
    clgrad_ini it;
    clgrad_ini_line l;
    clgrad_ini_begin(&it, text, strlen(text));
    while (clgrad_ini_next(&it, &l)) {
        if (l.kind != CLGRAD_INI_KEY) continue;
        const char *val;
        size_t nval;
        if (clgrad_ini_value(l.value, l.nvalue, &val, &nval, NULL, NULL) == CLGRAD_INI_NO_CLOSE) {
            val = l.value, nval = l.nvalue; /* kept as written */
            clgrad_ini_trim(&val, &nval);
        }
        if (ini->n == ini->cap) {
            size_t nc = ini->cap ? ini->cap * 2 : 64;
            char **nk = realloc(ini->key, nc * sizeof *nk);
            if (!nk) return -1;
            ini->key = nk;
            char **nv = realloc(ini->val, nc * sizeof *nv);
            if (!nv) return -1;
            ini->val = nv, ini->cap = nc;
        }
        char full[200];
        int nf = snprintf(full, sizeof full, "%.*s%s%.*s", l.section ? (int)l.nsection : 0, l.section ? l.section : "",
                          l.section && l.nsection ? "." : "", (int)l.nkey, l.key);
        if (nf < 0 || (size_t)nf >= sizeof full) continue; /* not a key clgrad writes */
        ini->key[ini->n] = strdup(full);
        ini->val[ini->n] = strndup(val, nval);
        if (!ini->key[ini->n] || !ini->val[ini->n]) {
            free(ini->key[ini->n]), free(ini->val[ini->n]);
            return -1;
        }
        ini->n++;
    }
    return 0;
}

/* dir/config.ini; a missing file leaves ini empty (present = 0).  -1 on no memory. */
static int ini_load_(ini_t *ini, const char *dir)
{
    memset(ini, 0, sizeof *ini);
    char path[1200];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    char *text;
    int e = clgrad_fs_read_all(path, 0, 0, &text, NULL);
    if (e == ENOMEM) return -1;
    if (e) return 0;
    int rc = ini_parse_(ini, text);
    free(text);
    return rc;
}

/* clgrad's defaults for a run, written as config.ini would be: the defaults
** of its kinds (data, model, loss, optim, clip: lr, for one, depends on the
** optimizer; the kinds themselves keep the plain defaults), else the plain
** defaults.  -1 on no memory. */
static int ini_defaults_(ini_t *ini, const ini_t *run)
{
    static const char *const kinds[] = {"data", "model", "loss", "optim", "clip"};
    memset(ini, 0, sizeof *ini);
    ini_t plain = {0};
    clgrad_config *cfg = malloc(sizeof *cfg);
    mstream m, m0;
    if (!cfg || ms_open_(&m) != 0) {
        free(cfg);
        return -1;
    }
    if (ms_open_(&m0) != 0) {
        free(cfg), free(ms_close_(&m));
        return -1;
    }
    char text[1024] = "", key[32];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "%s.kind", kinds[i]);
        const char *v = ini_get_(run, key);
        size_t l = strlen(text);
        if (v && v[0] && strlen(v) < 100 && !strpbrk(v, "\"'#;\n"))
            snprintf(text + l, sizeof text - l, "[%s]\nkind = %s\n", kinds[i], v);
    }
    clgrad_config_defaults(cfg);
    clgrad_config_write(cfg, m0.f);
    if (!text[0] || clgrad_config_parse("defaults", text, NULL, 0, cfg, NULL, 0) != 0) clgrad_config_defaults(cfg);
    clgrad_config_write(cfg, m.f);
    free(cfg);
    char *out = ms_close_(&m), *out0 = ms_close_(&m0);
    int rc = out && out0 && ini_parse_(ini, out) == 0 && ini_parse_(&plain, out0) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ini->n; i++) {
        size_t kl = strlen(ini->key[i]);
        const char *v0 = kl > 5 && !strcmp(ini->key[i] + kl - 5, ".kind") ? ini_get_(&plain, ini->key[i]) : NULL;
        char *d = v0 ? strdup(v0) : NULL;
        if (v0 && !d) rc = -1;
        if (d) free(ini->val[i]), ini->val[i] = d;
    }
    free(out), free(out0);
    ini_free_(&plain);
    return rc;
}

/* ---- the figures of runs ----------------------------------------------------------------------------- */

typedef struct {
    double smooth; /* EMA weight of the smoothed loss curve in (0, 1); 0: none */
} plot_opts;

/* Does the run clip its gradients?  config.ini's clip.kind; without a
** config.ini, whether metrics.csv shows a clipping coefficient below 1. */
static int run_clips_(const clgrad_rundata *r, const ini_t *cfg)
{
    const char *k = ini_get_(cfg, "clip.kind");
    if (k) return strcmp(k, "none") != 0;
    int cc = clgrad_csv_col(&r->metrics, "clip_coef");
    for (size_t i = 0; cc >= 0 && i < r->metrics.nrows; i++) {
        double v = clgrad_csv_num(&r->metrics, i, cc);
        if (isfinite(v) && v < 1) return 1;
    }
    return 0;
}

/* Exponential moving average in place: m = w*m + (1-w)*y from the first finite
** value on; a non-finite value stays a gap and does not enter the average. */
static void ema_(series_t *s, double w)
{
    double m = NAN;
    for (size_t i = 0; i < s->n; i++) {
        double y = s->y[i];
        if (!isfinite(y)) {
            s->y[i] = NAN;
            continue;
        }
        m = isnan(m) ? y : w * m + (1 - w) * y;
        s->y[i] = m;
    }
}

static int series_copy_(series_t *dst, const series_t *src)
{
    dst->n = src->n;
    dst->x = malloc((src->n ? src->n : 1) * sizeof *dst->x);
    dst->y = malloc((src->n ? src->n : 1) * sizeof *dst->y);
    if (!dst->x || !dst->y) {
        free(dst->x), free(dst->y);
        dst->x = dst->y = NULL, dst->n = 0;
        return -1;
    }
    if (src->n) memcpy(dst->x, src->x, src->n * sizeof *dst->x), memcpy(dst->y, src->y, src->n * sizeof *dst->y);
    return 0;
}

static char *fig_loss_(const clgrad_rundata *runs, int n, const plot_opts *o)
{
    chart_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    int multi = n > 1, oom = 0;
    double w = o ? o->smooth : 0;
    if (multi) snprintf(c->title, sizeof c->title, "loss (%d runs)", n);
    else snprintf(c->title, sizeof c->title, "loss: %.200s", runs[0].name);
    snprintf(c->xlabel, sizeof c->xlabel, "step");
    snprintf(c->ylabel, sizeof c->ylabel, "loss");
    for (int i = 0; i < n; i++) {
        char lab[160], l1[192], l2[192], lr[192];
        run_label_(runs, n, i, lab, sizeof lab);
        if (multi) {
            snprintf(l1, sizeof l1, w > 0 ? "%s: train (EMA %g)" : "%s: train", lab, w);
            snprintf(lr, sizeof lr, "%s: train (raw)", lab);
            snprintf(l2, sizeof l2, "%s: test", lab);
        } else {
            snprintf(l1, sizeof l1, w > 0 ? "train loss (EMA %g)" : "train loss", w);
            snprintf(lr, sizeof lr, "train loss (raw)");
            snprintf(l2, sizeof l2, "test loss");
        }
        const char *col = multi ? palette[i % 10] : palette[0];
        if (w > 0) { /* the raw curve, faint, behind the smoothed one */
            series_t *raw = chart_add_(c, lr, col, 0);
            if (raw) {
                raw->faint = 1;
                if (take_xy_(raw, &runs[i].metrics, "step", "loss", NULL, NULL) != 0) oom = 1;
                series_t *sm = chart_add_(c, l1, col, 0);
                if (sm && !oom) {
                    if (series_copy_(sm, raw) != 0) oom = 1;
                    else ema_(sm, w);
                }
            }
        } else {
            series_t *s = chart_add_(c, l1, col, 0);
            if (s && take_xy_(s, &runs[i].metrics, "step", "loss", NULL, NULL) != 0) oom = 1;
        }
        series_t *s = chart_add_(c, l2, multi ? col : palette[1], 1);
        if (s) {
            if (take_xy_(s, &runs[i].metrics, "step", "test_loss", NULL, NULL) != 0) oom = 1;
            s->markers = s->n <= 60;
        }
        if (events_series_(c, &runs[i], "loss", multi ? lab : NULL, multi ? col : COLOR_EVENT) != 0) oom = 1;
        divergence_mark_(c, &runs[i], multi ? lab : NULL, multi ? col : COLOR_DIVERGE);
    }
    c->ylog = auto_log_(c);
    if (c->ylog) snprintf(c->ylabel, sizeof c->ylabel, "loss (log scale)");
    char *svg = oom ? NULL : chart_svg_(c);
    chart_free_(c);
    free(c);
    return svg;
}

/* clips[i]: run i clips its gradients (only then an "after clipping" curve). */
static char *fig_grad_norm_(const clgrad_rundata *runs, int n, const int *clips)
{
    chart_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    int multi = n > 1, oom = 0;
    if (multi) snprintf(c->title, sizeof c->title, "global gradient norm (%d runs)", n);
    else snprintf(c->title, sizeof c->title, "global gradient norm: %.200s", runs[0].name);
    snprintf(c->xlabel, sizeof c->xlabel, "step");
    snprintf(c->ylabel, sizeof c->ylabel, "||g|| (log scale)");
    c->ylog = 1;
    for (int i = 0; i < n; i++) {
        char lab[160], l1[192], l2[192];
        run_label_(runs, n, i, lab, sizeof lab);
        if (multi) {
            snprintf(l1, sizeof l1, clips[i] ? "%s: before clip" : "%s (no clipping)", lab);
            snprintf(l2, sizeof l2, "%s: after clip", lab);
        } else {
            snprintf(l1, sizeof l1, clips[i] ? "before clipping" : "||g|| (no clipping)");
            snprintf(l2, sizeof l2, "after clipping");
        }
        const char *col = multi ? palette[i % 10] : palette[0];
        series_t *s = chart_add_(c, l1, col, 0);
        if (s && take_xy_(s, &runs[i].metrics, "step", "grad_norm", NULL, NULL) != 0) oom = 1;
        if (clips[i]) {
            s = chart_add_(c, l2, multi ? col : palette[1], 1);
            if (s && take_xy_(s, &runs[i].metrics, "step", "grad_norm_clipped", NULL, NULL) != 0) oom = 1;
        }
        if (events_series_(c, &runs[i], "grad_norm", multi ? lab : NULL, multi ? col : COLOR_EVENT) != 0) oom = 1;
        divergence_mark_(c, &runs[i], multi ? lab : NULL, multi ? col : COLOR_DIVERGE);
    }
    char *svg = oom ? NULL : chart_svg_(c);
    chart_free_(c);
    free(c);
    return svg;
}

/* The sharpness of each run against its stability limit (Cohen et al. 2021;
** 2022): `col` (sharpness or precond_sharpness) solid, `lim` (sharpness_limit
** or precond_limit) dashed; NULL when no run has the column. */
static char *fig_sharpness_(const clgrad_rundata *runs, int n, const char *col, const char *lim, const char *what,
                            const char *limwhat, int *absent)
{
    *absent = 1;
    for (int i = 0; i < n; i++)
        if (clgrad_csv_col(&runs[i].metrics, col) >= 0) *absent = 0;
    if (*absent) return NULL;
    chart_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    int multi = n > 1, oom = 0;
    if (multi) snprintf(c->title, sizeof c->title, "%s vs its limit (%d runs)", what, n);
    else snprintf(c->title, sizeof c->title, "%s vs its limit: %.200s", what, runs[0].name);
    snprintf(c->xlabel, sizeof c->xlabel, "step");
    snprintf(c->ylabel, sizeof c->ylabel, "%s", what);
    for (int i = 0; i < n; i++) {
        if (clgrad_csv_col(&runs[i].metrics, col) < 0) continue;
        char lab[160], l1[192], l2[192];
        run_label_(runs, n, i, lab, sizeof lab);
        if (multi) {
            snprintf(l1, sizeof l1, "%s: %s", lab, what);
            snprintf(l2, sizeof l2, "%s: %s", lab, limwhat);
        } else {
            snprintf(l1, sizeof l1, "%s", what);
            snprintf(l2, sizeof l2, "%s", limwhat);
        }
        const char *color = multi ? palette[i % 10] : palette[0];
        series_t *s = chart_add_(c, l1, color, 0);
        if (s) {
            if (take_xy_(s, &runs[i].metrics, "step", col, NULL, NULL) != 0) oom = 1;
            s->markers = s->n <= 60;
        }
        s = chart_add_(c, l2, multi ? color : palette[3], 1);
        if (s && take_xy_(s, &runs[i].metrics, "step", lim, NULL, NULL) != 0) oom = 1;
        divergence_mark_(c, &runs[i], multi ? lab : NULL, multi ? color : COLOR_DIVERGE);
    }
    c->ylog = auto_log_(c);
    if (c->ylog) snprintf(c->ylabel, sizeof c->ylabel, "%s (log scale)", what);
    char *svg = oom ? NULL : chart_svg_(c);
    chart_free_(c);
    free(c);
    return svg;
}

static void chart_del_(chart_t *c)
{
    if (c) chart_free_(c);
    free(c);
}

/* Per-layer ||dL/dh|| of one run (a chart to render once its y range is known); NULL on no memory. */
static chart_t *layers_chart_(const clgrad_rundata *r)
{
    chart_t *c = calloc(1, sizeof *c);
    size_t nl = 0;
    const char **names = clgrad_rundata_layers(r, &nl);
    int oom = !c || !names;
    if (oom) goto out;
    snprintf(c->title, sizeof c->title, "per-layer gradient norm ||dL/dh||: %.180s", r->name);
    snprintf(c->xlabel, sizeof c->xlabel, "step");
    snprintf(c->ylabel, sizeof c->ylabel, "out_grad_norm (log scale)");
    c->ylog = 1;
    for (size_t i = 0; i < nl; i++) {
        char col[8], lab[192];
        viridis_(nl > 1 ? 0.92 * (double)i / (double)(nl - 1) : 0, col);
        snprintf(lab, sizeof lab, "layer %.150s", names[i]);
        series_t *s = chart_add_(c, lab, col, 0);
        if (s && take_xy_(s, &r->layers, "step", "out_grad_norm", "layer", names[i]) != 0) oom = 1;
    }
    divergence_mark_(c, r, NULL, COLOR_DIVERGE);
out:
    free(names);
    if (oom) chart_del_(c), c = NULL;
    return c;
}

#define TIMESTEP_CURVES 6

/* ||dL/dh_t|| (col "grad_norm") or ||dL/dc_t|| (col "cell_grad_norm") over t at a few
** logged steps; sym names the quantity.  NULL on no memory. */
static chart_t *timesteps_chart_(const clgrad_rundata *r, const char *col, const char *sym)
{
    chart_t *c = calloc(1, sizeof *c);
    size_t ns = 0;
    int cs = clgrad_csv_col(&r->timesteps, "step");
    double *steps = distinct_(&r->timesteps, cs, &ns);
    int oom = !c || !steps;
    if (oom) goto out;
    snprintf(c->title, sizeof c->title, "%s over time: %.200s", sym, r->name);
    snprintf(c->xlabel, sizeof c->xlabel, "t (time step)");
    snprintf(c->ylabel, sizeof c->ylabel, "%s (log scale)", sym);
    c->ylog = 1;
    size_t k = ns < TIMESTEP_CURVES ? ns : TIMESTEP_CURVES;
    int ct = clgrad_csv_col(&r->timesteps, "t"), cg = clgrad_csv_col(&r->timesteps, col);
    for (size_t i = 0; i < k; i++) {
        size_t idx = k > 1 ? (size_t)llround((double)i * (double)(ns - 1) / (double)(k - 1)) : 0;
        char colr[8], lab[64];
        viridis_(k > 1 ? 0.92 * (double)i / (double)(k - 1) : 0, colr);
        snprintf(lab, sizeof lab, "step %.0f", steps[idx]);
        series_t *s = chart_add_(c, lab, colr, 0);
        if (!s) break;
        /* the rows of this step, sorted by t */
        size_t m = 0;
        s->x = malloc((r->timesteps.nrows + 1) * sizeof *s->x);
        s->y = malloc((r->timesteps.nrows + 1) * sizeof *s->y);
        xy_t *p = malloc((r->timesteps.nrows + 1) * sizeof *p);
        if (!s->x || !s->y || !p) {
            free(p);
            oom = 1;
            break;
        }
        for (size_t row = 0; row < r->timesteps.nrows; row++) {
            if (clgrad_csv_num(&r->timesteps, row, cs) != steps[idx]) continue;
            if (!clgrad_csv_present(&r->timesteps, row, cg) || !isfinite(clgrad_csv_num(&r->timesteps, row, ct)))
                continue;
            p[m].x = clgrad_csv_num(&r->timesteps, row, ct), p[m].y = clgrad_csv_num(&r->timesteps, row, cg);
            m++;
        }
        qsort(p, m, sizeof *p, xy_cmp_);
        for (size_t q = 0; q < m; q++) s->x[q] = p[q].x, s->y[q] = p[q].y;
        s->n = m;
        free(p);
    }
out:
    free(steps);
    if (oom) chart_del_(c), c = NULL;
    return c;
}

/* One y range (and underflow band) for charts of one kind across runs. */
static void share_y_(chart_t **cs, int n)
{
    double lo = INFINITY, hi = -INFINITY;
    int zeros = 0;
    for (int i = 0; i < n; i++)
        if (cs[i]) chart_range_(cs[i], &lo, &hi, &zeros);
    for (int i = 0; i < n; i++) {
        if (!cs[i]) continue;
        if (lo <= hi) cs[i]->yfixed = 1, cs[i]->ylo = lo, cs[i]->yhi = hi;
        cs[i]->zero_band = zeros;
    }
}

/* ---- heat maps of runs ---------------------------------------------------------------------------------- */

#define HEAT_MAX_COLS 400
#define TS_HEAT_MAX_COLS 200
#define TS_HEAT_MAX_ROWS 100

/* Allocate hm's cells (all CELL_MISSING) and the accumulators. */
static int heat_alloc_(heat_t *hm, size_t nr, size_t nc, double **sum, unsigned **cnt, unsigned **nz)
{
    size_t n = nr * nc > 0 ? nr * nc : 1;
    hm->nrows = nr, hm->ncols = nc;
    hm->xs = calloc(nc ? nc : 1, sizeof *hm->xs);
    hm->z = calloc(n, sizeof *hm->z);
    hm->state = calloc(n, 1);
    *sum = calloc(n, sizeof **sum);
    *cnt = calloc(n, sizeof **cnt);
    *nz = calloc(n, sizeof **nz);
    if (!hm->xs || !hm->z || !hm->state || !*sum || !*cnt || !*nz) return -1;
    for (size_t i = 0; i < nr * nc; i++) hm->state[i] = CELL_MISSING;
    return 0;
}

/* One value into cell idx: log10 of positive values averaged; a non-finite
** value marks the cell for good; zeros are counted (an all-zero cell is CELL_ZERO). */
static void heat_put_(heat_t *hm, double *sum, unsigned *cnt, unsigned *nz, size_t idx, double v)
{
    if (!isfinite(v)) hm->state[idx] = CELL_NONFINITE;
    else if (hm->state[idx] == CELL_NONFINITE) return;
    else if (v > 0) sum[idx] += log10(v), cnt[idx]++, hm->state[idx] = CELL_VALUE;
    else if (v == 0) nz[idx]++;
}

static void heat_finish_(heat_t *hm, const double *sum, const unsigned *cnt, const unsigned *nz)
{
    for (size_t i = 0; i < hm->nrows * hm->ncols; i++) {
        hm->z[i] = cnt[i] ? sum[i] / cnt[i] : NAN;
        if (hm->state[i] == CELL_MISSING && nz[i]) hm->state[i] = CELL_ZERO;
    }
}

/* Columns: the logged steps, binned to at most maxcols; centres into hm->xs. */
static size_t step_bins_(heat_t *hm, const double *steps, size_t ns, size_t bin)
{
    size_t nc = hm->ncols;
    for (size_t j = 0; j < nc; j++) {
        size_t a = j * bin, b = a + bin < ns ? a + bin : ns;
        double m = 0;
        for (size_t k = a; k < b; k++) m += steps[k];
        hm->xs[j] = m / (double)(b - a);
    }
    return nc;
}

/* Layer x step heat map of log10 out_grad_norm.  -1 on no memory. */
static int layers_heat_(const clgrad_rundata *r, heat_t *hm)
{
    memset(hm, 0, sizeof *hm);
    size_t nl = 0, ns = 0;
    const char **names = clgrad_rundata_layers(r, &nl);
    int cs = clgrad_csv_col(&r->layers, "step"), cl = clgrad_csv_col(&r->layers, "layer");
    int cg = clgrad_csv_col(&r->layers, "out_grad_norm");
    double *steps = names ? distinct_(&r->layers, cs, &ns) : NULL;
    double *sum = NULL;
    unsigned *cnt = NULL, *nz = NULL;
    int rc = -1;
    hm->rowlabel = names;
    if (!names || !steps) goto out;
    size_t bin = ns > HEAT_MAX_COLS ? (ns + HEAT_MAX_COLS - 1) / HEAT_MAX_COLS : 1;
    size_t nc = (ns + bin - 1) / bin;
    snprintf(hm->title, sizeof hm->title, "log10 ||dL/dh|| per layer and step: %.180s", r->name);
    snprintf(hm->xlabel, sizeof hm->xlabel, bin > 1 ? "step (mean of %zu logged steps per column)" : "step", bin);
    snprintf(hm->ylabel, sizeof hm->ylabel, "layer (input at the top)");
    snprintf(hm->zlabel, sizeof hm->zlabel, "log10 out_grad_norm");
    if (heat_alloc_(hm, nl, nc, &sum, &cnt, &nz) != 0) goto out;
    step_bins_(hm, steps, ns, bin);
    for (size_t row = 0; row < r->layers.nrows; row++) {
        double st = clgrad_csv_num(&r->layers, row, cs);
        if (!isfinite(st) || !clgrad_csv_present(&r->layers, row, cg)) continue;
        const double *p = bsearch(&st, steps, ns, sizeof *steps, dcmp_);
        if (!p) continue;
        size_t j = (size_t)(p - steps) / bin, li = 0;
        const char *ln = clgrad_csv_text(&r->layers, row, cl);
        while (li < nl && strcmp(names[li], ln) != 0) li++;
        if (li == nl) continue;
        heat_put_(hm, sum, cnt, nz, li * nc + j, clgrad_csv_num(&r->layers, row, cg));
    }
    heat_finish_(hm, sum, cnt, nz);
    rc = 0;
out:
    free(sum), free(cnt), free(nz), free(steps);
    return rc;
}

/* Time step x training step heat map of log10 of timesteps.csv's column col
** (sym names it).  Rows t = 1 (top) ... T, binned to at most TS_HEAT_MAX_ROWS.
** -1 on no memory. */
static int ts_heat_(const clgrad_rundata *r, const char *col, const char *sym, heat_t *hm)
{
    memset(hm, 0, sizeof *hm);
    const clgrad_csv *t = &r->timesteps;
    size_t ns = 0, nt = 0;
    int cs = clgrad_csv_col(t, "step"), ct = clgrad_csv_col(t, "t"), cg = clgrad_csv_col(t, col);
    double *steps = distinct_(t, cs, &ns), *ts = distinct_(t, ct, &nt);
    double *sum = NULL;
    unsigned *cnt = NULL, *nz = NULL;
    int rc = -1;
    if (!steps || !ts) goto out;
    size_t bin = ns > TS_HEAT_MAX_COLS ? (ns + TS_HEAT_MAX_COLS - 1) / TS_HEAT_MAX_COLS : 1;
    size_t rbin = nt > TS_HEAT_MAX_ROWS ? (nt + TS_HEAT_MAX_ROWS - 1) / TS_HEAT_MAX_ROWS : 1;
    size_t nc = (ns + bin - 1) / bin, nr = (nt + rbin - 1) / rbin;
    snprintf(hm->title, sizeof hm->title, "log10 %s per time step and training step: %.160s", sym, r->name);
    snprintf(hm->xlabel, sizeof hm->xlabel, bin > 1 ? "training step (mean of %zu logged steps per column)"
                                                    : "training step", bin);
    snprintf(hm->ylabel, sizeof hm->ylabel, rbin > 1 ? "time step t (%zu per row; t = 1 at the top)"
                                                     : "time step t (t = 1 at the top)", rbin);
    snprintf(hm->zlabel, sizeof hm->zlabel, "log10 %s", sym);
    if (heat_alloc_(hm, nr, nc, &sum, &cnt, &nz) != 0) goto out;
    hm->rowtext = calloc(nr ? nr : 1, sizeof *hm->rowtext);
    hm->rowlabel = calloc(nr ? nr : 1, sizeof *hm->rowlabel);
    if (!hm->rowtext || !hm->rowlabel) goto out;
    for (size_t i = 0; i < nr; i++) {
        char b[48];
        snprintf(b, sizeof b, "t=%.0f", ts[i * rbin]);
        if (!(hm->rowtext[i] = strdup(b))) goto out;
        hm->rowlabel[i] = hm->rowtext[i];
    }
    step_bins_(hm, steps, ns, bin);
    for (size_t row = 0; cg >= 0 && row < t->nrows; row++) {
        double st = clgrad_csv_num(t, row, cs), tv = clgrad_csv_num(t, row, ct);
        if (!isfinite(st) || !isfinite(tv) || !clgrad_csv_present(t, row, cg)) continue;
        const double *p = bsearch(&st, steps, ns, sizeof *steps, dcmp_);
        const double *q = bsearch(&tv, ts, nt, sizeof *ts, dcmp_);
        if (!p || !q) continue;
        size_t j = (size_t)(p - steps) / bin, i = (size_t)(q - ts) / rbin;
        heat_put_(hm, sum, cnt, nz, i * nc + j, clgrad_csv_num(t, row, cg));
    }
    heat_finish_(hm, sum, cnt, nz);
    rc = 0;
out:
    free(sum), free(cnt), free(nz), free(steps), free(ts);
    return rc;
}

/* The histogram bins shown as rows, top to bottom, into show (cnt: nc columns of
** CLGRAD_HIST_NBINS counts); their number. */
static int hist_rows_(const double *cnt, size_t nc, int *show)
{
    enum { NB = CLGRAD_HIST_NBINS };
    int used[NB] = {0}, lo = NB, hi = -1, nr = 0;
    for (size_t j = 0; j < nc; j++)
        for (int b = 0; b < NB; b++) used[b] |= cnt[j * NB + (size_t)b] > 0;
    for (int b = 2; b < NB - 2; b++)
        if (used[b]) lo = b < lo ? b : lo, hi = b;
    if (hi >= 0) lo = lo > 2 ? lo - 1 : lo, hi = hi < NB - 3 ? hi + 1 : hi;
    if (used[NB - 1]) show[nr++] = NB - 1;
    if (used[NB - 2]) show[nr++] = NB - 2;
    for (int b = hi; hi >= 0 && b >= lo; b--) show[nr++] = b;
    if (used[1]) show[nr++] = 1;
    if (used[0]) show[nr++] = 0;
    return nr;
}

/* Bin x step heat map of histograms.csv for one layer and tensor kind
** ("weight", "grad": the layer's weight matrices, biases left out, their
** counts added; "act": its output): colour = log10 of the fraction of the
** entries in the bin (over the steps of a column when steps are binned).
** Rows: the largest magnitudes at the top; the power-of-two bins between the
** smallest and the largest non-empty one (one more on each side), the zero,
** underflow, overflow and non-finite bins only when non-empty somewhere.
** Returns 1 with a map, 0 when the run has no such rows, -1 on no memory. */
static int hist_heat_(const clgrad_rundata *r, const char *layer, const char *tensor, heat_t *hm)
{
    memset(hm, 0, sizeof *hm);
    const clgrad_csv *t = &r->histograms;
    enum { NB = CLGRAD_HIST_NBINS };
    int cs = clgrad_csv_col(t, "step"), cl = clgrad_csv_col(t, "layer"), ct = clgrad_csv_col(t, "tensor");
    int cp = clgrad_csv_col(t, "param"), cb[NB];
    for (int b = 0; b < NB; b++) {
        char nm[32];
        clgrad_hist_bin_name(b, nm, sizeof nm);
        if ((cb[b] = clgrad_csv_col(t, nm)) < 0) return 0; /* not the bins this version writes */
    }
    size_t ns = 0;
    double *steps = distinct_(t, cs, &ns), *cnt = NULL, *tot = NULL;
    int rc = -1;
    if (!steps) goto out;
    size_t bin = ns > HEAT_MAX_COLS ? (ns + HEAT_MAX_COLS - 1) / HEAT_MAX_COLS : 1, nc = (ns + bin - 1) / bin;
    cnt = calloc((nc ? nc : 1) * NB, sizeof *cnt), tot = calloc(nc ? nc : 1, sizeof *tot);
    if (!cnt || !tot) goto out;
    int any = 0;
    for (size_t row = 0; row < t->nrows; row++) {
        if (strcmp(clgrad_csv_text(t, row, cl), layer) != 0 || strcmp(clgrad_csv_text(t, row, ct), tensor) != 0) continue;
        if (strcmp(tensor, "act") != 0 && strstr(clgrad_csv_text(t, row, cp), "bias")) continue;
        double st = clgrad_csv_num(t, row, cs);
        const double *p = isfinite(st) ? bsearch(&st, steps, ns, sizeof *steps, dcmp_) : NULL;
        if (!p) continue;
        size_t j = (size_t)(p - steps) / bin;
        for (int b = 0; b < NB; b++) {
            double v = clgrad_csv_num(t, row, cb[b]);
            if (isfinite(v) && v > 0) cnt[j * NB + (size_t)b] += v, tot[j] += v;
        }
        any = 1;
    }
    if (!any) {
        rc = 0;
        goto out;
    }
    /* the rows shown, top to bottom */
    int show[NB], nr = hist_rows_(cnt, nc, show);
    double *sum = NULL;
    unsigned *c1 = NULL, *nz = NULL;
    if (heat_alloc_(hm, (size_t)nr, nc, &sum, &c1, &nz) != 0) {
        free(sum), free(c1), free(nz);
        goto out;
    }
    free(sum), free(c1), free(nz);
    hm->rowtext = calloc((size_t)nr ? (size_t)nr : 1, sizeof *hm->rowtext);
    hm->rowlabel = calloc((size_t)nr ? (size_t)nr : 1, sizeof *hm->rowlabel);
    if (!hm->rowtext || !hm->rowlabel) goto out;
    for (int i = 0; i < nr; i++) {
        char nm[32];
        clgrad_hist_bin_name(show[i], nm, sizeof nm);
        if (!(hm->rowtext[i] = strdup(nm))) goto out;
        hm->rowlabel[i] = hm->rowtext[i];
    }
    step_bins_(hm, steps, ns, bin);
    for (int i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++) {
            size_t k = (size_t)i * nc + j;
            double c = cnt[j * NB + (size_t)show[i]];
            if (!(tot[j] > 0)) continue; /* CELL_MISSING: not logged */
            hm->state[k] = c > 0 ? CELL_VALUE : CELL_EMPTY;
            hm->z[k] = c > 0 ? log10(c / tot[j]) : NAN;
        }
    snprintf(hm->title, sizeof hm->title, "%s %s: log-magnitude histogram per step: %.160s", layer,
             strcmp(tensor, "act") == 0 ? "output" : strcmp(tensor, "grad") == 0 ? "weight gradient" : "weights",
             r->name);
    snprintf(hm->xlabel, sizeof hm->xlabel, bin > 1 ? "step (%zu logged steps per column)" : "step", bin);
    snprintf(hm->ylabel, sizeof hm->ylabel, "|x| bin (2^e: [2^e, 2^(e+1)))");
    snprintf(hm->zlabel, sizeof hm->zlabel, "log10 fraction of entries");
    rc = 1;
out:
    if (rc < 0) heat_free_(hm);
    free(steps), free(cnt), free(tot);
    return rc;
}

/* The distinct layer names of histograms.csv in the order of first appearance
** (malloc'd array of pointers into t; NULL on no memory). */
static const char **hist_layers_(const clgrad_csv *t, size_t *n) { return clgrad_csv_distinct(t, "layer", n); }

/* A file-name-safe copy of a layer name. */
static void safe_name_(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        char ch = s[i];
        out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                         ch == '-' || ch == '.'
                     ? ch
                     : '_';
    }
    out[i] = 0;
}

/* One colour range for the heat maps of one quantity across runs. */
static void share_z_(heat_t **hs, int n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; hs[i]->state && k < hs[i]->nrows * hs[i]->ncols; k++)
            if (hs[i]->state[k] == CELL_VALUE && isfinite(hs[i]->z[k]))
                lo = fmin(lo, hs[i]->z[k]), hi = fmax(hi, hs[i]->z[k]);
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    for (int i = 0; i < n; i++) hs[i]->zfixed = 1, hs[i]->zlo = lo, hs[i]->zhi = hi;
}

/* ---- report.html -------------------------------------------------------------------------------------- */

/* A summary.json value as the report shows it: numbers with 6 significant
** digits, strings as written ("nan", "inf" included), "-" when absent.  A null
** (how a non-finite value may be written) shows the kind recorded beside it
** (KEY_kind, KEY_nonfinite, or nonfinite.KEY) when there is one. */
static void html_jval_(FILE *f, const clgrad_json *obj, const char *key)
{
    const clgrad_json *v = clgrad_json_member(obj, key);
    char b[512];
    if (!v) {
        fputs("-", f);
        return;
    }
    if (v->type == CLGRAD_JSON_NUMBER) {
        snprintf(b, sizeof b, "%.6g", v->num);
        fputs(b, f);
    } else if (v->type == CLGRAD_JSON_NULL) {
        char k2[160];
        const clgrad_json *kind = NULL;
        snprintf(k2, sizeof k2, "%s_kind", key);
        kind = clgrad_json_member(obj, k2);
        if (!kind) snprintf(k2, sizeof k2, "%s_nonfinite", key), kind = clgrad_json_member(obj, k2);
        if (!kind) kind = clgrad_json_member(clgrad_json_member(obj, "nonfinite"), key);
        if (kind && kind->type != CLGRAD_JSON_NULL) esc_(f, clgrad_json_text(kind, b, sizeof b));
        else fputs("-", f);
    } else {
        esc_(f, clgrad_json_text(v, b, sizeof b));
    }
}

static const char *html_head_ =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>%s</title>\n"
    "<style>\n"
    "body { font-family: DejaVu Sans, Arial, Helvetica, sans-serif; margin: 24px; color: #222; }\n"
    "table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 13px; }\n"
    "th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }\n"
    "th { background: #f2f2f2; }\n"
    "td.differs, tr.differs td { background: #fff1a8; font-weight: bold; }\n"
    "details { margin: 8px 0; }\n"
    "summary { cursor: pointer; color: #135; }\n"
    "figure { margin: 12px 0 28px 0; }\n"
    "figure svg { max-width: 100%%; height: auto; border: 1px solid #eee; }\n"
    "figcaption { font-size: 13px; color: #555; }\n"
    ".status-diverged, .status-failed, .status-interrupted { color: #b00; font-weight: bold; }\n"
    ".status-completed { color: #070; font-weight: bold; }\n"
    "table.sortable th { cursor: pointer; user-select: none; }\n"
    "</style>\n</head>\n<body>\n";

/* Rows "key | value" for every scalar of obj, nested objects flattened with dots. */
static void html_rows_(FILE *f, const clgrad_json *obj, const char *prefix)
{
    for (size_t i = 0; obj && obj->type == CLGRAD_JSON_OBJECT && i < obj->n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", obj->keys[i]);
        const clgrad_json *v = &obj->items[i];
        if (v->type == CLGRAD_JSON_OBJECT && v->n > 0) {
            html_rows_(f, v, key);
            continue;
        }
        fputs("<tr><th>", f), esc_(f, key), fputs("</th><td>", f);
        if (v->type == CLGRAD_JSON_ARRAY) {
            for (size_t k = 0; k < v->n; k++) {
                char b[512];
                if (k) fputs(", ", f);
                esc_(f, clgrad_json_text(&v->items[k], b, sizeof b));
            }
        } else {
            char b[2048];
            esc_(f, clgrad_json_text(v, b, sizeof b));
        }
        fputs("</td></tr>\n", f);
    }
}

static void html_figures_(FILE *f, const figlist *figs)
{
    fputs("<h2 id=\"figures\">Figures</h2>\n", f);
    for (int i = 0; i < figs->n; i++) {
        /* an anchor per figure: report.html#fig-lr_sensitivity (the file name less .svg) */
        size_t nl = strlen(figs->f[i].name);
        if (nl > 4 && !strcmp(figs->f[i].name + nl - 4, ".svg")) nl -= 4;
        fprintf(f, "<figure id=\"fig-%.*s\">\n", (int)nl, figs->f[i].name);
        fputs(figs->f[i].svg, f);
        fputs("<figcaption>", f), esc_(f, figs->f[i].name), fputs(": ", f), esc_(f, figs->f[i].caption);
        fputs("</figcaption>\n</figure>\n", f);
    }
}

static void html_runhead_(FILE *f, const clgrad_rundata *runs, int n, int i)
{
    if (n > 1) fprintf(f, "Run %d: ", i + 1);
    esc_(f, runs[i].name);
}

/* The union of the runs' config keys in first-seen order (*keysp, *nkp); 0, or -1 on no memory (*keysp still to free). */
static int settings_keys_(const ini_t *cfg, int n, const char ***keysp, size_t *nkp)
{
    size_t nk = 0, cap = 0;
    const char **keys = NULL;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        for (size_t k = 0; k < cfg[i].n && !rc; k++) {
            size_t j = 0;
            while (j < nk && strcmp(keys[j], cfg[i].key[k])) j++;
            if (j < nk) continue;
            if (nk == cap) {
                size_t nc = cap ? cap * 2 : 128;
                const char **nkeys = realloc(keys, nc * sizeof *nkeys);
                if (!nkeys) {
                    rc = -1;
                    continue;
                }
                keys = nkeys, cap = nc;
            }
            keys[nk++] = cfg[i].key[k];
        }
    *keysp = keys, *nkp = nk;
    return rc;
}

/* One settings table: pass 0 the keys that differ (diff), with the defaults for one run; pass 1 all, folded. */
static void settings_table_(FILE *f, const clgrad_rundata *runs, int n, const ini_t *cfg, const ini_t *defaults,
                            const char **keys, size_t nk, const unsigned char *diff, int pass)
{
    if (pass == 1)
        fprintf(f, "<details class=\"config\"><summary>Full resolved configuration (config.ini, %zu keys)</summary>\n",
                nk);
    fprintf(f, "<table class=\"%s\">\n<tr><th>key</th>", pass ? "config-full" : "settings");
    for (int i = 0; i < n; i++) {
        fputs("<th>", f);
        if (n > 1) html_runhead_(f, runs, n, i);
        else fputs(pass ? "value" : "value (default)", f);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t j = 0; j < nk; j++) {
        if (pass == 0 && !diff[j]) continue;
        fputs(pass && diff[j] && n > 1 ? "<tr class=\"differs\"><th>" : "<tr><th>", f);
        esc_(f, keys[j]), fputs("</th>", f);
        for (int i = 0; i < n; i++) {
            const char *v = ini_get_(&cfg[i], keys[j]);
            fputs(pass == 0 ? "<td class=\"differs\">" : "<td>", f);
            esc_(f, v ? v : "-");
            if (pass == 0 && n == 1) {
                const char *d = ini_get_(defaults, keys[j]);
                fputs(" (", f), esc_(f, d ? d : "-"), fputs(")", f);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (pass == 1) fputs("</details>\n", f);
}

/* Settings: one run: the keys that differ from clgrad's defaults; several:
** the keys whose values differ between the runs, highlighted.  Then the full
** resolved configuration, folded. */
static void html_settings_(FILE *f, const clgrad_rundata *runs, int n, const ini_t *cfg, const ini_t *defaults)
{
    fputs("<h2 id=\"settings\">Settings</h2>\n", f);
    /* the union of keys in first-seen order */
    size_t nk = 0;
    const char **keys = NULL;
    if (settings_keys_(cfg, n, &keys, &nk)) goto out;
    int nocfg = 0;
    for (int i = 0; i < n; i++) nocfg += !cfg[i].present;
    if (nocfg == n) {
        fputs("<p>No config.ini in the run director", f), fputs(n > 1 ? "ies" : "y", f), fputs(".</p>\n", f);
        goto out;
    }
    if (nocfg) {
        fputs("<p>No config.ini in:", f);
        for (int i = 0; i < n; i++)
            if (!cfg[i].present) fputs(" ", f), html_runhead_(f, runs, n, i);
        fputs(".</p>\n", f);
    }
    /* which keys differ */
    unsigned char *diff = calloc(nk ? nk : 1, 1);
    if (!diff) goto out;
    size_t ndiff = 0;
    for (size_t j = 0; j < nk; j++) {
        if (n == 1) { /* the name is the report's title */
            const char *v = ini_get_(&cfg[0], keys[j]), *d = ini_get_(defaults, keys[j]);
            diff[j] = strcmp(keys[j], "run.name") && (!d || !v || strcmp(v, d) != 0);
        } else {
            const char *v0 = ini_get_(&cfg[0], keys[j]);
            for (int i = 1; i < n && !diff[j]; i++) {
                const char *v = ini_get_(&cfg[i], keys[j]);
                diff[j] = (!v0) != (!v) || (v && v0 && strcmp(v, v0));
            }
        }
        ndiff += diff[j];
    }
    if (n == 1)
        fputs("<p>The settings of this run that differ from clgrad's defaults (<code>clgrad keys</code>); every "
              "key is in the full configuration below.</p>\n",
              f);
    else if (ndiff)
        fprintf(f, "<p>%zu of %zu settings differ between the runs (highlighted); the others are the same in "
                   "every run (full configuration below).</p>\n",
                ndiff, nk);
    else
        fprintf(f, "<p>The %d runs have the same resolved configuration (%zu keys).</p>\n", n, nk);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0 && !ndiff) continue;
        settings_table_(f, runs, n, cfg, defaults, keys, nk, diff, pass);
    }
    free(diff);
out:
    free(keys);
}

/* The outcome of each run: status, divergence, final losses. */
static void html_outcome_(FILE *f, const clgrad_rundata *runs, int n)
{
    fputs("<h2 id=\"outcome\">Outcome</h2>\n<table class=\"outcome\">\n<tr><th>run</th><th>status</th>"
          "<th>steps done / planned</th><th>diverged at step</th><th>divergence kind</th><th>layer</th>"
          "<th>value</th><th>final train loss</th><th>final test loss</th><th>final test accuracy</th>"
          "<th>max ||g||</th><th>ms per step</th></tr>\n",
          f);
    for (int i = 0; i < n; i++) {
        const clgrad_rundata *r = &runs[i];
        const char *status = clgrad_rundata_status(r);
        const clgrad_json *s = r->summary, *d = clgrad_rundata_divergence(r);
        fputs("<tr><td>", f), html_runhead_(f, runs, n, i);
        fputs("</td><td class=\"status-", f), esc_(f, status), fputs("\">", f), esc_(f, status), fputs("</td><td>", f);
        html_jval_(f, s, "steps_done"), fputs(" / ", f), html_jval_(f, s, "steps_planned"), fputs("</td>", f);
        static const char *const dk[] = {"step", "kind", "layer", "value"};
        for (int k = 0; k < 4; k++) {
            fputs(d ? "<td class=\"differs\">" : "<td>", f);
            if (d) html_jval_(f, d, dk[k]);
            else fputs("-", f);
            fputs("</td>", f);
        }
        static const char *const sk[] = {"final_train_loss", "final_test_loss", "final_test_accuracy",
                                         "max_grad_norm", "ms_per_step"};
        for (int k = 0; k < 5; k++) fputs("<td>", f), html_jval_(f, s, sk[k]), fputs("</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    for (int i = 0; i < n; i++)
        if (!runs[i].summary) {
            fputs("<p>No summary.json in ", f), html_runhead_(f, runs, n, i);
            fputs(" (the run did not finish writing it).</p>\n", f);
        }
}

/* The spike detector's events of each run (events.csv), a table per run (the first MAX_EVENT_ROWS rows). */
#define MAX_EVENT_ROWS 200
static void html_events_(FILE *f, const clgrad_rundata *runs, int n)
{
    fputs("<h2 id=\"events\">Spike events</h2>\n<p>From each run's <code>events.csv</code>: a logged value whose "
          "z-score against its exponential-moving-average baseline exceeds <code>[metrics] spike_z</code> (loss, "
          "global gradient norm, each layer's update norm ‖Δw‖; upward only; see the README). Events of the "
          "loss and of the gradient norm are marked with triangles on their figures.</p>\n",
          f);
    for (int i = 0; i < n; i++) {
        const clgrad_rundata *r = &runs[i];
        const clgrad_csv *t = &r->events;
        if (n > 1) fputs("<h3>", f), html_runhead_(f, runs, n, i), fputs("</h3>\n", f);
        if (!r->has_events) {
            fputs("<p>No events.csv (a run written before spike detection existed).</p>\n", f);
            continue;
        }
        if (t->nrows == 0) {
            fputs("<p class=\"noevents\">No spike events.</p>\n", f);
            continue;
        }
        int cs = clgrad_csv_col(t, "step"), cm = clgrad_csv_col(t, "metric"), cl = clgrad_csv_col(t, "layer");
        int cv = clgrad_csv_col(t, "value"), cz = clgrad_csv_col(t, "z");
        long first = (long)clgrad_csv_num(t, 0, cs);
        fprintf(f, "<p>%zu event%s, the first at step %ld.</p>\n", t->nrows, t->nrows == 1 ? "" : "s", first);
        fputs("<table class=\"events\">\n<tr><th>step</th><th>metric</th><th>layer</th><th>value</th><th>z</th></tr>\n", f);
        for (size_t k = 0; k < t->nrows && k < MAX_EVENT_ROWS; k++) {
            fputs("<tr><td>", f), esc_(f, clgrad_csv_text(t, k, cs));
            fputs("</td><td>", f), esc_(f, clgrad_csv_text(t, k, cm));
            fputs("</td><td>", f), esc_(f, clgrad_csv_text(t, k, cl));
            fputs("</td><td>", f), esc_(f, clgrad_csv_text(t, k, cv));
            fputs("</td><td>", f), esc_(f, clgrad_csv_text(t, k, cz));
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
        if (t->nrows > MAX_EVENT_ROWS)
            fprintf(f, "<p>... and %zu more (see events.csv).</p>\n", t->nrows - MAX_EVENT_ROWS);
    }
}

static char *report_runs_(const clgrad_rundata *runs, int n, const figlist *figs, const ini_t *cfg,
                          const ini_t *defaults)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    char title[300];
    if (n == 1) snprintf(title, sizeof title, "clgrad report: %.200s", runs[0].name);
    else snprintf(title, sizeof title, "clgrad report: %d runs", n);
    char et[700];
    {
        mstream t;
        if (ms_open_(&t) != 0) {
            fclose(ms.f), free(ms.buf);
            return NULL;
        }
        esc_(t.f, title);
        char *s = ms_close_(&t);
        snprintf(et, sizeof et, "%s", s ? s : "");
        free(s);
    }
    fprintf(f, html_head_, et);
    fprintf(f, "<h1>%s</h1>\n", et);
    fputs("<p>Written by <code>clgrad plot</code>: the settings, the outcome, then the figures (inline SVG; "
          "this page loads nothing from the network). Figures of one kind share their scales across runs (the "
          "same y range; the same colour scale for heat maps of one quantity). Manifests and device details are folded at the end.</p>\n",
          f);
    html_settings_(f, runs, n, cfg, defaults);
    html_outcome_(f, runs, n);
    html_events_(f, runs, n);
    html_figures_(f, figs);
    fputs("<h2 id=\"details\">Run details</h2>\n", f);
    for (int i = 0; i < n; i++) {
        const clgrad_rundata *r = &runs[i];
        const char *status = clgrad_rundata_status(r);
        const char *dev = clgrad_json_str(clgrad_json_path(r->manifest, "device.name"));
        fputs("<details class=\"run\"><summary>", f), html_runhead_(f, runs, n, i);
        fputs(": summary.json, manifest.json", f);
        if (dev) fputs(", device ", f), esc_(f, dev);
        fputs("</summary>\n<p>directory <code>", f), esc_(f, r->dir), fputs("</code>, status <span class=\"status-", f);
        esc_(f, status), fputs("\">", f), esc_(f, status), fputs("</span></p>\n", f);
        fputs("<h3>Summary</h3>\n", f);
        if (r->summary) {
            fputs("<table class=\"summary\">\n", f);
            html_rows_(f, r->summary, "");
            fputs("</table>\n", f);
        } else {
            fputs("<p>No summary.json (the run did not finish writing it).</p>\n", f);
        }
        fputs("<h3>Manifest</h3>\n<table class=\"manifest\">\n", f);
        html_rows_(f, r->manifest, "");
        fputs("</table>\n</details>\n", f);
    }
    fputs("</body>\n</html>\n", f);
    return ms_close_(&ms);
}

/* ---- writing a figure set -------------------------------------------------------------------------------- */

static clgrad_status write_figs_(const char *outdir, const figlist *figs, const char *html, int *nwritten,
                                 char *why, size_t nwhy)
{
    clgrad_status st;
    static const char xml_decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
    int e = mkdirs_(outdir);
    if (e) return clgrad_failf(CLGRAD_E_IO, why, nwhy, "cannot create %s: %s", outdir, strerror(e));
    for (int i = 0; i < figs->n; i++) {
        if ((st = write_file_(outdir, figs->f[i].name, xml_decl, figs->f[i].svg, why, nwhy)) != CLGRAD_OK) return st;
        if (nwritten) (*nwritten)++;
    }
    if ((st = write_file_(outdir, "report.html", NULL, html, why, nwhy)) != CLGRAD_OK) return st;
    if (nwritten) (*nwritten)++;
    return CLGRAD_OK;
}

/* The per-run figures of kind k: 0 layers, 1 ||dL/dh_t||, 2 ||dL/dc_t|| (LSTM). */
enum { RK_LAYERS = 0, RK_TS, RK_CELL, RK_N };

/* The histogram heat maps of the runs with histograms.csv: per run, layer
** (in the file's order) and tensor kind, hist_<layer>_<weight|grad|act>.svg
** (.run<k> as for the other figures), one colour scale for all of them. */
static clgrad_status hist_figs_(const clgrad_rundata *runs, int n, figlist *figs, char *why, size_t nwhy)
{
    static const char *const kinds[3] = {"weight", "grad", "act"};
    static const char *const what[3] = {"weights (biases left out)", "gradients of the weights (before clipping)",
                                        "output activations of the step's batch"};
    size_t cap = 0, nh = 0;
    for (int i = 0; i < n; i++) {
        if (!runs[i].has_histograms) continue;
        size_t nl = 0;
        const char **ls = hist_layers_(&runs[i].histograms, &nl);
        if (!ls) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory plotting");
        free((void *)ls);
        cap += 3 * nl;
    }
    heat_t *hm = calloc(cap ? cap : 1, sizeof *hm);
    heat_t **hp = calloc(cap ? cap : 1, sizeof *hp);
    char (*names)[128] = calloc(cap ? cap : 1, sizeof *names), (*caps)[400] = calloc(cap ? cap : 1, sizeof *caps);
    clgrad_status st = CLGRAD_OK;
    if (!hm || !hp || !names || !caps) goto oom;
    for (int i = 0; i < n; i++) {
        if (!runs[i].has_histograms) continue;
        size_t nl = 0;
        const char **ls = hist_layers_(&runs[i].histograms, &nl);
        if (!ls) goto oom;
        for (size_t l = 0; l < nl; l++)
            for (int k = 0; k < 3; k++) {
                int rc = hist_heat_(&runs[i], ls[l], kinds[k], &hm[nh]);
                if (rc < 0) {
                    free((void *)ls);
                    goto oom;
                }
                if (rc == 0) continue;
                char safe[64], sfx[32] = "";
                safe_name_(ls[l], safe, sizeof safe);
                if (i > 0) snprintf(sfx, sizeof sfx, ".run%d", i + 1);
                snprintf(names[nh], sizeof names[nh], "hist_%s_%s%s.svg", safe, kinds[k], sfx);
                snprintf(caps[nh], sizeof caps[nh],
                         "%.150s: layer %.40s, log-magnitude histogram of the %s per step (fraction of entries per "
                         "power-of-two bin of |x|, log colour scale; white: no entries)",
                         runs[i].name, ls[l], what[k]);
                hp[nh] = &hm[nh], nh++;
            }
        free((void *)ls);
    }
    share_z_(hp, (int)nh);
    for (size_t x = 0; x < nh; x++)
        if ((st = fig_add_(figs, names[x], caps[x], heat_svg_(&hm[x]), why, nwhy)) != CLGRAD_OK) goto out;
    goto out;
oom:
    st = clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory plotting");
out:
    for (size_t x = 0; hm && x < nh; x++) heat_free_(&hm[x]);
    free(hm), free(hp), free(names), free(caps);
    return st;
}

/* Builds each run's charts and heat maps (has[i * RK_N + k]), one scale per kind across runs; -1: out of memory. */
static int kind_charts_(const clgrad_rundata *runs, int n, const unsigned char *has, chart_t **ch, heat_t *hm,
                        heat_t **hp)
{
    int nh = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < RK_N; k++) {
            int x = i * RK_N + k;
            if (!has[x]) continue;
            if (k == RK_LAYERS) {
                if (!(ch[x] = layers_chart_(&runs[i])) || layers_heat_(&runs[i], &hm[x]) != 0) return -1;
            } else {
                const char *col = k == RK_TS ? "grad_norm" : "cell_grad_norm";
                const char *sym = k == RK_TS ? "||dL/dh_t||" : "||dL/dc_t||";
                if (!(ch[x] = timesteps_chart_(&runs[i], col, sym)) || ts_heat_(&runs[i], col, sym, &hm[x]) != 0)
                    return -1;
            }
        }
    /* each kind of figure: one y range (charts) and one colour scale (heat maps) across the runs */
    for (int k = 0; k < RK_N; k++) {
        chart_t *kind[256];
        int m = 0;
        nh = 0;
        for (int i = 0; i < n && m < 256; i++)
            if (ch[i * RK_N + k]) kind[m++] = ch[i * RK_N + k], hp[nh++] = &hm[i * RK_N + k];
        share_y_(kind, m);
        share_z_(hp, nh);
    }
    return 0;
}

/* Adds the loss and gradient-norm figures (clips[i]: run i clips, nclip of them) to figs. */
static clgrad_status loss_figs_(const clgrad_rundata *runs, int n, const plot_opts *o, const int *clips, int nclip,
                                figlist *figs, char *why, size_t nwhy)
{
    clgrad_status st;
    char cap[400];
    if (o && o->smooth > 0)
        snprintf(cap, sizeof cap, "train loss smoothed (EMA, weight %g; the raw curve faint behind it) and test loss "
                 "(dashed)%s", o->smooth, n > 1 ? " of each run" : "");
    else
        snprintf(cap, sizeof cap, "train loss (solid) and test loss (dashed)%s", n > 1 ? " of each run" : "");
    if ((st = fig_add_(figs, "loss.svg", cap, fig_loss_(runs, n, o), why, nwhy)) != CLGRAD_OK) return st;
    snprintf(cap, sizeof cap, "global gradient norm%s; exact zeros (underflow), if any, in a band at the bottom; "
             "the divergence step, if any, is marked",
             nclip == n ? " before (solid) and after (dashed) clipping"
             : nclip ? " (runs with clipping: before solid, after dashed)" : " (no clipping)");
    return fig_add_(figs, "grad_norm.svg", cap, fig_grad_norm_(runs, n, clips), why, nwhy);
}

/* Adds the sharpness and (adam/rmsprop) preconditioned sharpness figures to figs, each when some run logged it. */
static clgrad_status sharpness_figs_(const clgrad_rundata *runs, int n, figlist *figs, char *why, size_t nwhy)
{
    clgrad_status st;
    char cap[400];
    int absent;
    char *svg = fig_sharpness_(runs, n, "sharpness", "sharpness_limit", "sharpness", "2/lr", &absent);
    if (!absent) {
        snprintf(cap, sizeof cap, "sharpness (solid): lambda_max of the loss Hessian on the step's batch, every "
                 "[metrics] sharpness_every steps, against GD's stability limit 2/lr (dashed): progressive "
                 "sharpening, then the edge of stability (Cohen et al. 2021)");
        if ((st = fig_add_(figs, "sharpness.svg", cap, svg, why, nwhy)) != CLGRAD_OK) return st;
    }
    svg = fig_sharpness_(runs, n, "precond_sharpness", "precond_limit", "preconditioned sharpness", "its limit",
                         &absent);
    if (!absent) {
        snprintf(cap, sizeof cap, "preconditioned sharpness (solid): lambda_max of P^-1/2 H P^-1/2, P the "
                 "optimizer's preconditioner, against its limit (dashed): adam (2 + 2 beta1)/((1 - beta1) lr), "
                 "rmsprop (2 + 2 momentum)/lr (Cohen et al. 2022)");
        if ((st = fig_add_(figs, "precond_sharpness.svg", cap, svg, why, nwhy)) != CLGRAD_OK) return st;
    }
    return CLGRAD_OK;
}

/* Adds each run's per-layer / per-time-step chart and heat map (built by kind_charts_) to figs. */
static clgrad_status kind_figs_(const clgrad_rundata *runs, int n, const unsigned char *has, chart_t **ch,
                                heat_t *hm, figlist *figs, char *why, size_t nwhy)
{
    clgrad_status st;
    char cap[400];
    static const char *const fname[RK_N][2] = {{"layers_grad", "layers_heatmap"},
                                               {"timesteps", "timesteps_heatmap"},
                                               {"cell_timesteps", "cell_timesteps_heatmap"}};
    static const char *const what[RK_N][2] = {
        {"gradient norm arriving at each layer's output", "log10 of the per-layer gradient norm over steps"},
        {"||dL/dh_t|| over t at a few logged steps (BPTT)", "log10 ||dL/dh_t|| per time step (rows) and training step"},
        {"the LSTM cell state's gradient ||dL/dc_t|| over t at a few logged steps",
         "log10 ||dL/dc_t|| per time step (rows) and training step"}};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < RK_N; k++) {
            int x = i * RK_N + k;
            if (!has[x]) continue;
            char sfx[32] = "", name[96];
            if (i > 0) snprintf(sfx, sizeof sfx, ".run%d", i + 1);
            snprintf(name, sizeof name, "%s%s.svg", fname[k][0], sfx);
            snprintf(cap, sizeof cap, "%.150s: %s%s", runs[i].name, what[k][0],
                     n > 1 ? " (y range shared across the runs)" : "");
            if ((st = fig_add_(figs, name, cap, chart_svg_(ch[x]), why, nwhy)) != CLGRAD_OK) return st;
            snprintf(name, sizeof name, "%s%s.svg", fname[k][1], sfx);
            snprintf(cap, sizeof cap, "%.150s: %s%s; black: exactly 0 (underflow)", runs[i].name, what[k][1],
                     n > 1 ? " (colour scale shared across the runs)" : "");
            if ((st = fig_add_(figs, name, cap, heat_svg_(&hm[x]), why, nwhy)) != CLGRAD_OK) return st;
        }
    return CLGRAD_OK;
}

static clgrad_status plot_runs_(const clgrad_rundata *runs, int n, const plot_opts *o, const char *outdir,
                                int *nwritten, char *why, size_t nwhy)
{
    figlist figs = {0};
    clgrad_status st = CLGRAD_OK;
    char *html = NULL;
    if (nwritten) *nwritten = 0;
    if (n < 1) return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "plot needs at least one run");
    ini_t *cfg = calloc((size_t)n, sizeof *cfg), defaults = {0};
    int *clips = calloc((size_t)n, sizeof *clips);
    chart_t **ch = calloc((size_t)n * RK_N, sizeof *ch);
    heat_t *hm = calloc((size_t)n * RK_N, sizeof *hm);
    heat_t **hp = calloc((size_t)n * RK_N, sizeof *hp);
    unsigned char *has = calloc((size_t)n * RK_N, 1);
    if (!cfg || !clips || !ch || !hm || !hp || !has) goto oom;
    int nclip = 0;
    for (int i = 0; i < n; i++) {
        if (ini_load_(&cfg[i], runs[i].dir) != 0) goto oom;
        if (i == 0 && ini_defaults_(&defaults, &cfg[0]) != 0) goto oom;
        clips[i] = run_clips_(&runs[i], &cfg[i]);
        nclip += clips[i];
        has[i * RK_N + RK_LAYERS] = 1;
        has[i * RK_N + RK_TS] = runs[i].has_timesteps;
        has[i * RK_N + RK_CELL] = runs[i].has_timesteps && clgrad_csv_col(&runs[i].timesteps, "cell_grad_norm") >= 0;
    }
    /* build every per-run chart and heat map, then give each kind one scale */
    if (kind_charts_(runs, n, has, ch, hm, hp) != 0) goto oom;
    if ((st = loss_figs_(runs, n, o, clips, nclip, &figs, why, nwhy)) != CLGRAD_OK) goto out;
    if ((st = sharpness_figs_(runs, n, &figs, why, nwhy)) != CLGRAD_OK) goto out;
    if ((st = kind_figs_(runs, n, has, ch, hm, &figs, why, nwhy)) != CLGRAD_OK) goto out;
    if ((st = hist_figs_(runs, n, &figs, why, nwhy)) != CLGRAD_OK) goto out;
    html = report_runs_(runs, n, &figs, cfg, &defaults);
    if (!html) goto oom;
    st = write_figs_(outdir, &figs, html, nwritten, why, nwhy);
    goto out;
oom:
    st = clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory plotting");
out:
    free(html);
    figs_free_(&figs);
    for (int i = 0; cfg && i < n; i++) ini_free_(&cfg[i]);
    ini_free_(&defaults);
    for (int x = 0; ch && x < n * RK_N; x++) chart_del_(ch[x]);
    for (int x = 0; hm && x < n * RK_N; x++) heat_free_(&hm[x]);
    free(cfg), free(clips), free(ch), free(hm), free(hp), free(has);
    return st;
}

clgrad_status clgrad_plot_runs(const clgrad_rundata *runs, int n, const char *outdir, int *nwritten, char *why,
                               size_t nwhy)
{
    return plot_runs_(runs, n, NULL, outdir, nwritten, why, nwhy);
}

/* ---- learning-rate sensitivity (Wortsman et al. 2023) ------------------------------------------------- */

#define LR_KEY "optim.lr"
#define LR_TOP_BAND 30 /* px at the top of lr_sensitivity.svg for the points counted as l0 */

/* The sensitivity of one curve; see clgrad/report.h.  Sums in ascending lr order, in double. */
void clgrad_lr_curve_compute(clgrad_lr_curve *c)
{
    c->best_lr = c->best_loss = c->edge_lr = c->sensitivity = NAN;
    c->ncapped = c->nmissing = 0;
    c->note[0] = '\0';
    size_t nunknown = 0;
    char miss[256] = "";
    for (size_t i = 0; i < c->n; i++) {
        clgrad_lr_point *p = &c->pt[i];
        double l0 = isfinite(p->loss0) ? p->loss0 : c->loss0;
        if (p->state == CLGRAD_LR_MISSING) {
            size_t l = strlen(miss);
            if (l + 40 < sizeof miss)
                snprintf(miss + l, sizeof miss - l, "%s%.6g (%s)", c->nmissing ? ", " : "", p->lr,
                         p->status[0] ? p->status : "no row");
            c->nmissing++;
            continue;
        }
        if (p->state != CLGRAD_LR_DIVERGED) {
            if (!isfinite(p->loss)) p->state = CLGRAD_LR_NONFINITE;
            else if (isfinite(l0) && p->loss > l0) p->state = CLGRAD_LR_ABOVE_L0;
            else p->state = CLGRAD_LR_OK;
        }
        if (p->state == CLGRAD_LR_OK) {
            if (!(p->loss >= c->best_loss)) c->best_loss = p->loss, c->best_lr = p->lr; /* ties: the smaller lr */
        } else {
            c->ncapped++;
            if (!isfinite(l0)) nunknown++;
            if (!(p->lr >= c->edge_lr)) c->edge_lr = p->lr;
        }
    }
    if (c->n == 0) {
        snprintf(c->note, sizeof c->note, "no points");
        return;
    }
    if (c->nmissing) {
        snprintf(c->note, sizeof c->note, "no sensitivity: %zu of %zu learning rates have no result: lr %s",
                 c->nmissing, c->n, miss);
        return;
    }
    if (nunknown) {
        snprintf(c->note, sizeof c->note,
                 "no sensitivity: %zu point%s to count as l0 but l0 is unknown (no step-1 train loss in the "
                 "points' metrics.csv: run the sweep with run.log_every = 1)",
                 nunknown, nunknown == 1 ? "" : "s");
        return;
    }
    double lstar = INFINITY, sum = 0;
    for (size_t i = 0; i < c->n; i++) {
        const clgrad_lr_point *p = &c->pt[i];
        double v = p->state == CLGRAD_LR_OK ? p->loss : isfinite(p->loss0) ? p->loss0 : c->loss0;
        lstar = fmin(lstar, v);
    }
    for (size_t i = 0; i < c->n; i++) {
        const clgrad_lr_point *p = &c->pt[i];
        double v = p->state == CLGRAD_LR_OK ? p->loss : isfinite(p->loss0) ? p->loss0 : c->loss0;
        sum += v - lstar;
    }
    c->sensitivity = sum / (double)c->n;
    if (!isfinite(c->best_loss))
        snprintf(c->note, sizeof c->note, "no learning rate trained below l0: every point counts as l0");
    else if (!isfinite(c->loss0))
        snprintf(c->note, sizeof c->note, "l0 unknown: the final losses were not checked against it");
}

void clgrad_lr_sens_free(clgrad_lr_sens *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ncurves; i++) {
        for (int k = 0; k < s->nkeys; k++) free(s->curve[i].value[k]);
        free(s->curve[i].pt);
    }
    free(s->curve);
    for (int k = 0; k < s->nkeys; k++) free(s->key[k]);
    memset(s, 0, sizeof *s);
}

/* l0 of a point: the train loss of step 1 in RUN_DIR/metrics.csv (the loss of
** the initial weights, computed before the first update); NaN when the run
** directory, the file or that row is not there. */
static double lr_loss0_(const char *sweep_dir, const char *run_dir)
{
    if (!run_dir || !run_dir[0]) return NAN;
    char path[2400], why[256];
    if (run_dir[0] == '/') snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    else snprintf(path, sizeof path, "%s/%s/metrics.csv", sweep_dir, run_dir);
    clgrad_csv m;
    if (clgrad_csv_read(path, &m, why, sizeof why) != CLGRAD_OK) return NAN;
    double l0 = NAN;
    int cs = clgrad_csv_col(&m, "step"), cl = clgrad_csv_col(&m, "loss");
    for (size_t r = 0; cs >= 0 && cl >= 0 && r < m.nrows; r++)
        if (clgrad_csv_num(&m, r, cs) == 1) {
            l0 = clgrad_csv_num(&m, r, cl);
            break;
        }
    clgrad_csv_free(&m);
    return l0;
}

static int dbl_cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* out->note when optim.lr is not swept: why there is no figure, and the keys that are. */
static void lr_note_no_lr_(const clgrad_csv *t, int k0, int cst, clgrad_lr_sens *out)
{
    char keys[512] = "";
    for (int c = k0; c < cst; c++) {
        size_t l = strlen(keys);
        snprintf(keys + l, sizeof keys - l, "%s%s", c > k0 ? ", " : "", t->names[c]);
    }
    snprintf(out->note, sizeof out->note,
             "no lr-sensitivity figure: it needs %s swept (--grid %s=...; this sweep's keys: %s)", LR_KEY, LR_KEY,
             keys[0] ? keys : "none");
}

/* The swept keys besides optim.lr into out->key, their columns into okc. */
static clgrad_status lr_other_keys_(const clgrad_csv *t, int k0, int cst, int clr, clgrad_lr_sens *out, int *okc,
                                    const char *path, char *why, size_t nwhy)
{
    for (int c = k0; c < cst; c++) {
        if (c == clr) continue;
        if (out->nkeys == CLGRAD_LR_MAX_KEYS)
            return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s: more than %d swept keys besides %s", path,
                          CLGRAD_LR_MAX_KEYS, LR_KEY);
        okc[out->nkeys] = c;
        if (!(out->key[out->nkeys++] = strdup(t->names[c])))
            return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
    }
    return CLGRAD_OK;
}

/* The final loss column: the evaluation loss when every completed point has one, else the train loss (-1: none). */
static int lr_loss_col_(const clgrad_csv *t, int cst)
{
    int cl = -1, ct = clgrad_csv_col(t, "final_test_loss");
    if (ct >= 0) {
        int all = 1, any = 0;
        for (size_t r = 0; r < t->nrows; r++)
            if (!strcmp(clgrad_csv_text(t, r, cst), "completed")) {
                if (clgrad_csv_present(t, r, ct)) any = 1;
                else all = 0;
            }
        if (all && any) cl = ct;
    }
    if (cl < 0) cl = clgrad_csv_col(t, "final_train_loss");
    if (cl < 0) cl = clgrad_csv_col(t, "final_loss");
    return cl;
}

/* The distinct learning rates of column clr, ascending, into glr (t->nrows long); each must be positive. */
static clgrad_status lr_grid_(const clgrad_csv *t, int clr, double *glr, size_t *ng, const char *path, char *why,
                              size_t nwhy)
{
    *ng = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *s = clgrad_csv_text(t, r, clr);
        char *end;
        double v = strtod(s, &end);
        while (*end == ' ') end++;
        if (end == s || *end || !(v > 0) || !isfinite(v))
            return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s:%zu: %s = \"%s\" is not a positive learning rate", path,
                          r + 2, LR_KEY, s);
        size_t i = 0;
        while (i < *ng && glr[i] != v) i++;
        if (i == *ng) glr[(*ng)++] = v;
    }
    qsort(glr, *ng, sizeof *glr, dbl_cmp_);
    return CLGRAD_OK;
}

/* The curve of row r (its values of the other keys) into *ci, a new one (every lr missing) when none has them. */
static clgrad_status lr_curve_of_row_(clgrad_lr_sens *out, const clgrad_csv *t, size_t r, const int *okc,
                                      const double *glr, size_t ng, size_t *ci)
{
    for (*ci = 0; *ci < out->ncurves; (*ci)++) {
        int same = 1;
        for (int k = 0; k < out->nkeys && same; k++)
            same = !strcmp(out->curve[*ci].value[k], clgrad_csv_text(t, r, okc[k]));
        if (same) return CLGRAD_OK;
    }
    clgrad_lr_curve *c = &out->curve[*ci];
    out->ncurves++;
    c->loss0 = NAN;
    c->n = ng;
    if (!(c->pt = calloc(ng ? ng : 1, sizeof *c->pt))) return CLGRAD_E_NOMEM;
    for (size_t i = 0; i < ng; i++)
        c->pt[i] = (clgrad_lr_point){.lr = glr[i], .loss = NAN, .loss0 = NAN, .state = CLGRAD_LR_MISSING};
    for (int k = 0; k < out->nkeys; k++) {
        if (!(c->value[k] = strdup(clgrad_csv_text(t, r, okc[k])))) return CLGRAD_E_NOMEM;
        size_t l = strlen(c->label);
        snprintf(c->label + l, sizeof c->label - l, "%s%s=%s", k ? ", " : "", out->key[k], c->value[k]);
    }
    if (!out->nkeys) snprintf(c->label, sizeof c->label, "all points");
    return CLGRAD_OK;
}

/* A point's status, final loss (column cl) and state from row r. */
static void lr_point_from_row_(clgrad_lr_point *p, const clgrad_csv *t, size_t r, int cst, int cl)
{
    const char *status = clgrad_csv_text(t, r, cst);
    snprintf(p->status, sizeof p->status, "%s", status);
    p->loss = clgrad_csv_num(t, r, cl);
    if (!strcmp(status, "diverged")) p->state = CLGRAD_LR_DIVERGED;
    else if (!strcmp(status, "completed") && clgrad_csv_present(t, r, cl)) p->state = CLGRAD_LR_OK;
    else {
        p->state = CLGRAD_LR_MISSING;
        if (!strcmp(status, "completed")) snprintf(p->status, sizeof p->status, "no %s", t->names[cl]);
    }
}

/* Each curve's l0 (its first point's), its computed figures, and a note when its points' l0 differ. */
static void lr_finish_curves_(clgrad_lr_sens *out)
{
    for (size_t ci = 0; ci < out->ncurves; ci++) {
        clgrad_lr_curve *c = &out->curve[ci];
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < c->n; i++)
            if (isfinite(c->pt[i].loss0)) {
                if (!isfinite(c->loss0)) c->loss0 = c->pt[i].loss0;
                lo = fmin(lo, c->pt[i].loss0), hi = fmax(hi, c->pt[i].loss0);
            }
        clgrad_lr_curve_compute(c);
        if (lo < hi && hi - lo > 1e-6 * fabs(hi)) {
            size_t l = strlen(c->note);
            snprintf(c->note + l, sizeof c->note - l, "%sl0 differs between the points (%.6g to %.6g): each point "
                     "is capped at its own", l ? "; " : "", lo, hi);
        }
    }
}

clgrad_status clgrad_sweep_lr_read(const char *sweep_dir, clgrad_lr_sens *out, char *why, size_t nwhy)
{
    memset(out, 0, sizeof *out);
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.csv", sweep_dir);
    clgrad_csv t;
    clgrad_status st = clgrad_csv_read(path, &t, why, nwhy);
    if (st != CLGRAD_OK) return st;
    double *glr = NULL;
    int okc[CLGRAD_LR_MAX_KEYS];
    size_t *first_row = NULL;
    int cst = clgrad_csv_col(&t, "status");
    if (cst < 0) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no status column (not a clgrad sweep summary)", path);
        goto out;
    }
    /* the swept keys: the columns before status (after index) */
    int k0 = t.ncols > 0 && !strcmp(t.names[0], "index") ? 1 : 0, clr = -1;
    for (int c = k0; c < cst; c++)
        if (!strcmp(t.names[c], LR_KEY)) clr = c;
    if (clr < 0) {
        lr_note_no_lr_(&t, k0, cst, out);
        goto out;
    }
    out->has_lr = 1;
    if ((st = lr_other_keys_(&t, k0, cst, clr, out, okc, path, why, nwhy)) != CLGRAD_OK) goto out;
    int cl = lr_loss_col_(&t, cst);
    if (cl < 0) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: no final loss column (final_test_loss, final_train_loss)", path);
        goto out;
    }
    snprintf(out->loss_col, sizeof out->loss_col, "%s", t.names[cl]);
    glr = malloc((t.nrows ? t.nrows : 1) * sizeof *glr);
    if (!glr) goto oom;
    size_t ng;
    if ((st = lr_grid_(&t, clr, glr, &ng, path, why, nwhy)) != CLGRAD_OK) goto out;
    /* one curve per combination of the other keys, in order of first appearance */
    out->curve = calloc(t.nrows ? t.nrows : 1, sizeof *out->curve);
    first_row = calloc((t.nrows ? t.nrows : 1) * (ng ? ng : 1), sizeof *first_row);
    if (!out->curve || !first_row) goto oom;
    int crd = clgrad_csv_col(&t, "run_dir");
    for (size_t r = 0; r < t.nrows; r++) {
        size_t ci;
        if (lr_curve_of_row_(out, &t, r, okc, glr, ng, &ci) != CLGRAD_OK) goto oom;
        clgrad_lr_curve *c = &out->curve[ci];
        double v = strtod(clgrad_csv_text(&t, r, clr), NULL);
        size_t i = 0;
        while (glr[i] != v) i++;
        if (first_row[ci * ng + i]) {
            st = clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s:%zu: a second row for %s = %s, %s (the first is line %zu)", path,
                        r + 2, LR_KEY, clgrad_csv_text(&t, r, clr), c->label, first_row[ci * ng + i] + 1);
            goto out;
        }
        first_row[ci * ng + i] = r + 1;
        lr_point_from_row_(&c->pt[i], &t, r, cst, cl);
        c->pt[i].loss0 = lr_loss0_(sweep_dir, crd >= 0 ? clgrad_csv_text(&t, r, crd) : NULL);
    }
    lr_finish_curves_(out);
    goto out;
oom:
    st = clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory reading %s", path);
out:
    if (st != CLGRAD_OK) clgrad_lr_sens_free(out);
    free(glr);
    free(first_row);
    clgrad_csv_free(&t);
    return st;
}

static const char *lr_num_(char *b, size_t n, double v)
{
    if (isnan(v)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.4g", v);
    return b;
}

/* A log-axis tick label 10^d. */
static void logtick_(FILE *f, double x, double y, const char *anchor, int d)
{
    fprintf(f, "<text class=\"logtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">10<tspan dy=\"-6\" "
               "font-size=\"9\">%d</tspan></text>\n",
            x, y, anchor, d);
}

/* The lr and loss ranges of lr_sensitivity.svg: every point's lr, the finite losses and the l0s. */
static void lr_svg_range_(const clgrad_lr_sens *s, double *xmin, double *xmax, double *ymin, double *ymax)
{
    *xmin = INFINITY, *xmax = -INFINITY, *ymin = INFINITY, *ymax = -INFINITY;
    for (size_t ci = 0; ci < s->ncurves; ci++) {
        const clgrad_lr_curve *c = &s->curve[ci];
        for (size_t i = 0; i < c->n; i++) {
            const clgrad_lr_point *p = &c->pt[i];
            *xmin = fmin(*xmin, p->lr), *xmax = fmax(*xmax, p->lr);
            if (p->state == CLGRAD_LR_OK) *ymin = fmin(*ymin, p->loss), *ymax = fmax(*ymax, p->loss);
            if (isfinite(p->loss0)) *ymin = fmin(*ymin, p->loss0), *ymax = fmax(*ymax, p->loss0);
        }
    }
}

/* lr_sensitivity.svg's log x axis: the grid, decade ticks and minor ticks (the grid stops at the top band). */
static void lr_svg_xaxis_(FILE *f, const axis_t *xa, const frame_t *fr, const frame_t *fy)
{
    fputs("<g class=\"xaxis\">\n", f);
    for (int i = 0; i < xa->nminor; i++) {
        double x = axis_pos_(xa, xa->minor[i], fr->x0, fr->x1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x, fr->y1, x,
                fr->y1 + 3);
    }
    for (int i = 0; i < xa->ntick; i++) {
        double x = axis_pos_(xa, xa->tick[i], fr->x0, fr->x1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", x, fy->y0, x,
                fr->y1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x, fr->y1, x,
                fr->y1 + 6);
        logtick_(f, x, fr->y1 + 20, "middle", (int)xa->tick[i]);
    }
    fputs("</g>\n", f);
}

/* The band at the top of lr_sensitivity.svg for the points counted as l0. */
static void lr_svg_band_(FILE *f, const frame_t *fr)
{
    fputs("<g class=\"topband\">\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"#fbe3e3\" stroke=\"#000000\"/>\n",
            fr->x0, fr->y0, fr->x1 - fr->x0, LR_TOP_BAND);
    text_(f, fr->x0 + 4, fr->y0 + 11, "start", "font-size=\"9\" fill=\"#9a3030\"", "diverged,");
    text_(f, fr->x0 + 4, fr->y0 + 23, "start", "font-size=\"9\" fill=\"#9a3030\"", "NaN, > l0");
    fputs("</g>\n", f);
}

/* One curve's line through its runs of consecutive finite points (one path, or nothing). */
static void lr_svg_line_(FILE *f, const clgrad_lr_curve *c, const char *col, const char *dash, const axis_t *xa,
                         const axis_t *ya, const frame_t *fr, const frame_t *fy)
{
    int open = 0;
    for (size_t i = 0; i < c->n;) {
        if (c->pt[i].state != CLGRAD_LR_OK) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < c->n && c->pt[j].state == CLGRAD_LR_OK) j++;
        if (j - i >= 2) {
            if (!open) fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s d=\"", col, dash);
            for (size_t k = i; k < j; k++)
                fprintf(f, "%s%c%.2f %.2f", k == i && open ? " " : k == i ? "" : " ", k == i ? 'M' : 'L',
                        axis_map_(xa, c->pt[k].lr, fr->x0, fr->x1), axis_map_(ya, c->pt[k].loss, fr->y1, fy->y0));
            open = 1;
        }
        i = j;
    }
    if (open) fputs("\"/>\n", f);
}

/* One curve's points: a dot per finite loss, a cross or triangle in the top band per point counted as l0;
** returns how many it drew. */
static int lr_svg_points_(FILE *f, const clgrad_lr_curve *c, size_t ci, const char *col, const axis_t *xa,
                          const axis_t *ya, const frame_t *fr, const frame_t *fy)
{
    int npts = 0;
    double ycap = fr->y0 + 9 + (double)(ci % 4) * 4;
    for (size_t i = 0; i < c->n; i++) {
        const clgrad_lr_point *p = &c->pt[i];
        double x = axis_map_(xa, p->lr, fr->x0, fr->x1);
        if (p->state == CLGRAD_LR_OK) {
            double y = axis_map_(ya, p->loss, fr->y1, fy->y0);
            if (!isfinite(y)) continue;
            fprintf(f, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", x, y, col);
            npts++;
        } else if (p->state != CLGRAD_LR_MISSING) {
            /* diverged: a cross; finished with a non-finite loss or one above l0: a triangle */
            static const char *const kind[] = {"", "diverged", "nonfinite", "above-l0", ""};
            if (p->state == CLGRAD_LR_DIVERGED)
                fprintf(f, "<path class=\"capped %s\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" "
                           "stroke=\"%s\" stroke-width=\"2\"/>\n",
                        kind[p->state], x - 4, ycap - 4, x + 4, ycap + 4, x + 4, ycap - 4, x - 4, ycap + 4, col);
            else
                fprintf(f, "<path class=\"capped %s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1f\" "
                           "fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" stroke-linejoin=\"round\"/>\n",
                        kind[p->state], x, ycap - 5, x + 5, ycap + 4, x - 5, ycap + 4, x, ycap - 5, col);
            npts++;
        }
    }
    return npts;
}

/* One curve's marks: its optimum ringed, its divergence edge dashed, its l0 dotted. */
static void lr_svg_marks_(FILE *f, const clgrad_lr_curve *c, size_t ci, const char *col, const axis_t *xa,
                          const axis_t *ya, const frame_t *fr, const frame_t *fy)
{
    if (isfinite(c->best_lr)) {
        double x = axis_map_(xa, c->best_lr, fr->x0, fr->x1), y = axis_map_(ya, c->best_loss, fr->y1, fy->y0);
        if (isfinite(y))
            fprintf(f, "<circle class=\"optimum\" cx=\"%.2f\" cy=\"%.2f\" r=\"7\" fill=\"none\" stroke=\"%s\" "
                       "stroke-width=\"2\"/>\n",
                    x, y, col);
    }
    if (isfinite(c->edge_lr)) {
        double x = axis_map_(xa, c->edge_lr, fr->x0, fr->x1);
        fprintf(f, "<line class=\"edge\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n",
                x, fr->y0, x, fr->y1, col);
        char extra[64];
        snprintf(extra, sizeof extra, "fill=\"%s\" font-size=\"10\"", col);
        text_(f, x - 3, fr->y1 - 6 - 12 * (double)(ci % 8), "end", extra, "edge");
    }
    if (isfinite(c->loss0)) {
        double y = axis_map_(ya, c->loss0, fr->y1, fy->y0);
        if (isfinite(y))
            fprintf(f, "<line class=\"loss0\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"%s\" "
                       "stroke-width=\"1\" stroke-dasharray=\"1 3\"/>\n",
                    fr->x0, y, fr->x1, y, col);
    }
}

/* lr_sensitivity.svg's legend: a curve and its sensitivity per row pair, then what the marks mean. */
static void lr_svg_legend_(FILE *f, const clgrad_lr_sens *s, const frame_t *fr)
{
    char b1[32], b2[32];
    double lx = fr->x1 + 14, row = 15, y = fr->y0 + 6;
    size_t maxc = (size_t)((fr->y1 - fr->y0 - 6 * row) / (2 * row));
    fputs("<g class=\"legend\" font-size=\"11\">\n", f);
    for (size_t ci = 0; ci < s->ncurves && ci < maxc; ci++, y += 2 * row) {
        const clgrad_lr_curve *c = &s->curve[ci];
        char t[64], line[128];
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", lx,
                y, lx + 22, y, palette[ci % 10], ci >= 10 ? " stroke-dasharray=\"6 4\"" : "");
        text_(f, lx + 28, y + 4, "start", NULL, shorten_mid_(c->label, t, sizeof t, LEGEND_CHARS));
        snprintf(line, sizeof line, "S = %s, best lr %s", lr_num_(b1, sizeof b1, c->sensitivity),
                 lr_num_(b2, sizeof b2, c->best_lr));
        text_(f, lx + 28, y + 4 + row, "start", "class=\"sens\" fill=\"#444444\"", line);
    }
    if (s->ncurves > maxc) {
        char more[64];
        snprintf(more, sizeof more, "... and %zu more (lr_sensitivity.csv)", s->ncurves - maxc);
        text_(f, lx, y + 4, "start", NULL, more), y += row;
    }
    y += 4;
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\"/>\n",
            lx + 11, y);
    text_(f, lx + 28, y + 4, "start", NULL, "best final loss"), y += row;
    fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"#000000\" stroke-width=\"2\"/>\n",
            lx + 7, y - 4, lx + 15, y + 4, lx + 15, y - 4, lx + 7, y + 4);
    text_(f, lx + 28, y + 4, "start", NULL, "diverged (top band)"), y += row;
    fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1f\" fill=\"none\" stroke=\"#000000\" "
               "stroke-width=\"1.8\" stroke-linejoin=\"round\"/>\n",
            lx + 11, y - 5, lx + 16, y + 4, lx + 6, y + 4, lx + 11, y - 5);
    text_(f, lx + 28, y + 4, "start", NULL, "NaN/Inf or > l0 (top band)"), y += row;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\" stroke-dasharray=\"5 3\"/>\n",
            lx + 11, y - 6, lx + 11, y + 6);
    text_(f, lx + 28, y + 4, "start", NULL, "divergence edge"), y += row;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\" stroke-dasharray=\"1 3\"/>\n",
            lx, y, lx + 22, y);
    text_(f, lx + 28, y + 4, "start", NULL, "l0 (loss at init)");
    fputs("</g>\n", f);
}

/* lr_sensitivity.svg: final loss against lr (log x), a curve per combination
** of the other swept keys; the points counted as l0 (diverged, non-finite,
** above l0) as crosses in a band at the top; each curve's optimum ringed, its
** divergence edge a dashed vertical line, its l0 a dotted horizontal one. */
static char *lr_svg_(const clgrad_lr_sens *s)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    frame_t fr = {84, FIG_W - LEGEND_W, 40, FIG_H - 56};
    frame_t fy = fr; /* the y axis: below the top band */
    fy.y0 = fr.y0 + LR_TOP_BAND;
    double xmin, xmax, ymin, ymax;
    lr_svg_range_(s, &xmin, &xmax, &ymin, &ymax);
    axis_t xa, ya;
    axis_log_(&xa, xmin, xmax);
    int ylog = ymin > 0 && ymax / ymin > 100;
    if (ylog) axis_log_(&ya, ymin, ymax);
    else axis_linear_(&ya, ymin, ymax, 1, 0);
    char title[256], ylabel[96], b1[32];
    snprintf(title, sizeof title, "learning-rate sensitivity: final loss vs %s", LR_KEY);
    snprintf(ylabel, sizeof ylabel, "%s%s", s->loss_col, ylog ? " (log scale)" : "");
    svg_open_(f, title, FIG_W, FIG_H);
    lr_svg_xaxis_(f, &xa, &fr, &fy);
    axes_(f, &fy, NULL, &ya, LR_KEY " (log scale)", ylabel, 1, 0);
    lr_svg_band_(f, &fr);
    int npts = 0;
    for (size_t ci = 0; ci < s->ncurves; ci++) {
        const clgrad_lr_curve *c = &s->curve[ci];
        const char *col = palette[ci % 10];
        const char *dash = ci >= 10 ? " stroke-dasharray=\"6 4\"" : "";
        fputs("<g class=\"lrcurve\" data-label=\"", f), esc_(f, c->label), fputs("\">\n<title>", f);
        esc_(f, c->label), fprintf(f, ": sensitivity %s</title>\n", lr_num_(b1, sizeof b1, c->sensitivity));
        lr_svg_line_(f, c, col, dash, &xa, &ya, &fr, &fy);
        npts += lr_svg_points_(f, c, ci, col, &xa, &ya, &fr, &fy);
        lr_svg_marks_(f, c, ci, col, &xa, &ya, &fr, &fy);
        fputs("</g>\n", f);
    }
    if (npts == 0)
        text_(f, (fr.x0 + fr.x1) / 2, (fy.y0 + fr.y1) / 2, "middle", "class=\"nodata\" fill=\"#888888\"",
              "no point has a result");
    lr_svg_legend_(f, s, &fr);
    svg_close_(f);
    return ms_close_(&ms);
}

/* One CSV field, quoted when it needs to be. */
static void csv_field_(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num_(FILE *f, double v)
{
    if (isnan(v)) return; /* empty: not available */
    fprintf(f, "%.9g", v);
}

/* lr_sensitivity.csv */
static char *lr_csv_(const clgrad_lr_sens *s)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    fputs("curve", f);
    for (int k = 0; k < s->nkeys; k++) fputc(',', f), csv_field_(f, s->key[k]);
    fputs(",loss,points,counted_as_l0,missing,loss0,best_lr,best_loss,divergence_edge_lr,sensitivity,note\n", f);
    for (size_t ci = 0; ci < s->ncurves; ci++) {
        const clgrad_lr_curve *c = &s->curve[ci];
        fprintf(f, "%zu", ci + 1);
        for (int k = 0; k < s->nkeys; k++) fputc(',', f), csv_field_(f, c->value[k]);
        fputc(',', f), csv_field_(f, s->loss_col);
        fprintf(f, ",%zu,%zu,%zu,", c->n, c->ncapped, c->nmissing);
        csv_num_(f, c->loss0), fputc(',', f);
        csv_num_(f, c->best_lr), fputc(',', f);
        csv_num_(f, c->best_loss), fputc(',', f);
        csv_num_(f, c->edge_lr), fputc(',', f);
        csv_num_(f, c->sensitivity), fputc(',', f);
        csv_field_(f, c->note), fputc('\n', f);
    }
    return ms_close_(&ms);
}

/* The report's LR-sensitivity section (before the other figures): the figure, the definition, the table. */
static void html_lr_(FILE *f, const clgrad_lr_sens *s, const figure_t *fig)
{
    char b[32];
    fputs("<h2 id=\"lr-sensitivity\">LR sensitivity</h2>\n", f);
    fputs("<figure id=\"fig-lr_sensitivity\">\n", f);
    fputs(fig->svg, f);
    fputs("<figcaption>", f), esc_(f, fig->name), fputs(": ", f), esc_(f, fig->caption);
    fputs("</figcaption>\n</figure>\n", f);
    fputs("<p>Wortsman et al. 2023, <i>Small-scale proxies for "
          "large-scale Transformer training instabilities</i> (arXiv:2309.14322): "
          "E<sub>&#951;</sub>[min(&#8467;(&#951;), &#8467;<sub>0</sub>) &#8722; &#8467;*], the mean over the swept "
          "learning rates (on a log-spaced grid: the expectation for &#951; log-uniform over the range) of how far "
          "each final loss is from the best one, &#8467;*; a run that diverged, or whose final loss is non-finite "
          "or above &#8467;<sub>0</sub> (the train loss at step 1, of the initial weights), counts as "
          "&#8467;<sub>0</sub>. Final loss: <code>",
          f);
    esc_(f, s->loss_col);
    fputs("</code>. Divergence edge: the smallest learning rate counted as &#8467;<sub>0</sub>. Also in "
          "<code>lr_sensitivity.csv</code>.</p>\n<table class=\"lrsens\">\n<thead><tr><th>curve</th>",
          f);
    for (int k = 0; k < s->nkeys; k++) fputs("<th>", f), esc_(f, s->key[k]), fputs("</th>", f);
    fputs("<th>sensitivity</th><th>best lr</th><th>best loss</th><th>divergence edge</th><th>l0</th>"
          "<th>note</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t ci = 0; ci < s->ncurves; ci++) {
        const clgrad_lr_curve *c = &s->curve[ci];
        fprintf(f, "<tr><td style=\"color:%s\">&#9632; %zu</td>", palette[ci % 10], ci + 1);
        for (int k = 0; k < s->nkeys; k++) fputs("<td>", f), esc_(f, c->value[k]), fputs("</td>", f);
        fprintf(f, "<td><b>%s</b></td>", lr_num_(b, sizeof b, c->sensitivity));
        fprintf(f, "<td>%s</td>", lr_num_(b, sizeof b, c->best_lr));
        fprintf(f, "<td>%s</td>", lr_num_(b, sizeof b, c->best_loss));
        fprintf(f, "<td>%s</td>", isnan(c->edge_lr) ? "none" : lr_num_(b, sizeof b, c->edge_lr));
        fprintf(f, "<td>%s</td><td>", lr_num_(b, sizeof b, c->loss0));
        esc_(f, c->note), fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* ---- sweeps ------------------------------------------------------------------------------------------------- */

/* Distinct texts of a column, numeric order when all are numbers, else first appearance. */
typedef struct {
    const char **v;
    size_t n;
} cats_t;

static int cat_numeric_cmp_(const void *a, const void *b)
{
    double x = strtod(*(const char *const *)a, NULL), y = strtod(*(const char *const *)b, NULL);
    return (x > y) - (x < y);
}

static int cats_(const clgrad_csv *t, int col, cats_t *c)
{
    c->n = 0;
    c->v = malloc((t->nrows ? t->nrows : 1) * sizeof *c->v);
    if (!c->v) return -1;
    int numeric = 1;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *s = col >= 0 ? clgrad_csv_text(t, r, col) : "";
        size_t i = 0;
        while (i < c->n && strcmp(c->v[i], s) != 0) i++;
        if (i < c->n) continue;
        c->v[c->n++] = s;
        if (col < 0 || !isfinite(clgrad_csv_num(t, r, col))) numeric = 0;
    }
    if (numeric) qsort(c->v, c->n, sizeof *c->v, cat_numeric_cmp_);
    return 0;
}

static size_t cat_index_(const cats_t *c, const char *s)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i], s)) return i;
    return 0;
}

static void short_num_(char *b, size_t n, double v)
{
    if (isnan(v)) snprintf(b, n, "nan");
    else if (isinf(v)) snprintf(b, n, v > 0 ? "inf" : "-inf");
    else snprintf(b, n, "%.3g", v);
}

/* One cell of the sweep grid. */
typedef struct {
    unsigned nrun, ndiv, nfail;
    double loss_sum;
    unsigned nloss;
    double first_div_step;
} sweep_cell;

/* The heat map's colour range: over the cells with a value (log10 when zlog), never empty. */
static void sweep_zrange_(const sweep_cell *cell, size_t ncell, int zlog, double *zlo, double *zhi)
{
    *zlo = INFINITY, *zhi = -INFINITY;
    for (size_t i = 0; i < ncell; i++) {
        if (cell[i].nloss == 0) continue;
        double z = cell[i].loss_sum / cell[i].nloss;
        if (zlog) z = log10(z);
        if (isfinite(z)) *zlo = fmin(*zlo, z), *zhi = fmax(*zhi, z);
    }
    if (!(*zlo <= *zhi)) *zlo = 0, *zhi = 1;
    if (*zhi - *zlo < 1e-12) *zlo -= 0.5, *zhi += 0.5;
}

/* The text in a cell big enough for one: its loss, divergence step or "failed", and its share diverged. */
static void sweep_cell_text_(FILE *f, const sweep_cell *c, int st, double z, double zlo, double zhi, double x,
                             double y, double cw, double ch)
{
    char txt[64] = "", v[32];
    if (st == CELL_VALUE) short_num_(v, sizeof v, c->loss_sum / c->nloss), snprintf(txt, sizeof txt, "%s", v);
    else if (st == CELL_DIVERGED && isfinite(c->first_div_step))
        snprintf(txt, sizeof txt, "step %.0f", c->first_div_step);
    else if (st == CELL_FAILED) snprintf(txt, sizeof txt, "failed");
    if (c->nrun > 1 && c->ndiv > 0 && st != CELL_DIVERGED) {
        size_t l = strlen(txt);
        snprintf(txt + l, sizeof txt - l, " (%u/%u div)", c->ndiv, c->nrun);
    }
    /* white text on the dark end of viridis */
    int dark = st == CELL_VALUE && (z - zlo) / (zhi - zlo) < 0.55;
    char extra[80];
    snprintf(extra, sizeof extra, "font-size=\"10\" fill=\"%s\"", dark ? "#ffffff" : "#000000");
    double ty = st == CELL_DIVERGED ? y + ch - 5 : y + ch / 2 + 4;
    text_(f, x + cw / 2, ty, "middle", extra, txt);
}

/* One heat-map cell at (x, y): its colour, an X when (some of) its runs diverged, its text; returns its CELL_*. */
static int sweep_cell_svg_(FILE *f, const sweep_cell *c, double x, double y, double cw, double ch, int zlog,
                           double zlo, double zhi)
{
    int st;
    double z = NAN;
    if (c->nrun == 0) st = CELL_MISSING;
    else if (c->ndiv == c->nrun) st = CELL_DIVERGED;
    else if (c->nloss == 0) st = CELL_FAILED;
    else {
        st = CELL_VALUE;
        z = c->loss_sum / c->nloss;
        if (zlog) z = log10(z);
    }
    char col[8];
    cell_color_(st, z, zlo, zhi, col);
    fprintf(f, "<g class=\"cell%s\">\n", st == CELL_DIVERGED ? " diverged" : "");
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" stroke=\"#ffffff\"/>\n", x, y,
            cw, ch, col);
    if (st == CELL_DIVERGED || c->ndiv > 0) {
        double m = fmin(cw, ch) * (st == CELL_DIVERGED ? 0.3 : 0.15);
        double cx = x + cw / 2, cy = y + ch / 2;
        if (st != CELL_DIVERGED) cx = x + cw - m - 3, cy = y + m + 3;
        fprintf(f, "<path class=\"xmark\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"#000000\" "
                   "stroke-width=\"2\"/>\n",
                cx - m, cy - m, cx + m, cy + m, cx + m, cy - m, cx - m, cy + m);
    }
    /* the number, when the cell is big enough */
    if (cw >= 44 && ch >= 26 && c->nrun > 0) sweep_cell_text_(f, c, st, z, zlo, zhi, x, y, cw, ch);
    fputs("</g>\n", f);
    return st;
}

/* The heat map's category labels, thinned when crowded; the x ones rotated when long. */
static void sweep_labels_(FILE *f, const frame_t *fr, const cats_t *xc, const cats_t *yc, double cw, double ch)
{
    size_t nx = xc->n, ny = yc->n;
    size_t maxlen = 0;
    for (size_t i = 0; i < nx; i++) maxlen = strlen(xc->v[i]) > maxlen ? strlen(xc->v[i]) : maxlen;
    int rot = maxlen * 7.0 > cw;
    size_t every = (size_t)ceil((rot ? 14.0 : maxlen * 7.0 + 6) / cw);
    if (every < 1) every = 1;
    for (size_t i = 0; i < nx; i += every) {
        double x = fr->x0 + cw * (i + 0.5);
        char t[40], tr[96];
        shorten_(xc->v[i], t, sizeof t, 14);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x, fr->y1, x,
                fr->y1 + 5);
        if (rot) {
            snprintf(tr, sizeof tr, "transform=\"rotate(-35 %.1f %.1f)\"", x, fr->y1 + 16);
            text_(f, x, fr->y1 + 16, "end", tr, t);
        } else {
            text_(f, x, fr->y1 + 18, "middle", NULL, t);
        }
    }
    every = (size_t)ceil(14.0 / ch);
    if (every < 1) every = 1;
    for (size_t i = 0; i < ny; i += every) {
        double y = fr->y0 + ch * (ny - 1 - i + 0.5);
        char t[40];
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", fr->x0 - 5, y,
                fr->x0, y);
        text_(f, fr->x0 - 8, y + 4, "end", NULL, shorten_(yc->v[i], t, sizeof t, 12));
    }
}

static char *sweep_svg_(const char *sweep_dir, const char *xkey, const char *ykey,
                        const cats_t *xc, const cats_t *yc, const sweep_cell *cell, int zlog)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    size_t nx = xc->n, ny = yc->n;
    char title[512];
    snprintf(title, sizeof title, "sweep outcome: %.200s (final loss; X = diverged)", sweep_dir);
    frame_t fr = {110, FIG_W - 160, 40, FIG_H - 80};
    svg_open_(f, title, FIG_W, FIG_H);
    double cw = (fr.x1 - fr.x0) / (double)nx, ch = (fr.y1 - fr.y0) / (double)ny;
    double zlo, zhi;
    sweep_zrange_(cell, nx * ny, zlog, &zlo, &zhi);
    unsigned states = 0;
    fputs("<g class=\"cells\">\n", f);
    for (size_t yi = 0; yi < ny; yi++) {
        for (size_t xi = 0; xi < nx; xi++) {
            double x = fr.x0 + cw * xi, y = fr.y0 + ch * (ny - 1 - yi); /* first y value at the bottom */
            int st = sweep_cell_svg_(f, &cell[yi * nx + xi], x, y, cw, ch, zlog, zlo, zhi);
            if (st != CELL_VALUE) states |= 1u << st;
        }
    }
    fputs("</g>\n", f);
    axes_(f, &fr, NULL, NULL, xkey, ykey ? ykey : "", 0, 0);
    sweep_labels_(f, &fr, xc, yc, cw, ch);
    colorbar_(f, fr.x1 + 18, fr.y0, fr.y1, zlo, zhi, zlog ? "log10 final loss" : "final loss", states);
    svg_close_(f);
    return ms_close_(&ms);
}

/* The points table of report.html: a row per row of summary.csv, the status cell classed by its value. */
static void report_points_table_(FILE *f, const clgrad_csv *t)
{
    fputs("<table class=\"sweep sortable\" id=\"points-table\">\n<thead><tr>", f);
    for (size_t c = 0; c < t->ncols; c++)
        fputs("<th data-key=\"", f), esc_(f, t->names[c]), fputs("\">", f), esc_(f, t->names[c]), fputs("</th>", f);
    fputs("</tr></thead>\n<tbody>\n", f);
    int cst = clgrad_csv_col(t, "status");
    for (size_t r = 0; r < t->nrows; r++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *v = clgrad_csv_text(t, r, (int)c);
            if ((int)c == cst) fputs("<td class=\"status-", f), esc_(f, v), fputs("\">", f);
            else fputs("<td>", f);
            esc_(f, v), fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* The script that sorts the points table by a clicked heading or #sort=KEY, then the end of the page. */
static void report_sort_script_(FILE *f)
{
    /* Inline (no network).  Written without '<' and '&' so that the
    ** page stays well-formed XML as well as HTML. */
    fputs("<script>\n"
          "(function () {\n"
          "  var table = document.getElementById('points-table');\n"
          "  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;\n"
          "  function num(s) {\n"
          "    s = s.trim().toLowerCase();\n"
          "    if (s === '') return NaN;\n"
          "    if (s === 'inf' || s === '+inf' || s === 'infinity') return Infinity;\n"
          "    if (s === '-inf' || s === '-infinity') return -Infinity;\n"
          "    return Number(s);\n"
          "  }\n"
          "  function cmp(x, y) {\n"
          "    var a = num(x), b = num(y);\n"
          "    if (!isNaN(a)) return a === b ? 0 : (a > b ? 1 : -1);\n"
          "    return x.localeCompare(y);\n"
          "  }\n"
          "  function sortBy(col, dir) {\n"
          "    var rows = Array.prototype.slice.call(body.rows);\n"
          "    rows.sort(function (p, q) {\n"
          "      var x = p.cells[col].textContent, y = q.cells[col].textContent;\n"
          "      var nx = isNaN(num(x)), ny = isNaN(num(y));\n"
          "      if (nx !== ny) return nx ? 1 : -1; /* numbers first, whatever the direction */\n"
          "      return dir * cmp(x, y);\n"
          "    });\n"
          "    rows.forEach(function (r) { body.appendChild(r); });\n"
          "    for (var i = 0; i !== heads.length; i++) {\n"
          "      heads[i].removeAttribute('aria-sort');\n"
          "      heads[i].textContent = heads[i].getAttribute('data-key');\n"
          "    }\n"
          "    heads[col].setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');\n"
          "    heads[col].textContent = heads[col].getAttribute('data-key') + (dir === 1 ? ' \\u25b2' : ' \\u25bc');\n"
          "    table.setAttribute('data-sorted', (dir === 1 ? '' : '-') + heads[col].getAttribute('data-key'));\n"
          "  }\n"
          "  Array.prototype.forEach.call(heads, function (th, i) {\n"
          "    th.addEventListener('click', function () {\n"
          "      sortBy(i, th.getAttribute('aria-sort') === 'ascending' ? -1 : 1);\n"
          "    });\n"
          "  });\n"
          "  var m = /^#sort=(-?)(.+)$/.exec(decodeURIComponent(location.hash));\n"
          "  if (m) Array.prototype.forEach.call(heads, function (th, i) {\n"
          "    if (th.getAttribute('data-key') === m[2]) sortBy(i, m[1] ? -1 : 1);\n"
          "  });\n"
          "})();\n"
          "</script>\n</body>\n</html>\n",
          f);
}

static char *report_sweep_(const char *sweep_dir, const clgrad_csv *t, const figlist *figs,
                           const clgrad_lr_sens *lrs)
{
    mstream ms;
    if (ms_open_(&ms) != 0) return NULL;
    FILE *f = ms.f;
    mstream tm;
    if (ms_open_(&tm) != 0) {
        fclose(ms.f), free(ms.buf);
        return NULL;
    }
    fputs("clgrad sweep report: ", tm.f), esc_(tm.f, sweep_dir);
    char *title = ms_close_(&tm);
    fprintf(f, html_head_, title ? title : "clgrad sweep report");
    fprintf(f, "<h1>%s</h1>\n", title ? title : "clgrad sweep report");
    free(title);
    /* optim.lr swept: the LR sensitivity first (its figure, the definition, the numbers), then the heat map */
    figlist rest = *figs;
    if (lrs && lrs->has_lr && figs->n == 2 && !strcmp(figs->f[1].name, "lr_sensitivity.svg")) {
        html_lr_(f, lrs, &figs->f[1]);
        rest.n = 1;
    }
    html_figures_(f, &rest);
    fprintf(f, "<h2 id=\"points\">Points (%zu)</h2>\n<p>Every point of <code>summary.csv</code>. Click a column "
               "heading to sort by it (again: reverse); numbers sort as numbers, non-finite and empty values last. "
               "<code>report.html#sort=KEY</code> (or <code>#sort=-KEY</code>, descending) opens the page sorted.</p>\n",
            t->nrows);
    report_points_table_(f, t);
    report_sort_script_(f);
    return ms_close_(&ms);
}

clgrad_status clgrad_plot_sweep(const char *sweep_dir, const char *xkey, const char *ykey, const char *outdir,
                                char *why, size_t nwhy)
{
    return clgrad_plot_sweep_lr(sweep_dir, xkey, ykey, outdir, NULL, why, nwhy);
}

/* The heat map's default axes: optim.lr (when swept), then the other swept keys in order. */
static clgrad_status sweep_default_axes_(const clgrad_csv *t, const clgrad_lr_sens *ls, const char **xkey,
                                         const char **ykey, const char *path, char *why, size_t nwhy)
{
    int cst0 = clgrad_csv_col(t, "status"), k0 = t->ncols > 0 && !strcmp(t->names[0], "index") ? 1 : 0;
    if (ls->has_lr) *xkey = LR_KEY;
    for (int c = k0; c < cst0 && !(*xkey && *ykey); c++) {
        if (*xkey && !strcmp(t->names[c], *xkey)) continue;
        if (!*xkey) *xkey = t->names[c];
        else if (!*ykey) *ykey = t->names[c];
    }
    if (!*xkey)
        return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s: no swept key (no column before status); give --x KEY", path);
    return CLGRAD_OK;
}

/* The error for an axis key that summary.csv has no column for, listing the columns it has. */
static clgrad_status sweep_no_column_(const clgrad_csv *t, const char *key, const char *path, char *why, size_t nwhy)
{
    char cols[600] = "";
    for (size_t c = 0; c < t->ncols; c++) {
        size_t l = strlen(cols);
        snprintf(cols + l, sizeof cols - l, "%s%s", c ? ", " : "", t->names[c]);
    }
    return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s has no column \"%s\" (columns: %s)", path, key, cols);
}

/* Each row into its heat-map cell (runs, diverged, failed, loss sum); returns whether the colour scale is log. */
static int sweep_fill_cells_(const clgrad_csv *t, int cx, int cy, int cst, int cl, int cd, const cats_t *xc,
                             const cats_t *yc, sweep_cell *cell)
{
    int zlog = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t r = 0; r < t->nrows; r++) {
        size_t xi = cat_index_(xc, clgrad_csv_text(t, r, cx));
        size_t yi = cy >= 0 ? cat_index_(yc, clgrad_csv_text(t, r, cy)) : 0;
        sweep_cell *c = &cell[yi * xc->n + xi];
        const char *status = clgrad_csv_text(t, r, cst);
        double loss = clgrad_csv_num(t, r, cl);
        if (c->nrun == 0) c->first_div_step = NAN;
        c->nrun++;
        if (!strcmp(status, "diverged") || (!strcmp(status, "completed") && !isfinite(loss) &&
                                             clgrad_csv_present(t, r, cl))) {
            c->ndiv++;
            double ds = clgrad_csv_num(t, r, cd);
            if (isfinite(ds) && !(ds >= c->first_div_step)) c->first_div_step = ds;
        } else if (strcmp(status, "completed") != 0 || !isfinite(loss)) {
            c->nfail++;
        } else {
            c->loss_sum += loss, c->nloss++;
            if (loss <= 0) zlog = 0;
            lo = fmin(lo, loss), hi = fmax(hi, loss);
        }
    }
    return zlog && lo <= hi && hi / lo > 10;
}

/* The sweep's figures: the heat map, and when optim.lr is swept lr_sensitivity.svg and its CSV (*lcsv). */
static clgrad_status sweep_figures_(figlist *figs, char **lcsv, const char *sweep_dir, const char *xkey,
                                    const char *ykey, const cats_t *xc, const cats_t *yc, const sweep_cell *cell,
                                    int zlog, const clgrad_lr_sens *ls, const char *path, char *why, size_t nwhy)
{
    clgrad_status st;
    if ((st = fig_add_(figs, "sweep_heatmap.svg", "final loss per swept setting; X marks diverged runs",
                       sweep_svg_(sweep_dir, xkey, ykey, xc, yc, cell, zlog), why, nwhy)) != CLGRAD_OK)
        return st;
    if (ls->has_lr) {
        if ((st = fig_add_(figs, "lr_sensitivity.svg",
                           "final loss against the learning rate, a curve per setting of the other swept keys; "
                           "ring: best final loss; dashed: divergence edge; top band: runs counted as l0 "
                           "(cross: diverged, triangle: non-finite or above l0)",
                           lr_svg_(ls), why, nwhy)) != CLGRAD_OK)
            return st;
        if (!(*lcsv = lr_csv_(ls))) return clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory plotting %s", path);
    }
    return CLGRAD_OK;
}

clgrad_status clgrad_plot_sweep_lr(const char *sweep_dir, const char *xkey, const char *ykey, const char *outdir,
                                   clgrad_lr_sens *lrs, char *why, size_t nwhy)
{
    char path[1200];
    clgrad_csv t;
    clgrad_status st;
    clgrad_lr_sens own = {0}, *ls = lrs ? lrs : &own;
    memset(ls, 0, sizeof *ls);
    snprintf(path, sizeof path, "%s/summary.csv", sweep_dir);
    if ((st = clgrad_csv_read(path, &t, why, nwhy)) != CLGRAD_OK) return st;
    cats_t xc = {0}, yc = {0};
    sweep_cell *cell = NULL;
    figlist figs = {0};
    char *html = NULL, *lcsv = NULL;
    if ((st = clgrad_sweep_lr_read(sweep_dir, ls, why, nwhy)) != CLGRAD_OK) goto out;
    if (!xkey && (st = sweep_default_axes_(&t, ls, &xkey, &ykey, path, why, nwhy)) != CLGRAD_OK) goto out;
    int cx = clgrad_csv_col(&t, xkey), cy = ykey ? clgrad_csv_col(&t, ykey) : -1;
    if (cx < 0 || (ykey && cy < 0)) {
        st = sweep_no_column_(&t, cx < 0 ? xkey : ykey, path, why, nwhy);
        goto out;
    }
    /* the outcome: the final test loss as clgrad sweep writes it (else the train loss, or final_loss) */
    int cst = clgrad_csv_col(&t, "status"), cl = clgrad_csv_col(&t, "final_test_loss");
    if (cl < 0) cl = clgrad_csv_col(&t, "final_train_loss");
    if (cl < 0) cl = clgrad_csv_col(&t, "final_loss");
    int cd = clgrad_csv_col(&t, "diverge_step");
    if (cst < 0 || cl < 0) {
        st = clgrad_failf(CLGRAD_E_IO, why, nwhy, "%s: needs the columns status and final_test_loss (or final_train_loss)", path);
        goto out;
    }
    if (cats_(&t, cx, &xc) != 0 || cats_(&t, cy, &yc) != 0) goto oom;
    cell = calloc((xc.n * yc.n > 0 ? xc.n * yc.n : 1), sizeof *cell);
    if (!cell) goto oom;
    int zlog = sweep_fill_cells_(&t, cx, cy, cst, cl, cd, &xc, &yc, cell);
    if ((st = sweep_figures_(&figs, &lcsv, sweep_dir, xkey, ykey, &xc, &yc, cell, zlog, ls, path, why, nwhy)) !=
        CLGRAD_OK)
        goto out;
    html = report_sweep_(sweep_dir, &t, &figs, ls);
    if (!html) goto oom;
    st = write_figs_(outdir, &figs, html, NULL, why, nwhy);
    if (st == CLGRAD_OK && lcsv) st = write_file_(outdir, "lr_sensitivity.csv", NULL, lcsv, why, nwhy);
    if (st == CLGRAD_OK && nwhy) {
        why[0] = '\0';
        clgrad_csv_warning(&t, why, nwhy);
    }
    goto out;
oom:
    st = clgrad_failf(CLGRAD_E_NOMEM, why, nwhy, "out of memory plotting %s", path);
out:
    free(html);
    free(lcsv);
    figs_free_(&figs);
    free(cell);
    free(xc.v), free(yc.v);
    clgrad_csv_free(&t);
    if (st != CLGRAD_OK || ls == &own) clgrad_lr_sens_free(ls);
    return st;
}

/* ---- command line ------------------------------------------------------------------------------------------ */

static void plot_usage_(FILE *f)
{
    fprintf(f,
            "usage: clgrad plot RUN_DIR [RUN_DIR ...] [--out DIR] [--smooth W]\n"
            "       clgrad plot --sweep SWEEP_DIR [--x KEY [--y KEY]] [--out DIR]\n"
            "\n"
            "Write SVG figures and a self-contained report.html (default: into the first\n"
            "RUN_DIR/plots/, or SWEEP_DIR/plots/).  report.html opens with the settings (several\n"
            "runs: the keys that differ), the outcome (status, divergence, final losses), then\n"
            "the figures; manifests folded at the end.  Figures of one kind share their y range\n"
            "(heat maps: colour scale) across runs.  On log axes an exact 0 (an\n"
            "underflowed gradient) is drawn in a \"0 (underflow)\" band; NaN/Inf are gaps.\n"
            "  loss.svg            train and test loss over steps (several runs: one line each)\n"
            "  grad_norm.svg       gradient norm before/after clipping (after: only runs that clip),\n"
            "                      log scale, divergence marked\n"
            "  layers_grad.svg     per-layer ||dL/dh|| over steps, log scale\n"
            "  layers_heatmap.svg  layer x step heat map of log10 ||dL/dh||\n"
            "  timesteps.svg       RNN runs: ||dL/dh_t|| over t at a few logged steps\n"
            "  timesteps_heatmap.svg  RNN runs: time step x training step heat map of log10 ||dL/dh_t||\n"
            "  cell_timesteps.svg, cell_timesteps_heatmap.svg  LSTM runs: the same for ||dL/dc_t||\n"
            "  hist_LAYER_{weight,grad,act}.svg  runs with histograms.csv: power-of-two bin of |x| x step\n"
            "      heat map of log10 (fraction of entries), per layer and tensor\n"
            "  (per-run figures of the 2nd, 3rd... run are named *.run2.svg, *.run3.svg ...)\n"
            "  --smooth W          also draw the train loss smoothed by an exponential moving average\n"
            "                      m = W*m + (1-W)*loss (0 < W < 1, e.g. 0.9), the raw curve faint behind\n"
            "  --sweep: sweep_heatmap.svg, final loss over the swept keys KEY (columns of\n"
            "  SWEEP_DIR/summary.csv), diverged cells marked with an X, and report.html with\n"
            "  the table of points (click a column to sort; report.html#sort=KEY or #sort=-KEY)\n"
            "  (default --x: optim.lr when swept, else the first swept key; --y: the next one).\n"
            "  When optim.lr is swept also lr_sensitivity.svg: final loss against lr (log x), a curve\n"
            "  per setting of the other swept keys, the best loss ringed, the divergence edge (smallest\n"
            "  lr that diverged or ended non-finite or above l0) dashed, such runs marked in a band\n"
            "  at the top (cross: diverged, triangle: non-finite or above l0); and lr_sensitivity.csv\n"
            "  with each curve's LR sensitivity (Wortsman et al. 2023):\n"
            "  the mean over the swept lr of min(final loss, l0) - best final loss, l0 = the step-1\n"
            "  train loss (loss of the initial weights), final loss = final_test_loss if every\n"
            "  completed point has one, else final_train_loss; also printed here\n"
            "\n"
            "exit status: 0 written, 1 read or write error, 2 usage error\n");
}

/* The LR-sensitivity table on stdout. */
static void print_lr_(FILE *f, const clgrad_lr_sens *s)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    fprintf(f, "LR sensitivity (Wortsman et al. 2023: mean over the swept lr of min(loss, l0) - best loss; "
               "loss = %s, l0 = step-1 train loss):\n",
            s->loss_col);
    size_t w = 5;
    for (size_t ci = 0; ci < s->ncurves; ci++) w = strlen(s->curve[ci].label) > w ? strlen(s->curve[ci].label) : w;
    if (w > 60) w = 60;
    fprintf(f, "  %-*s  %11s  %10s  %10s  %10s  %10s\n", (int)w, "curve", "sensitivity", "best_lr", "best_loss",
            "edge_lr", "l0");
    for (size_t ci = 0; ci < s->ncurves; ci++) {
        const clgrad_lr_curve *c = &s->curve[ci];
        fprintf(f, "  %-*s  %11s  %10s  %10s  %10s  %10s\n", (int)w, c->label, lr_num_(b1, sizeof b1, c->sensitivity),
                lr_num_(b2, sizeof b2, c->best_lr), lr_num_(b3, sizeof b3, c->best_loss),
                isnan(c->edge_lr) ? "none" : lr_num_(b4, sizeof b4, c->edge_lr), lr_num_(b5, sizeof b5, c->loss0));
        if (c->note[0]) fprintf(f, "  %-*s  (%s)\n", (int)w, "", c->note);
    }
}

/* clgrad plot --sweep SWEEP_DIR: the sweep's heat map, LR sensitivity and report; the exit status. */
static int plot_sweep_(const char *sweep, int n, const char *xkey, const char *ykey, const char *out)
{
    char why[1536], dflt[1200];
    if (n > 0 || (ykey && !xkey)) {
        fprintf(stderr, "clgrad plot: --sweep takes one SWEEP_DIR (and --x KEY [--y KEY]), no run dirs\n");
        plot_usage_(stderr);
        return 2;
    }
    if (!out) snprintf(dflt, sizeof dflt, "%s/plots", sweep), out = dflt;
    clgrad_lr_sens lrs;
    if (clgrad_plot_sweep_lr(sweep, xkey, ykey, out, &lrs, why, sizeof why) != CLGRAD_OK) {
        fprintf(stderr, "clgrad plot: %s\n", why);
        return 1;
    }
    if (why[0]) fprintf(stderr, "clgrad plot: warning: %s\n", why);
    if (lrs.has_lr) {
        printf("wrote %s/sweep_heatmap.svg, %s/lr_sensitivity.svg, %s/lr_sensitivity.csv and %s/report.html\n",
               out, out, out, out);
        print_lr_(stdout, &lrs);
    } else {
        printf("wrote %s/sweep_heatmap.svg and %s/report.html\n", out, out);
        printf("clgrad plot: %s\n", lrs.note);
    }
    clgrad_lr_sens_free(&lrs);
    return 0;
}

/* clgrad plot RUN_DIR...: read the runs, write their figures and report; the exit status. */
static int plot_dirs_(const char **dirs, int n, const plot_opts *opts, const char *out)
{
    char why[1536], dflt[1200];
    int rc = 1;
    clgrad_rundata *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) { fprintf(stderr, "clgrad plot: out of memory\n"); return 1; }
    for (int i = 0; i < n; i++) {
        if (clgrad_rundata_read(dirs[i], 0, &runs[i], why, sizeof why) != CLGRAD_OK) {
            fprintf(stderr, "clgrad plot: %s\n", why);
            goto out;
        }
        clgrad_rundata_print_warnings(stderr, "clgrad plot", &runs[i]);
    }
    if (!out) snprintf(dflt, sizeof dflt, "%s/plots", dirs[0]), out = dflt;
    int nw = 0;
    if (plot_runs_(runs, n, opts, out, &nw, why, sizeof why) != CLGRAD_OK) {
        fprintf(stderr, "clgrad plot: %s\n", why);
        goto out;
    }
    printf("wrote %d files into %s (open %s/report.html)\n", nw, out, out);
    rc = 0;
out:
    for (int i = 0; runs && i < n; i++) clgrad_rundata_free(&runs[i]);
    free(runs);
    return rc;
}

int clgrad_cli_plot(int argc, char **argv)
{
    const char *out = NULL, *sweep = NULL, *xkey = NULL, *ykey = NULL, *smooth = NULL;
    plot_opts opts = {0};
    int n = 0, rc = 2;
    const char **dirs = calloc((size_t)(argc > 0 ? argc : 1), sizeof *dirs);
    if (!dirs) { fprintf(stderr, "clgrad plot: out of memory\n"); return 1; }
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, "plot", "clgrad plot", NULL, argc, argv) != 0) goto out;
    for (int r; (r = clgrad_cli_args_next(&g)) != -1;) {
        const char *a = r == 1 ? g.opt : g.value;
        const char **dst = r != 1                  ? NULL
                           : !strcmp(a, "--out")   ? &out
                           : !strcmp(a, "--sweep") ? &sweep
                           : !strcmp(a, "--x")     ? &xkey
                           : !strcmp(a, "--y")     ? &ykey
                           : !strcmp(a, "--smooth") ? &smooth
                                                    : NULL;
        if (r == -2) {
            clgrad_cli_args_free(&g);
            goto out;
        } else if (dst) {
            *dst = g.value;
        } else if (r == 1 && !strcmp(a, "--help")) {
            plot_usage_(stdout);
            rc = 0;
            clgrad_cli_args_free(&g);
            goto out;
        } else if (r == 1) {
            clgrad_cli_unknown_option("plot", g.elem);
            plot_usage_(stderr);
            clgrad_cli_args_free(&g);
            goto out;
        } else {
            dirs[n++] = a;
        }
    }
    clgrad_cli_args_free(&g);
    if (smooth) {
        char *end;
        opts.smooth = strtod(smooth, &end);
        if (end == smooth || *end || !(opts.smooth > 0 && opts.smooth < 1)) {
            fprintf(stderr, "clgrad plot: --smooth takes an EMA weight W with 0 < W < 1 (e.g. 0.9), not %s\n", smooth);
            goto out;
        }
        if (sweep) {
            fprintf(stderr, "clgrad plot: --smooth goes with run directories, not --sweep\n");
            goto out;
        }
    }
    if (sweep) {
        rc = plot_sweep_(sweep, n, xkey, ykey, out);
        goto out;
    }
    if (xkey || ykey) {
        fprintf(stderr, "clgrad plot: --x/--y go with --sweep\n");
        goto out;
    }
    if (n < 1) {
        fprintf(stderr, "clgrad plot: give at least one run directory\n");
        plot_usage_(stderr);
        goto out;
    }
    rc = plot_dirs_(dirs, n, &opts, out);
out:
    free(dirs);
    return rc;
}
