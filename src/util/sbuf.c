/*
** sbuf.c: the growable string (util/sbuf.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "util/sbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clgrad_sb_putn(clgrad_sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->s, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->s = q, b->cap = cap;
    }
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void clgrad_sb_puts(clgrad_sbuf *b, const char *s) { clgrad_sb_putn(b, s, strlen(s)); }

void clgrad_sb_putc(clgrad_sbuf *b, char c) { clgrad_sb_putn(b, &c, 1); }

void clgrad_sb_vprintf(clgrad_sbuf *b, const char *fmt, va_list ap)
{
    if (b->oom) return;
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->oom = 1;
    } else if ((size_t)n < sizeof small) {
        clgrad_sb_putn(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            clgrad_sb_putn(b, big, (size_t)n);
            free(big);
        } else {
            b->oom = 1;
        }
    }
    va_end(ap2);
}

void clgrad_sb_printf(clgrad_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clgrad_sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void clgrad_sb_line(void (*fn)(void *, const char *), void *user, const char *fmt, ...)
{
    if (!fn) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(user, line);
}

const char *clgrad_sb_str(const clgrad_sbuf *b) { return b->s ? b->s : ""; }

char *clgrad_sb_take(clgrad_sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s ? b->s : strdup("");
}

void clgrad_sb_free(clgrad_sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
