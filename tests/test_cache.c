/*
** test_cache.c (unit suite, no device): SHA-256 known answers, the binary
** cache's entry format, atomic writes, corrupt/truncated/mismatched entry
** detection, concurrent writers, a full disk (simulated), an unusable
** cache directory, and directories and entries others could write.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir_[256];

static void mkdir_tmp_(void)
{
    snprintf(dir_, sizeof dir_, "/tmp/clgrad-test-cache-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir_));
}

static void rm_tmp_(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    ck_assert_int_eq(system(cmd), 0);
}

static void key_(unsigned char key[32], const char *s)
{
    clgrad_sha256 h;
    clgrad_sha256_init(&h);
    clgrad_sha256_update(&h, s, strlen(s));
    clgrad_sha256_final(&h, key);
}

static int count_files_(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

START_TEST(sha256_known_answers)
{
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char d[32];
        char hex[65];
        key_(d, v[i].in);
        clgrad_sha256_hex(d, hex);
        ck_assert_str_eq(hex, v[i].hex);
    }
    /* a million 'a's, fed in odd-sized pieces */
    clgrad_sha256 h;
    clgrad_sha256_init(&h);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t t = left < sizeof a ? left : sizeof a;
        clgrad_sha256_update(&h, a, t);
        left -= t;
    }
    unsigned char d[32];
    char hex[65];
    clgrad_sha256_final(&h, d);
    clgrad_sha256_hex(d, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(roundtrip_and_absent)
{
    mkdir_tmp_();
    char sub[300], why[1400];
    snprintf(sub, sizeof sub, "%s/a/b", dir_); /* created on demand */
    unsigned char key[32], *data;
    size_t len;
    key_(key, "k1");
    ck_assert_int_eq(clgrad_cache_load(sub, key, &data, &len, why, sizeof why), 0);
    const unsigned char payload[] = "binary\0with\0nuls";
    ck_assert_int_eq(clgrad_cache_store(sub, key, payload, sizeof payload, why, sizeof why), 0);
    ck_assert_int_eq(clgrad_cache_load(sub, key, &data, &len, why, sizeof why), 1);
    ck_assert_uint_eq(len, sizeof payload);
    ck_assert(memcmp(data, payload, len) == 0);
    free(data);
    ck_assert_int_eq(count_files_(sub, ".tmp."), 0);
    rm_tmp_();
}
END_TEST

/* Damage the stored entry in one of several ways; the load must refuse it. */
START_TEST(corrupt_entries_are_rejected)
{
    mkdir_tmp_();
    unsigned char key[32], other[32], *data;
    size_t len;
    char why[1400], path[1100];
    key_(key, "k2");
    key_(other, "other");
    unsigned char payload[4096];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 31);
    clgrad_cache_entry_path(dir_, key, path, sizeof path);
    for (int mode = 0; mode < 5; mode++) {
        ck_assert_int_eq(clgrad_cache_store(dir_, key, payload, sizeof payload, why, sizeof why), 0);
        FILE *f = fopen(path, "r+b");
        ck_assert_ptr_nonnull(f);
        if (mode == 0) { fseek(f, 200, SEEK_SET); fputc(0x5a ^ payload[200 - 84], f); }  /* flip payload byte */
        if (mode == 1) { fclose(f); f = NULL; ck_assert_int_eq(truncate(path, 84 + 100), 0); } /* truncated */
        if (mode == 2) { fclose(f); f = NULL; ck_assert_int_eq(truncate(path, 10), 0); }       /* torn header */
        if (mode == 3) { fseek(f, 0, SEEK_SET); fputc('X', f); }                                /* magic */
        if (mode == 4) { fseek(f, 12, SEEK_SET); fwrite(other, 1, 32, f); }                     /* wrong key */
        if (f) fclose(f);
        int r = clgrad_cache_load(dir_, key, &data, &len, why, sizeof why);
        ck_assert_msg(r == -1, "mode %d: load returned %d (%s)", mode, r, why);
        ck_assert_ptr_null(data);
    }
    /* a rewrite repairs it */
    ck_assert_int_eq(clgrad_cache_store(dir_, key, payload, sizeof payload, why, sizeof why), 0);
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), 1);
    free(data);
    rm_tmp_();
}
END_TEST

/* Many processes write the same key at once: the survivor is always one complete entry. */
START_TEST(concurrent_writers)
{
    mkdir_tmp_();
    unsigned char key[32];
    key_(key, "shared");
    enum { NPROC = 8, ROUNDS = 20, SIZE = 1 << 16 };
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            static unsigned char buf[SIZE];
            memset(buf, 'A' + p, sizeof buf);
            char why[1400];
            for (int r = 0; r < ROUNDS; r++)
                if (clgrad_cache_store(dir_, key, buf, sizeof buf, why, sizeof why) != 0) _exit(1);
            _exit(0);
        }
    }
    int failed = 0;
    for (int p = 0; p < NPROC; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(failed, 0);
    unsigned char *data;
    size_t len;
    char why[1400];
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), 1);
    ck_assert_uint_eq(len, SIZE);
    for (size_t i = 1; i < len; i++) ck_assert_int_eq(data[i], data[0]); /* one writer's bytes, not a mix */
    free(data);
    ck_assert_int_eq(count_files_(dir_, ".tmp."), 0);
    rm_tmp_();
}
END_TEST

START_TEST(full_disk_and_bad_dir)
{
    mkdir_tmp_();
    unsigned char key[32], *data;
    size_t len;
    char why[1400];
    key_(key, "k3");
    setenv("CLGRAD_FAULT_CACHE_ENOSPC", "1", 1);
    ck_assert_int_eq(clgrad_cache_store(dir_, key, (const unsigned char *)"xyz", 3, why, sizeof why), -1);
    unsetenv("CLGRAD_FAULT_CACHE_ENOSPC");
    ck_assert_msg(strstr(why, "No space") != NULL, "%s", why);
    ck_assert_int_eq(count_files_(dir_, ".tmp."), 0);                      /* nothing half-written left */
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), 0); /* and no entry */

    /* a cache "directory" below a regular file cannot be created (works even as root) */
    char file[300], sub[320];
    snprintf(file, sizeof file, "%s/plainfile", dir_);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/cache", file);
    ck_assert_int_eq(clgrad_cache_store(sub, key, (const unsigned char *)"xyz", 3, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "cannot create") != NULL, "%s", why);
    rm_tmp_();
}
END_TEST

/* ssh's rule: a directory or entry others could have written is not used */
START_TEST(untrusted_dir_and_entries)
{
    mkdir_tmp_();
    unsigned char key[32], *data = NULL;
    size_t len;
    char why[1400], path[1100], evil[400];
    key_(key, "k4");
    ck_assert_int_eq(chmod(dir_, 0700), 0);
    ck_assert_int_eq(clgrad_cache_dir_trusted(dir_, why, sizeof why), 1);
    ck_assert_int_eq(clgrad_cache_store(dir_, key, (const unsigned char *)"xyz", 3, why, sizeof why), 0);
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), 1);
    free(data);
    /* the directory writable by others: neither trusted nor written */
    ck_assert_int_eq(chmod(dir_, 0777), 0);
    ck_assert_int_eq(clgrad_cache_dir_trusted(dir_, why, sizeof why), 0);
    ck_assert_msg(strstr(why, "writable by group or others") != NULL, "%s", why);
    ck_assert_int_eq(clgrad_cache_store(dir_, key, (const unsigned char *)"xyz", 3, why, sizeof why), -1);
    ck_assert_int_eq(chmod(dir_, 0700), 0);
    /* an entry writable by group or others: untrusted (-2), then replaced by a store */
    clgrad_cache_entry_path(dir_, key, path, sizeof path);
    ck_assert_int_eq(chmod(path, 0666), 0);
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), -2);
    ck_assert_msg(strstr(why, "writable by group or others") != NULL, "%s", why);
    ck_assert_int_eq(clgrad_cache_store(dir_, key, (const unsigned char *)"xyz", 3, why, sizeof why), 0);
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), 1);
    free(data);
    /* an entry that is a symlink: untrusted, and a store replaces the link, not its target */
    snprintf(evil, sizeof evil, "%s/evil", dir_);
    FILE *f = fopen(evil, "w");
    ck_assert_ptr_nonnull(f);
    fputs("precious", f);
    fclose(f);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(evil, path), 0);
    ck_assert_int_eq(clgrad_cache_load(dir_, key, &data, &len, why, sizeof why), -2);
    ck_assert_int_eq(clgrad_cache_store(dir_, key, (const unsigned char *)"xyz", 3, why, sizeof why), 0);
    struct stat sb;
    ck_assert_int_eq(stat(evil, &sb), 0);
    ck_assert_int_eq((int)sb.st_size, 8);
    ck_assert_int_eq(count_files_(dir_, ".tmp."), 0);
    rm_tmp_();
}
END_TEST

START_TEST(default_dir)
{
    char out[1024];
    setenv("CLGRAD_CACHE_DIR", "/x/y", 1);
    ck_assert(clgrad_cache_dir_default(out, sizeof out));
    ck_assert_str_eq(out, "/x/y");
    unsetenv("CLGRAD_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    ck_assert(clgrad_cache_dir_default(out, sizeof out));
    ck_assert_str_eq(out, "/xdg/clgrad");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    ck_assert(clgrad_cache_dir_default(out, sizeof out));
    ck_assert_str_eq(out, "/home/u/.cache/clgrad");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sha256_known_answers);
    tcase_add_test(tc, roundtrip_and_absent);
    tcase_add_test(tc, corrupt_entries_are_rejected);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, full_disk_and_bad_dir);
    tcase_add_test(tc, untrusted_dir_and_entries);
    tcase_add_test(tc, default_dir);
    suite_add_tcase(s, tc);
    return fixture_run(s, 0);
}
