/*
** csv.c: the CSV record splitter (util/csv.h).
*/
#include "util/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void clgrad_csv_begin(clgrad_csv_reader *r, char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->p = text, r->end = text + len, r->line = 1;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) r->p += 3; /* UTF-8 BOM */
}

void clgrad_csv_end(clgrad_csv_reader *r)
{
    free(r->f);
    free(r->fline);
    r->f = NULL, r->fline = NULL, r->nf = r->cap = 0;
}

static int blank_(char c) { return c == ' ' || c == '\t'; }

static int at_eol_(const clgrad_csv_reader *r) { return r->p >= r->end || *r->p == '\n' || *r->p == '\r'; }

/* Consume a line end (LF, CRLF or a lone CR) if there is one; count the line. */
static void eat_eol_(clgrad_csv_reader *r)
{
    if (r->p < r->end && *r->p == '\r') {
        r->p++;
        if (r->p < r->end && *r->p == '\n') r->p++;
    } else if (r->p < r->end && *r->p == '\n') {
        r->p++;
    }
    r->line++;
}

static int fail_(clgrad_csv_reader *r, int err, size_t line, size_t field)
{
    r->err = err, r->err_line = line, r->err_field = field;
    return -1;
}

int clgrad_csv_next(clgrad_csv_reader *r)
{
    r->nf = 0;
    r->complete = 0;
    r->err = 0;
    /* lines holding only spaces and tabs */
    for (;;) {
        if (r->p >= r->end) return 0;
        char *q = r->p;
        while (q < r->end && blank_(*q)) q++;
        if (q < r->end && *q != '\n' && *q != '\r') break;
        r->p = q;
        if (q >= r->end) return 0;
        eat_eol_(r);
    }
    r->rec = r->p, r->rec_line = r->line;
    char *o = r->p; /* the unescaped text goes here: never past p */
    for (;;) {
        if (r->nf == r->cap) {
            size_t nc = r->cap ? r->cap * 2 : 16;
            char **f = nc < SIZE_MAX / sizeof *f ? realloc(r->f, nc * sizeof *f) : NULL;
            if (f) r->f = f;
            size_t *fl = f ? realloc(r->fline, nc * sizeof *fl) : NULL;
            if (fl) r->fline = fl;
            if (!f || !fl) return fail_(r, CLGRAD_CSVR_NOMEM, r->line, r->nf);
            r->cap = nc;
        }
        size_t j = r->nf++;
        char *q = r->p;
        while (q < r->end && blank_(*q)) q++;
        r->fline[j] = r->line;
        r->f[j] = o;
        if (q < r->end && *q == '"') {
            size_t open = r->line;
            r->p = q + 1;
            for (;;) {
                if (r->p >= r->end) return fail_(r, CLGRAD_CSVR_UNTERMINATED, open, j);
                char ch = *r->p;
                if (ch == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        *o++ = '"';
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (ch == '\0') return fail_(r, CLGRAD_CSVR_NUL, r->line, j);
                if (ch == '\n' || (ch == '\r' && (r->p + 1 >= r->end || r->p[1] != '\n'))) r->line++;
                *o++ = ch;
                r->p++;
            }
            while (r->p < r->end && blank_(*r->p)) r->p++;
            if (!at_eol_(r) && *r->p != ',') {
                r->err_char = *r->p;
                return fail_(r, CLGRAD_CSVR_AFTER_QUOTE, r->line, j);
            }
        } else {
            while (!at_eol_(r) && *r->p != ',') {
                if (*r->p == '"') return fail_(r, CLGRAD_CSVR_QUOTE_IN_FIELD, r->line, j);
                if (*r->p == '\0') return fail_(r, CLGRAD_CSVR_NUL, r->line, j);
                *o++ = *r->p++;
            }
        }
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            *o++ = '\0';
            continue;
        }
        if (r->p < r->end) {
            eat_eol_(r);
            r->complete = 1;
        }
        *o = '\0';
        return 1;
    }
}
