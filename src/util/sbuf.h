/*
** sbuf.h: the growable string of clgrad (JSON, CSV and message text).  A
** zeroed clgrad_sbuf is empty; s stays NUL-terminated once anything was
** added.  When an allocation fails, oom is set and later additions are
** dropped (the text is then truncated: check oom before using it).
** Internal to clgrad (also used by src/cli/sweep.c).
*/
#ifndef CLGRAD_SBUF_H
#define CLGRAD_SBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct { char *s; size_t len, cap; int oom; } clgrad_sbuf;

void clgrad_sb_putn(clgrad_sbuf *b, const char *s, size_t n);
void clgrad_sb_puts(clgrad_sbuf *b, const char *s);
void clgrad_sb_putc(clgrad_sbuf *b, char c);
void clgrad_sb_vprintf(clgrad_sbuf *b, const char *fmt, va_list ap);
void clgrad_sb_printf(clgrad_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The text so far ("" when empty). */
const char *clgrad_sb_str(const clgrad_sbuf *b);
/* The text, handed over (malloc'd; "" when empty), or NULL when out of
** memory (then freed).  b is left as it was: zero it before reuse. */
char *clgrad_sb_take(clgrad_sbuf *b);
void clgrad_sb_free(clgrad_sbuf *b);
/* One progress line (at most 1023 characters, cut there) formatted and
** handed to fn(user, line); nothing when fn is NULL.  The callers' say_. */
void clgrad_sb_line(void (*fn)(void *, const char *), void *user, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#endif
