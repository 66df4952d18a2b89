/*
** fuzz_config.c: libFuzzer harness for the experiment-file parser.
** Input: INI text up to the first NUL byte; up to 4 further NUL-separated
** strings are `--set` overrides.  Checks: no crash/UB/leak (sanitizers); the
** error text is NUL-terminated within its buffer, "" on success; a parsed
** config writes back (clgrad_config_write) to INI that parses to the same
** struct, bit for bit (the documented parse(write(cfg)) == cfg).
*/
#include "clgrad/config.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXSETS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0; /* INI files are small; keep iterations fast */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* split: text \0 set1 \0 set2 ... */
    const char *sets[MAXSETS];
    int nsets = 0;
    size_t tl = strlen(buf);
    for (size_t p = tl + 1; p <= size && nsets < MAXSETS; p += strlen(buf + p) + 1) sets[nsets++] = buf + p;

    static clgrad_config cfg, back;
    static char err[4096];
    memset(err, 'x', sizeof err);
    int rc = clgrad_config_parse("fuzz.ini", buf, sets, nsets, &cfg, err, sizeof err);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "error text not terminated");
    if (rc == 0) {
        FUZZ_CHECK(err[0] == '\0', "success with an error text: %s", err);
        /* round trip: write, parse again, compare */
        char *text = NULL;
        size_t tlen = 0;
        FILE *f = open_memstream(&text, &tlen);
        FUZZ_CHECK(f != NULL, "open_memstream");
        int wr = clgrad_config_write(&cfg, f);
        fclose(f);
        if (wr == 0) {
            memset(&back, 0xA5, sizeof back);
            int rc2 = clgrad_config_parse("fuzz.ini", text, NULL, 0, &back, err, sizeof err);
            FUZZ_CHECK(rc2 == 0, "written config does not parse back:\n%s\n--- errors ---\n%s", text, err);
            FUZZ_CHECK(memcmp(&cfg, &back, sizeof cfg) == 0, "config changed through write + parse:\n%s", text);
        }
        free(text);
    } else {
        FUZZ_CHECK(rc == CLGRAD_E_CONFIG, "rc %d", rc);
        FUZZ_CHECK(err[0] != '\0', "failure without a message");
    }
    free(buf);
    return 0;
}
