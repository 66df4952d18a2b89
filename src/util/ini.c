/*
** ini.c: the INI line lexer (util/ini.h).
*/
#include "util/ini.h"

#include <string.h>

static int blank_(char c) { return c == ' ' || c == '\t'; }

void clgrad_ini_trim(const char **s, size_t *n)
{
    while (*n && blank_(**s)) (*s)++, (*n)--;
    while (*n && blank_((*s)[*n - 1])) (*n)--;
}

int clgrad_ini_comment_at(const char *s, size_t i, size_t start)
{
    return (s[i] == '#' || s[i] == ';') && (i == start || blank_(s[i - 1]));
}

void clgrad_ini_begin(clgrad_ini *it, const char *text, size_t len)
{
    memset(it, 0, sizeof *it);
    it->text = text, it->len = len;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) it->pos = 3; /* UTF-8 BOM */
}

int clgrad_ini_next(clgrad_ini *it, clgrad_ini_line *l)
{
    if (it->pos >= it->len) return 0;
    memset(l, 0, sizeof *l);
    size_t i = it->pos, j = i;
    while (j < it->len && it->text[j] != '\n' && it->text[j] != '\r') j++;
    size_t e = 0;
    if (j < it->len) e = it->text[j] == '\r' && j + 1 < it->len && it->text[j + 1] == '\n' ? 2 : 1;
    it->pos = j + e;
    l->line = ++it->line;
    l->raw = it->text + i, l->nraw = j - i, l->neol = e;
    const char *s = l->raw;
    size_t n = l->nraw;
    clgrad_ini_trim(&s, &n);
    l->s = s, l->n = n;
    l->section = it->section, l->nsection = it->nsection;
    if (!n || *s == '#' || *s == ';') {
        l->kind = CLGRAD_INI_BLANK;
        return 1;
    }
    if (*s == '[') {
        const char *close = memchr(s, ']', n);
        if (close) {
            const char *name = s + 1, *rest = close + 1;
            size_t nn = (size_t)(close - name), nr = n - (size_t)(rest - s);
            clgrad_ini_trim(&name, &nn);
            clgrad_ini_trim(&rest, &nr);
            l->kind = CLGRAD_INI_SECTION;
            l->section = it->section = name, l->nsection = it->nsection = nn;
            l->rest = rest, l->nrest = nr;
            return 1;
        }
    }
    const char *eq = memchr(s, '=', n);
    l->kind = *s == '[' ? CLGRAD_INI_BAD_HEADER : eq ? CLGRAD_INI_KEY : CLGRAD_INI_NO_EQ;
    if (eq) {
        const char *key = s;
        size_t nk = (size_t)(eq - s);
        clgrad_ini_trim(&key, &nk);
        l->key = key, l->nkey = nk;
        l->value = eq + 1, l->nvalue = n - (size_t)(eq + 1 - s);
    }
    return 1;
}

int clgrad_ini_value(const char *s, size_t n, const char **v, size_t *nv, const char **rest, size_t *nrest)
{
    while (n && blank_(*s)) s++, n--;
    if (n && (*s == '"' || *s == '\'')) {
        const char *close = memchr(s + 1, *s, n - 1);
        if (!close) {
            *v = s, *nv = n;
            return CLGRAD_INI_NO_CLOSE;
        }
        *v = s + 1, *nv = (size_t)(close - s - 1);
        const char *r = close + 1;
        size_t nr = n - (size_t)(r - s);
        while (nr && blank_(*r)) r++, nr--;
        if (nr && *r != '#' && *r != ';') {
            if (rest) *rest = r, *nrest = nr;
            return CLGRAD_INI_AFTER_QUOTE;
        }
        return 0;
    }
    size_t len = 0;
    while (len < n && !clgrad_ini_comment_at(s, len, 0)) len++;
    while (len && blank_(s[len - 1])) len--;
    *v = s, *nv = len;
    return 0;
}
