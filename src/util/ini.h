/*
** ini.h: the one INI line lexer of clgrad (experiment files: config.c reads
** them, sweep.c reads its [sweep] section and copies the file).  The text is
** cut into lines (LF, CRLF or a lone CR; a UTF-8 BOM at the start skipped)
** and each line classified after trimming spaces and tabs: blank or a
** comment ('#' or ';' first), a "[section]" header, a header without ']',
** a "key = value" line, or a line without '='.  What a line means and the
** messages about it (FILE:LINE: [section] key: ...) are the caller's.
** Internal to clgrad (also used by src/cli/sweep.c).
*/
#ifndef CLGRAD_UTIL_INI_H
#define CLGRAD_UTIL_INI_H
#include <stddef.h>

typedef enum {
    CLGRAD_INI_BLANK,      /* empty, only spaces/tabs, or a comment */
    CLGRAD_INI_SECTION,    /* "[name] rest" */
    CLGRAD_INI_BAD_HEADER, /* starts with '[' but has no ']' (key/value set when it holds a '=') */
    CLGRAD_INI_KEY,        /* "key = value" (the key may be empty) */
    CLGRAD_INI_NO_EQ,      /* anything else */
} clgrad_ini_kind;

typedef struct {
    clgrad_ini_kind kind;
    int line;                      /* 1-based */
    const char *raw;               /* the line as written, without its end */
    size_t nraw, neol;             /* its length; its end's bytes (0, 1 or 2) */
    const char *s;                 /* the line trimmed */
    size_t n;
    const char *section;           /* SECTION: its name, trimmed; else the last header's (NULL before any) */
    size_t nsection;
    const char *rest;              /* SECTION: the text after ']', trimmed */
    size_t nrest;
    const char *key;               /* KEY (and BAD_HEADER with a '='): before the first '=', trimmed; else NULL */
    size_t nkey;
    const char *value;             /* after that '=', as written (see clgrad_ini_value) */
    size_t nvalue;
} clgrad_ini_line;

typedef struct {
    const char *text;
    size_t len, pos;
    int line;
    const char *section;
    size_t nsection;
} clgrad_ini;

void clgrad_ini_begin(clgrad_ini *it, const char *text, size_t len);
/* The next line (every line, blank ones too): 1, or 0 at the end. */
int clgrad_ini_next(clgrad_ini *it, clgrad_ini_line *l);

enum { CLGRAD_INI_NO_CLOSE = -1, CLGRAD_INI_AFTER_QUOTE = -2 };
/* The value of a "key = value" line (s, n: the text after '='): leading
** blanks skipped; "quoted" or 'quoted': the text between the quotes;
** else up to a comment ('#' or ';' first or after a blank), trailing blanks
** dropped.  0 with (*v, *nv); CLGRAD_INI_NO_CLOSE (*v at the opening quote);
** CLGRAD_INI_AFTER_QUOTE: text other than a comment after the closing quote,
** at (*rest, *nrest) ((*v, *nv) set as for 0). */
int clgrad_ini_value(const char *s, size_t n, const char **v, size_t *nv, const char **rest, size_t *nrest);
/* 1 when s[i] starts a comment: '#' or ';' at start or after a blank. */
int clgrad_ini_comment_at(const char *s, size_t i, size_t start);
/* s, n without leading and trailing spaces and tabs. */
void clgrad_ini_trim(const char **s, size_t *n);
#endif
