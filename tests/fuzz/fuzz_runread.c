/*
** fuzz_runread.c: libFuzzer harness for the readers of a run directory's
** files (src/run/runread.c): the JSON reader (manifest.json, summary.json,
** sweep.json) and clgrad_csv_read on the CSV splitter (metrics.csv,
** layers.csv, a sweep's summary.csv).  The first byte picks the reader; the
** rest is the text (JSON: up to the first NUL; CSV: written to a scratch
** file whole).  Checks: no crash/UB/leak; JSON: a failure leaves no tree and
** says why, every valid UTF-8 string written back by clgrad_json_escape reads
** back the same; CSV: a failure names the file and leaves nothing, a success
** has whole rows of the header's width, and a cut last line is only noted
** when the text does not end in a line end.
*/
#include "clgrad/report.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct { char *s; size_t n, cap; } buf_;

static void put_(void *u, const char *p, size_t n)
{
    buf_ *b = u;
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->s = realloc(b->s, b->cap);
        FUZZ_CHECK(b->s != NULL, "out of memory");
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void walk_(const clgrad_json *v, int depth)
{
    FUZZ_CHECK(depth < 100, "too deep");
    if (v->type == CLGRAD_JSON_STRING) {
        FUZZ_CHECK(v->str != NULL, "string without text");
        if (clgrad_utf8_valid(v->str)) {
            buf_ b = {0};
            clgrad_json_escape(v->str, put_, &b);
            clgrad_json *back = NULL;
            char why[128];
            FUZZ_CHECK(clgrad_json_parse(b.s, &back, why, sizeof why) == CLGRAD_OK, "escaped string does not parse: %s", why);
            FUZZ_CHECK(back->type == CLGRAD_JSON_STRING && strcmp(back->str, v->str) == 0, "string changed: %s", b.s);
            clgrad_json_free(back);
            free(b.s);
        }
    }
    if (v->type == CLGRAD_JSON_OBJECT || v->type == CLGRAD_JSON_ARRAY)
        for (size_t i = 0; i < v->n; i++) {
            if (v->type == CLGRAD_JSON_OBJECT) FUZZ_CHECK(v->keys[i] != NULL, "member without a name");
            walk_(&v->items[i], depth + 1);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    const uint8_t which = data[0];
    data++, size--;
    char why[512];
    if (which % 2 == 0) {
        char *text = malloc(size + 1);
        if (!text) return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        clgrad_json *v = (clgrad_json *)1;
        why[0] = '\0';
        if (clgrad_json_parse(text, &v, why, sizeof why) == CLGRAD_OK) {
            FUZZ_CHECK(v != NULL, "success without a tree");
            walk_(v, 0);
            clgrad_json_free(v);
        } else {
            FUZZ_CHECK(v == NULL, "failure left a tree");
            FUZZ_CHECK(why[0] != '\0', "failure without a message");
        }
        free(text);
        return 0;
    }
    char path[400];
    fuzz_file_(0, "fuzz.csv", data, size, path, sizeof path);
    clgrad_csv t;
    if (clgrad_csv_read(path, &t, why, sizeof why) != CLGRAD_OK) {
        FUZZ_CHECK(strstr(why, path) != NULL, "message does not name the file: %s", why);
        FUZZ_CHECK(t.names == NULL && t.text == NULL && t.buf == NULL && t.nrows == 0, "failure left data behind");
        return 0;
    }
    FUZZ_CHECK(t.ncols >= 1 && t.names != NULL, "no columns");
    for (size_t r = 0; r < t.nrows; r++)
        for (size_t c = 0; c < t.ncols; c++) FUZZ_CHECK(clgrad_csv_text(&t, r, (int)c) != NULL, "missing field");
    size_t len = strnlen((const char *)data, size);
    if (t.cut_line)
        FUZZ_CHECK(len > 0 && data[len - 1] != '\n' && data[len - 1] != '\r', "cut line noted after a line end");
    char w[2048];
    FUZZ_CHECK((clgrad_csv_warning(&t, w, sizeof w) != NULL) == (t.cut_line != 0), "warning disagrees");
    clgrad_csv_free(&t);
    return 0;
}
