/*
** csv.h: the one CSV record splitter of clgrad (data files, a run's
** metrics.csv / layers.csv / timesteps.csv, a sweep's summary.csv).  The
** rules: RFC 4180 quoting ("" is a quote inside a quoted field, which may
** span lines), LF, CRLF or a lone CR ends a line, a UTF-8 BOM at the start is
** skipped, lines holding only spaces and tabs are skipped, spaces and tabs
** around a quoted field are dropped (unquoted fields are kept as they are:
** callers trim), and these are errors: a quote inside an unquoted field,
** text after a closing quote, a quoted field never closed, a NUL byte.
** A record that runs into the end of the text without a line end is read
** but marked (complete = 0): its writer may have been stopped mid-row, and
** the readers of run files leave such a cut last line out (with a warning:
** see clgrad_csv_warning in clgrad/report.h).
** Fields are unescaped in place: the text is modified, and the byte at its
** end must be writable (a NUL terminator, as clgrad_fs_read_all gives).
** Internal to clgrad (also used by src/cli/sweep.c).
*/
#ifndef CLGRAD_UTIL_CSV_H
#define CLGRAD_UTIL_CSV_H
#include <stddef.h>

enum {
    CLGRAD_CSVR_NOMEM = 1,         /* out of memory */
    CLGRAD_CSVR_UNTERMINATED,      /* a quoted field never closed (err_line: where it opened) */
    CLGRAD_CSVR_AFTER_QUOTE,       /* err_char after a closing quote */
    CLGRAD_CSVR_QUOTE_IN_FIELD,    /* a quote inside an unquoted field */
    CLGRAD_CSVR_NUL,               /* a NUL byte */
};

typedef struct {
    char *p, *end;     /* the text not read yet */
    size_t line;       /* physical line at p, 1-based */
    /* the record last read */
    char **f;          /* its fields, unescaped, NUL-terminated (inside the text) */
    size_t *fline;     /* the line each field starts on */
    size_t nf, cap;
    char *rec;         /* where it starts in the text */
    size_t rec_line;   /* its first line */
    int complete;      /* 1: it ended with a line end; 0: with the end of the text */
    /* after an error */
    int err;           /* CLGRAD_CSVR_* */
    size_t err_line, err_field; /* the line, the field (0-based) */
    char err_char;
} clgrad_csv_reader;

/* Start reading text[0, len) (a BOM skipped); text[len] must be writable. */
void clgrad_csv_begin(clgrad_csv_reader *r, char *text, size_t len);
/* The next record: 1 (r->f[0 .. r->nf - 1]), 0 at the end of the text, -1
** on an error (r->err ...; p and line where it was found, rec and rec_line
** the record's start; the text there is partly unescaped: stop reading). */
int clgrad_csv_next(clgrad_csv_reader *r);
/* Free the field arrays (the text is the caller's). */
void clgrad_csv_end(clgrad_csv_reader *r);
#endif
