/*
** test_util.c (unit suite, no device): the one-copy helpers of src/util/ on
** their edge cases: the growable string (util/sbuf.h), reading a whole file
** (clgrad_fs_read_all), the CSV record splitter (util/csv.h: empty text, a
** cut last line, CRLF and lone CR, quotes and "" escapes, fields spanning
** lines, BOM, blank lines, each error with its line and field), the INI line
** lexer (util/ini.h: kinds, sections, BOM, line ends, values with quotes and
** comments) and the JSON reader (clgrad_json_parse: UTF-8, \u escapes and
** surrogate pairs, huge numbers, non-finite values as the run files write
** them: null + "KEY_nonfinite").
*/
#include "clgrad/report.h"
#include "util/csv.h"
#include "util/fsutil.h"
#include "util/ini.h"
#include "util/sbuf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_[256];

static void setup_(void)
{
    snprintf(dir_, sizeof dir_, "/tmp/clgrad-test-util-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir_));
}

static void teardown_(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    ck_assert_int_eq(system(cmd), 0);
}

/* dir_/name with len bytes of text; the path in a static buffer. */
static const char *file_(const char *name, const char *text, size_t len)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", dir_, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* ---- sbuf ---- */

START_TEST(sbuf_grows_and_formats)
{
    clgrad_sbuf b = {0};
    ck_assert_str_eq(clgrad_sb_str(&b), "");
    char *e = clgrad_sb_take(&b); /* empty: "" handed over */
    ck_assert_str_eq(e, "");
    free(e);
    memset(&b, 0, sizeof b);
    clgrad_sb_putn(&b, "ab\0cd", 5); /* bytes as given, NUL included */
    ck_assert_uint_eq(b.len, 5);
    ck_assert(memcmp(b.s, "ab\0cd", 6) == 0);
    b.len = 0;
    clgrad_sb_puts(&b, "x");
    clgrad_sb_putc(&b, '=');
    clgrad_sb_printf(&b, "%d|%.9g|%s", 42, 0.1f * 1.0, "");
    ck_assert_str_eq(b.s, "x=42|0.100000001|");
    /* past the first allocation and past printf's stack buffer */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    clgrad_sb_printf(&b, "<%s>", big);
    ck_assert_uint_eq(b.len, 17 + 4999 + 2);
    ck_assert_uint_eq(strlen(b.s), b.len);
    ck_assert_int_eq(b.s[b.len - 1], '>');
    ck_assert(!b.oom);
    char *t = clgrad_sb_take(&b);
    ck_assert_ptr_eq(t, b.s);
    free(t);
    memset(&b, 0, sizeof b);
    clgrad_sb_free(&b); /* a zeroed one */
    ck_assert_ptr_null(b.s);
}
END_TEST

START_TEST(sbuf_oom_is_sticky)
{
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, "kept");
    b.oom = 1;
    clgrad_sb_puts(&b, "dropped");
    clgrad_sb_printf(&b, "%s", "dropped");
    ck_assert_str_eq(b.s, "kept");
    ck_assert_ptr_null(clgrad_sb_take(&b)); /* frees */
    clgrad_sbuf c = {0};
    clgrad_sb_putn(&c, "x", (size_t)-1); /* a length that cannot fit */
    ck_assert(c.oom);
    clgrad_sb_free(&c);
}
END_TEST

/* ---- read_all ---- */

START_TEST(read_all_files)
{
    char *t = (char *)1;
    size_t n = 99;
    ck_assert_int_eq(clgrad_fs_read_all(file_("empty", "", 0), 0, 1, &t, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(t, "");
    free(t);
    /* NUL bytes kept, a NUL after the end */
    ck_assert_int_eq(clgrad_fs_read_all(file_("nul", "a\0b", 3), 0, 1, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(t, "a\0b", 4) == 0);
    free(t);
    /* larger than the first buffer guess is irrelevant: 200000 bytes */
    size_t big = 200000;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = (char)('a' + i % 26);
    ck_assert_int_eq(clgrad_fs_read_all(file_("big", text, big), 0, 1, &t, NULL), 0);
    ck_assert(memcmp(t, text, big) == 0 && t[big] == '\0');
    free(t);
    /* max */
    ck_assert_int_eq(clgrad_fs_read_all(file_("big", text, big), big, 1, &t, &n), 0);
    free(t);
    ck_assert_int_eq(clgrad_fs_read_all(file_("big", text, big), big - 1, 1, &t, &n), EFBIG);
    ck_assert_ptr_null(t);
    free(text);
    /* missing, a directory, a FIFO (refused, not waited on, with regular_only) */
    char path[400];
    snprintf(path, sizeof path, "%s/none", dir_);
    ck_assert_int_eq(clgrad_fs_read_all(path, 0, 0, &t, &n), ENOENT);
    ck_assert_int_eq(clgrad_fs_read_all(dir_, 0, 0, &t, &n), EISDIR);
    ck_assert_int_eq(clgrad_fs_read_all(dir_, 0, 1, &t, &n), EISDIR);
    snprintf(path, sizeof path, "%s/fifo", dir_);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(clgrad_fs_read_all(path, 0, 1, &t, &n), EINVAL);
    ck_assert_ptr_null(t);
}
END_TEST

/* ---- CSV ---- */

/* Split text (copied: the splitter writes in place) into "f1|f2;..." records, "+"
** after a complete one, or "!E@L:F" on an error (CLGRAD_CSVR_*, line, field). */
static char *split_(const char *text, size_t len)
{
    static char out[1024];
    char *buf = malloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    clgrad_csv_reader r;
    clgrad_csv_begin(&r, buf, len);
    size_t o = 0;
    out[0] = '\0';
    int got;
    while ((got = clgrad_csv_next(&r)) == 1) {
        for (size_t j = 0; j < r.nf; j++) o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", j ? "|" : "", r.f[j]);
        o += (size_t)snprintf(out + o, sizeof out - o, "%s;", r.complete ? "+" : "");
    }
    if (got < 0) snprintf(out + o, sizeof out - o, "!%d@%zu:%zu", r.err, r.err_line, r.err_field);
    clgrad_csv_end(&r);
    free(buf);
    return out;
}
#define SPLIT(s) split_(s, sizeof(s) - 1)

START_TEST(csv_splitter)
{
    ck_assert_str_eq(SPLIT(""), "");
    ck_assert_str_eq(SPLIT("\n\n  \t\n"), ""); /* blank lines only */
    ck_assert_str_eq(SPLIT("a,b\n1,2\n"), "a|b+;1|2+;");
    ck_assert_str_eq(SPLIT("a,b\n1,2"), "a|b+;1|2;"); /* a cut last line: read, not complete */
    ck_assert_str_eq(SPLIT("a,b\r\n1,2\r\n"), "a|b+;1|2+;");
    ck_assert_str_eq(SPLIT("a,b\r1,2\r"), "a|b+;1|2+;"); /* lone CR */
    ck_assert_str_eq(SPLIT("\xEF\xBB\xBFx,y\n"), "x|y+;"); /* BOM */
    ck_assert_str_eq(SPLIT("a,,b,\n"), "a||b|+;");
    ck_assert_str_eq(SPLIT(" a , b \n"), " a | b +;"); /* unquoted kept as written */
    ck_assert_str_eq(SPLIT("a\n\n  \nb\n"), "a+;b+;");
    /* quotes: "" escapes, separators and line ends inside, blanks around */
    ck_assert_str_eq(SPLIT("\"a,b\",\"say \"\"hi\"\"\"\n"), "a,b|say \"hi\"+;");
    ck_assert_str_eq(SPLIT("\"two\nlines\",x\n"), "two\nlines|x+;");
    ck_assert_str_eq(SPLIT("  \"q\"  ,\"\"\n"), "q|+;");
    ck_assert_str_eq(SPLIT("\"\xc3\xa9\xe2\x82\xac\",\xf0\x9f\x98\x80\n"), "\xc3\xa9\xe2\x82\xac|\xf0\x9f\x98\x80+;");
    /* errors: kind, line, field */
    char want[64];
    snprintf(want, sizeof want, "a+;!%d@2:1", CLGRAD_CSVR_UNTERMINATED);
    ck_assert_str_eq(SPLIT("a\nx,\"open\n"), want);
    snprintf(want, sizeof want, "!%d@1:0", CLGRAD_CSVR_AFTER_QUOTE);
    ck_assert_str_eq(SPLIT("\"a\"b\n"), want);
    snprintf(want, sizeof want, "a+;!%d@2:2", CLGRAD_CSVR_QUOTE_IN_FIELD);
    ck_assert_str_eq(SPLIT("a\n1,2,x\"y\n"), want);
    snprintf(want, sizeof want, "!%d@1:1", CLGRAD_CSVR_NUL);
    ck_assert_str_eq(split_("a,b\0c\n", 6), want);
    /* the line of a record after a field spanning lines */
    char buf[] = "\"1\n2\",x\ny\n";
    clgrad_csv_reader r;
    clgrad_csv_begin(&r, buf, sizeof buf - 1);
    ck_assert_int_eq(clgrad_csv_next(&r), 1);
    ck_assert_uint_eq(r.rec_line, 1);
    ck_assert_uint_eq(r.fline[1], 2);
    ck_assert_int_eq(clgrad_csv_next(&r), 1);
    ck_assert_uint_eq(r.rec_line, 3);
    ck_assert_int_eq(clgrad_csv_next(&r), 0);
    clgrad_csv_end(&r);
}
END_TEST

/* clgrad_csv_read on the splitter: a cut last line is left out with a warning; numbers as the run files write them */
START_TEST(csv_read_cut_line_and_numbers)
{
    const char text[] = "step,v,name\r\n1,nan,\"a,b\"\r\n2,1e308,x\r\n3,-inf,  y \r\n4,3.59";
    clgrad_csv t;
    char why[256] = "";
    ck_assert_int_eq(clgrad_csv_read(file_("m.csv", text, sizeof text - 1), &t, why, sizeof why), CLGRAD_OK);
    ck_assert_uint_eq(t.nrows, 3);
    ck_assert_uint_eq(t.cut_line, 5);
    char w[2048];
    ck_assert_ptr_nonnull(clgrad_csv_warning(&t, w, sizeof w));
    ck_assert(strstr(w, "ignored a cut last line (line 5") != NULL);
    int v = clgrad_csv_col(&t, "v"), nm = clgrad_csv_col(&t, "name");
    ck_assert(isnan(clgrad_csv_num(&t, 0, v)));
    ck_assert(clgrad_csv_num(&t, 1, v) == 1e308);
    ck_assert(isinf(clgrad_csv_num(&t, 2, v)) && clgrad_csv_num(&t, 2, v) < 0);
    ck_assert_str_eq(clgrad_csv_text(&t, 0, nm), "a,b");
    ck_assert_str_eq(clgrad_csv_text(&t, 2, nm), "y");
    clgrad_csv_free(&t);
    /* a cut line inside an open quote is a cut line too */
    const char q[] = "a,b\n1,\"x";
    ck_assert_int_eq(clgrad_csv_read(file_("q.csv", q, sizeof q - 1), &t, why, sizeof why), CLGRAD_OK);
    ck_assert_uint_eq(t.nrows, 0);
    ck_assert_uint_eq(t.cut_line, 2);
    clgrad_csv_free(&t);
    /* ... but not when a line follows */
    const char q2[] = "a,b\n1,\"x\n2,3\n";
    ck_assert_int_ne(clgrad_csv_read(file_("q2.csv", q2, sizeof q2 - 1), &t, why, sizeof why), CLGRAD_OK);
    ck_assert_msg(strstr(why, "q2.csv:2: unterminated quote") != NULL, "%s", why);
    /* empty file, header cut short */
    ck_assert_int_ne(clgrad_csv_read(file_("e.csv", "", 0), &t, why, sizeof why), CLGRAD_OK);
    ck_assert_msg(strstr(why, "no header line") != NULL, "%s", why);
    ck_assert_int_ne(clgrad_csv_read(file_("h.csv", "step,lo", 7), &t, why, sizeof why), CLGRAD_OK);
    ck_assert_msg(strstr(why, "cut short") != NULL, "%s", why);
}
END_TEST

/* ---- INI ---- */

START_TEST(ini_lexer)
{
    const char text[] = "\xEF\xBB\xBF# c\r\n[run]\r\n name = \"a b\" # c\r\n\r\n[ data ] x\rpath=p ; c\n[bad\n"
                        "[bad=1\nnoeq\n = v\n; c\nk = v";
    clgrad_ini it;
    clgrad_ini_line l;
    clgrad_ini_begin(&it, text, sizeof text - 1);
    static const struct { int kind, line; const char *sec, *key, *val; } want[] = {
        {CLGRAD_INI_BLANK, 1, NULL, NULL, NULL},         {CLGRAD_INI_SECTION, 2, "run", NULL, NULL},
        {CLGRAD_INI_KEY, 3, "run", "name", "a b"},       {CLGRAD_INI_BLANK, 4, "run", NULL, NULL},
        {CLGRAD_INI_SECTION, 5, "data", NULL, NULL},     {CLGRAD_INI_KEY, 6, "data", "path", "p"},
        {CLGRAD_INI_BAD_HEADER, 7, "data", NULL, NULL},  {CLGRAD_INI_BAD_HEADER, 8, "data", "[bad", "1"},
        {CLGRAD_INI_NO_EQ, 9, "data", NULL, NULL},       {CLGRAD_INI_KEY, 10, "data", "", "v"},
        {CLGRAD_INI_BLANK, 11, "data", NULL, NULL},      {CLGRAD_INI_KEY, 12, "data", "k", "v"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_int_eq(clgrad_ini_next(&it, &l), 1);
        ck_assert_int_eq(l.kind, want[i].kind);
        ck_assert_int_eq(l.line, want[i].line);
        if (want[i].sec) ck_assert(l.nsection == strlen(want[i].sec) && !memcmp(l.section, want[i].sec, l.nsection));
        else ck_assert_ptr_null(l.section);
        if (want[i].key) {
            ck_assert(l.nkey == strlen(want[i].key) && !memcmp(l.key, want[i].key, l.nkey));
            const char *v;
            size_t nv;
            ck_assert_int_eq(clgrad_ini_value(l.value, l.nvalue, &v, &nv, NULL, NULL), 0);
            ck_assert_msg(nv == strlen(want[i].val) && !memcmp(v, want[i].val, nv), "line %d: '%.*s'", l.line,
                          (int)nv, v);
        } else {
            ck_assert_ptr_null(l.key);
        }
    }
    ck_assert_int_eq(clgrad_ini_next(&it, &l), 0);
    /* line 5: the text after ']', the raw line and its end */
    clgrad_ini_begin(&it, "[ data ] x \r\nk=v", 16);
    ck_assert_int_eq(clgrad_ini_next(&it, &l), 1);
    ck_assert(l.nrest == 1 && l.rest[0] == 'x');
    ck_assert_uint_eq(l.nraw, 11);
    ck_assert_uint_eq(l.neol, 2);
    ck_assert_int_eq(clgrad_ini_next(&it, &l), 1);
    ck_assert_uint_eq(l.neol, 0);
    clgrad_ini_begin(&it, "", 0);
    ck_assert_int_eq(clgrad_ini_next(&it, &l), 0);
}
END_TEST

START_TEST(ini_values)
{
    const char *v, *rest;
    size_t nv, nr;
#define VAL(s) clgrad_ini_value(s, strlen(s), &v, &nv, &rest, &nr)
    ck_assert_int_eq(VAL("  plain value  "), 0);
    ck_assert(nv == 11 && !memcmp(v, "plain value", nv));
    ck_assert_int_eq(VAL(" a#b ;c"), 0); /* '#' inside a word is text */
    ck_assert(nv == 3 && !memcmp(v, "a#b", nv));
    ck_assert_int_eq(VAL(" 'x # y' # c"), 0);
    ck_assert(nv == 5 && !memcmp(v, "x # y", nv));
    ck_assert_int_eq(VAL(" \"\""), 0);
    ck_assert_uint_eq(nv, 0);
    ck_assert_int_eq(VAL(" \"open"), CLGRAD_INI_NO_CLOSE);
    ck_assert_int_eq(*v, '"');
    ck_assert_int_eq(VAL(" \"x\" y "), CLGRAD_INI_AFTER_QUOTE);
    ck_assert(nv == 1 && *v == 'x' && nr == 2 && !memcmp(rest, "y ", 2));
    ck_assert_int_eq(VAL(""), 0);
    ck_assert_uint_eq(nv, 0);
#undef VAL
}
END_TEST

/* ---- JSON (reading) ---- */

static void put_sb_(void *u, const char *p, size_t n) { clgrad_sb_putn((clgrad_sbuf *)u, p, n); }

START_TEST(json_edge_cases)
{
    clgrad_json *v = NULL;
    char why[256] = "";
    /* UTF-8 as is, \u escapes (a surrogate pair), empty containers, huge and tiny numbers */
    const char *text = "{\"s\": \"\xc3\xa9\\u00e9\\ud83d\\ude00\\n\", \"e\": {}, \"a\": [], \"big\": 1e999, "
                       "\"neg\": -1e999, \"tiny\": 5e-324, \"max\": 1.7976931348623157e308, \"i\": -0}";
    ck_assert_msg(clgrad_json_parse(text, &v, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(v, "s")), "\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80\n");
    ck_assert_uint_eq(clgrad_json_member(v, "e")->n, 0);
    ck_assert_int_eq(clgrad_json_member(v, "a")->type, CLGRAD_JSON_ARRAY);
    ck_assert(isinf(clgrad_json_num(clgrad_json_member(v, "big"))));
    ck_assert(clgrad_json_num(clgrad_json_member(v, "neg")) < 0);
    ck_assert(clgrad_json_num(clgrad_json_member(v, "tiny")) == 5e-324);
    ck_assert(clgrad_json_num(clgrad_json_member(v, "max")) == 1.7976931348623157e308);
    ck_assert(signbit(clgrad_json_num(clgrad_json_member(v, "i"))));
    clgrad_json_free(v);
    /* non-finite values as summary.json writes them: null + KEY_nonfinite */
    text = "{\"final_train_loss\": null, \"final_train_loss_nonfinite\": \"nan\", "
           "\"divergence\": {\"value\": null, \"value_nonfinite\": \"-inf\"}, \"never\": null}";
    ck_assert(clgrad_json_parse(text, &v, why, sizeof why) == CLGRAD_OK);
    int p, m;
    ck_assert(isnan(clgrad_json_num_field(v, "final_train_loss", &p, &m)) && p && m);
    double x = clgrad_json_num_field(v, "divergence.value", &p, &m);
    ck_assert(isinf(x) && x < 0 && p && m);
    ck_assert(isnan(clgrad_json_num_field(v, "never", &p, &m)) && p && !m);
    clgrad_json_free(v);
    /* the writer's side: a string written by clgrad_json_escape reads back (invalid UTF-8 as U+FFFD) */
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, "[");
    char odd[] = "q\"\\\t\x01\x7f\xff\xc3\xa9";
    clgrad_json_escape(odd, put_sb_, &b);
    clgrad_sb_puts(&b, "]");
    ck_assert_msg(clgrad_json_parse(b.s, &v, why, sizeof why) == CLGRAD_OK, "%s: %s", b.s, why);
    ck_assert_str_eq(clgrad_json_str(&v->items[0]), "q\"\\\t\x01\x7f\xef\xbf\xbd\xc3\xa9");
    clgrad_json_free(v);
    clgrad_sb_free(&b);
    /* empty text, text cut short, JSON's own NaN words are not JSON but are tolerated */
    ck_assert(clgrad_json_parse("", &v, why, sizeof why) != CLGRAD_OK && v == NULL);
    ck_assert(clgrad_json_parse("{\"a\": [1, 2", &v, why, sizeof why) != CLGRAD_OK && v == NULL);
    ck_assert(clgrad_json_parse("[NaN, -Infinity]", &v, why, sizeof why) == CLGRAD_OK);
    ck_assert(isnan(clgrad_json_num(&v->items[0])) && isinf(clgrad_json_num(&v->items[1])));
    clgrad_json_free(v);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_checked_fixture(tc, setup_, teardown_);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sbuf_grows_and_formats);
    tcase_add_test(tc, sbuf_oom_is_sticky);
    tcase_add_test(tc, read_all_files);
    tcase_add_test(tc, csv_splitter);
    tcase_add_test(tc, csv_read_cut_line_and_numbers);
    tcase_add_test(tc, ini_lexer);
    tcase_add_test(tc, ini_values);
    tcase_add_test(tc, json_edge_cases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
