/*
** test_config.c (unit suite, no device): experiment files.  Good files
** (tests/configs/, found through $CLGRAD_SOURCE_ROOT), every kind of error
** with its exact FILE:LINE and key, --set overrides and their errors, the
** value types (integers, seeds, numbers, booleans, choices, width and
** activation lists), defaults and the rules that resolve them (lr by kind,
** AdamW's weight decay, steps/epochs, loss and task from the data), cross-key
** rules, write -> parse round trips (shipped files, edge values and random
** configs from a seed that is printed; $CLGRAD_TEST_SEED replays it), and
** robustness: huge lines and files, garbage, CRLF/CR, a BOM, tiny error
** buffers (checked with canaries), missing files and directories.
*/
#include "clgrad/config.h"

#include <check.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char err_[1 << 16];

static uint64_t seed_(void)
{
    static uint64_t seed;
    static int have;
    if (!have) {
        const char *s = getenv("CLGRAD_TEST_SEED");
        seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        have = 1;
    }
    return seed;
}

static uint64_t rng_(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *configs_dir_(void)
{
    static char dir[2048];
    const char *root = getenv("CLGRAD_SOURCE_ROOT");
    snprintf(dir, sizeof dir, "%s/tests/configs", root && *root ? root : ".");
    return dir;
}

static int parse_(const char *text, const char *const *sets, int nsets, clgrad_config *c)
{
    return clgrad_config_parse("t.ini", text, sets, nsets, c, err_, sizeof err_);
}

static int load_(const char *name, const char *const *sets, int nsets, clgrad_config *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", configs_dir_(), name);
    return clgrad_config_load(path, sets, nsets, c, err_, sizeof err_);
}

static int lines_(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Parse must fail, and the messages must contain each of the NULL-terminated
** fragments; returns the number of message lines. */
#define expect_err(text, ...) expect_err_(__LINE__, text, NULL, 0, (const char *[]){__VA_ARGS__, NULL})
#define expect_set_err(text, sets, nsets, ...) \
    expect_err_(__LINE__, text, sets, nsets, (const char *[]){__VA_ARGS__, NULL})
static int expect_err_(int line, const char *text, const char *const *sets, int nsets, const char **frags)
{
    clgrad_config c;
    int rc = parse_(text, sets, nsets, &c);
    ck_assert_msg(rc == CLGRAD_E_CONFIG, "test line %d: parse succeeded on:\n%s", line, text);
    for (; *frags; frags++)
        ck_assert_msg(strstr(err_, *frags), "test line %d: expected '%s' in:\n%s", line, *frags, err_);
    return lines_(err_);
}

/* The text parses, with a warning (clgrad_config.warnings) holding every fragment. */
#define expect_warn(text, ...) expect_warn_(__LINE__, text, NULL, 0, (const char *[]){__VA_ARGS__, NULL})
#define expect_set_warn(text, sets, nsets, ...) \
    expect_warn_(__LINE__, text, sets, nsets, (const char *[]){__VA_ARGS__, NULL})
static void expect_warn_(int line, const char *text, const char *const *sets, int nsets, const char **frags)
{
    clgrad_config c;
    ck_assert_msg(parse_(text, sets, nsets, &c) == 0, "test line %d: %s", line, err_);
    ck_assert_msg(c.nwarnings >= 1, "test line %d: no warning for:\n%s", line, text);
    for (int w = 0; w < c.nwarnings; w++) {
        int all = 1;
        for (const char **f = frags; *f; f++) all &= strstr(c.warnings[w], *f) != NULL;
        if (all) return;
    }
    ck_abort_msg("test line %d: no warning has all of the fragments; the first: %s", line, c.warnings[0]);
}

static void expect_ok_(int line, const char *text, const char *const *sets, int nsets, clgrad_config *c)
{
    int rc = parse_(text, sets, nsets, c);
    ck_assert_msg(rc == 0, "test line %d: parse failed on:\n%s\n%s", line, text, err_);
    ck_assert_str_eq(err_, "");
}
#define expect_ok(text, c) expect_ok_(__LINE__, text, NULL, 0, c)

/* Bitwise double equality: NAN == NAN, -0 != 0. */
static int same_(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* Every field of two configs (not path); the first difference, named, or "".
** (One ck_assert per comparison would cost a pipe write each in fork mode.) */
static void diff_(const clgrad_config *a, const clgrad_config *b, char *msg, size_t n)
{
    msg[0] = '\0';
#define S_(f) if (strcmp(a->f, b->f)) { snprintf(msg, n, #f " '%s' != '%s'", a->f, b->f); return; }
#define L_(f) if (a->f != b->f) { snprintf(msg, n, #f " %ld != %ld", (long)a->f, (long)b->f); return; }
#define U_(f) if (a->f != b->f) { snprintf(msg, n, #f " %" PRIu64 " != %" PRIu64, a->f, b->f); return; }
#define D_(f) if (!same_(a->f, b->f)) { snprintf(msg, n, #f " %.17g != %.17g", a->f, b->f); return; }
    S_(run.name); U_(run.seed); L_(run.steps); L_(run.epochs); L_(run.eval_every); L_(run.log_every);
    S_(data.kind); S_(data.path); S_(data.labels); S_(data.target); S_(data.task); L_(data.batch_size);
    L_(data.shuffle); D_(data.test_fraction); L_(data.standardize); L_(data.samples); L_(data.features);
    D_(data.noise); D_(data.condition); L_(data.classes); L_(data.seq_len);
    S_(model.kind); L_(model.nhidden);
    for (int i = 0; i < a->model.nhidden; i++) L_(model.hidden[i]);
    L_(model.nactivation);
    for (int i = 0; i < a->model.nactivation; i++) S_(model.activation[i]);
    D_(model.activation_param); L_(model.bias); S_(model.init); D_(model.init_gain); D_(model.init_std);
    S_(model.init_mode);
    S_(loss.kind);
    S_(optim.kind); D_(optim.lr); D_(optim.momentum); D_(optim.dampening); D_(optim.weight_decay);
    D_(optim.beta1); D_(optim.beta2); D_(optim.eps); D_(optim.alpha); L_(optim.nesterov); L_(optim.centered);
    L_(optim.amsgrad); S_(optim.schedule); L_(optim.step_size); D_(optim.gamma); L_(optim.warmup_steps);
    D_(optim.min_lr);
    S_(clip.kind); D_(clip.max_norm); D_(clip.norm_type); D_(clip.value); D_(clip.clipping); S_(clip.nonfinite);
    D_(diverge.grad_norm_limit); D_(diverge.loss_limit); S_(diverge.action);
    L_(nwarnings);
    for (int i = 0; i < a->nwarnings; i++) S_(warnings[i]);
#undef S_
#undef L_
#undef U_
#undef D_
}

static void expect_same_(const clgrad_config *a, const clgrad_config *b, const char *what)
{
    char msg[512];
    diff_(a, b, msg, sizeof msg);
    ck_assert_msg(!msg[0], "%s: %s", what, msg);
}

/* write(c) as a malloc'd string. */
static char *write_str_(const clgrad_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? clgrad_config_write(c, f) : -1;
    if (f) fclose(f);
    if (rc != 0) ck_abort_msg("clgrad_config_write failed");
    return buf;
}

/* parse(write(c)) == c, and writing that again gives the same text: "" or what failed. */
static void roundtrip_(const clgrad_config *c, char *msg, size_t n)
{
    char *text = write_str_(c);
    clgrad_config back;
    char e[4096];
    msg[0] = '\0';
    if (clgrad_config_parse("rt.ini", text, NULL, 0, &back, e, sizeof e) != 0) {
        snprintf(msg, n, "written config does not parse:\n%s\n%.2000s", e, text);
    } else {
        diff_(c, &back, msg, n);
        if (!msg[0]) {
            clgrad_config c2 = *c;
            c2.path[0] = back.path[0] = '\0';
            char *t1 = write_str_(&c2), *t2 = write_str_(&back);
            if (strcmp(t1, t2)) snprintf(msg, n, "second write differs");
            free(t1);
            free(t2);
        }
    }
    free(text);
}

static void expect_roundtrip_(const clgrad_config *c, const char *what)
{
    char msg[8192];
    roundtrip_(c, msg, sizeof msg);
    ck_assert_msg(!msg[0], "%s: %s", what, msg);
}

static char *temp_file_(const void *data, size_t n)
{
    char *path = strdup("/tmp/clgrad_test_config_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

/* ------------------------------------------------------------------ */
/* Defaults and good files                                             */
/* ------------------------------------------------------------------ */

START_TEST(defaults)
{
    clgrad_config d;
    clgrad_config_defaults(&d);
    ck_assert_str_eq(d.run.name, "run");
    ck_assert_uint_eq(d.run.seed, 0);
    ck_assert_int_eq(d.run.steps, 1000);
    ck_assert_int_eq(d.run.epochs, 0);
    ck_assert_int_eq(d.run.eval_every, 100);
    ck_assert_int_eq(d.run.log_every, 1);
    ck_assert_str_eq(d.data.kind, "linreg");
    ck_assert_str_eq(d.data.task, "regression");
    ck_assert_str_eq(d.data.path, "");
    ck_assert_int_eq(d.data.batch_size, 32);
    ck_assert_int_eq(d.data.shuffle, 1);
    ck_assert(d.data.test_fraction == 0.2);
    ck_assert_int_eq(d.data.standardize, 0);
    ck_assert_int_eq(d.data.samples, 1000);
    ck_assert_int_eq(d.data.features, 10);
    ck_assert(d.data.noise == 0.1 && d.data.condition == 1);
    ck_assert_int_eq(d.data.classes, 3);
    ck_assert_int_eq(d.data.seq_len, 50);
    ck_assert_str_eq(d.model.kind, "mlp");
    ck_assert_int_eq(d.model.nhidden, 2);
    ck_assert_int_eq(d.model.hidden[0], 64);
    ck_assert_int_eq(d.model.hidden[1], 64);
    ck_assert_int_eq(d.model.nactivation, 1);
    ck_assert_str_eq(d.model.activation[0], "relu");
    ck_assert(isnan(d.model.activation_param) && isnan(d.model.init_gain));
    ck_assert_int_eq(d.model.bias, 1);
    ck_assert_str_eq(d.model.init, "default");
    ck_assert(d.model.init_std == 1);
    ck_assert_str_eq(d.model.init_mode, "fan_in");
    ck_assert_str_eq(d.loss.kind, "mse");
    ck_assert_str_eq(d.optim.kind, "sgd");
    ck_assert(d.optim.lr == 0.01 && d.optim.momentum == 0 && d.optim.dampening == 0);
    ck_assert(d.optim.weight_decay == 0 && d.optim.beta1 == 0.9 && d.optim.beta2 == 0.999);
    ck_assert(d.optim.eps == 1e-8 && d.optim.alpha == 0.99);
    ck_assert(!d.optim.nesterov && !d.optim.centered && !d.optim.amsgrad);
    ck_assert_str_eq(d.optim.schedule, "constant");
    ck_assert_int_eq(d.optim.step_size, 100);
    ck_assert(d.optim.gamma == 0.1 && d.optim.min_lr == 0);
    ck_assert_int_eq(d.optim.warmup_steps, 0);
    ck_assert_str_eq(d.clip.kind, "none");
    ck_assert(d.clip.max_norm == 1 && d.clip.norm_type == 2 && d.clip.value == 1 && d.clip.clipping == 0.01);
    ck_assert_str_eq(d.clip.nonfinite, "propagate");
    ck_assert(d.diverge.grad_norm_limit == 1e6 && d.diverge.loss_limit == 1e6);
    ck_assert_str_eq(d.diverge.action, "stop");

    /* an empty file gives the defaults, named after the file */
    clgrad_config c;
    ck_assert_int_eq(clgrad_config_parse("dir/exp1.ini", "", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.run.name, "exp1");
    ck_assert_str_eq(c.path, "dir/exp1.ini");
    snprintf(d.run.name, sizeof d.run.name, "exp1");
    expect_same_(&d, &c, "empty file");
    ck_assert_int_eq(clgrad_config_parse("noext", NULL, NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.run.name, "noext");
    ck_assert_int_eq(clgrad_config_parse(NULL, "# only a comment\n\n   \n;x\n", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.path, "<config>");
    clgrad_config_defaults(&d);
    expect_roundtrip_(&d, "defaults");
}
END_TEST

START_TEST(good_files)
{
    clgrad_config c;
    const char *dir = configs_dir_();
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));

    ck_assert_msg(load_("mlp_moons_sgd.ini", NULL, 0, &c) == 0, "%s", err_);
    ck_assert_str_eq(c.run.name, "mlp_moons_sgd");
    ck_assert_uint_eq(c.run.seed, 42);
    ck_assert_int_eq(c.run.steps, 2000);
    ck_assert_int_eq(c.run.log_every, 10);
    ck_assert_str_eq(c.data.kind, "moons");
    ck_assert_str_eq(c.data.task, "binary");
    ck_assert_str_eq(c.loss.kind, "bce");
    ck_assert(c.data.noise == 0.2);
    ck_assert_int_eq(c.model.nhidden, 2);
    ck_assert_str_eq(c.model.activation[0], "tanh");
    ck_assert(isnan(c.model.activation_param));
    ck_assert(c.optim.lr == 0.05 && c.optim.momentum == 0.9 && c.optim.nesterov == 1);
    ck_assert_str_eq(c.clip.kind, "global_norm");
    ck_assert(c.clip.max_norm == 5 && c.clip.norm_type == 2);
    ck_assert(c.diverge.grad_norm_limit == 1e8);
    ck_assert(c.model.init_gain == 1); /* xavier_uniform without init_gain: Glorot's gain 1, not tanh's 5/3 */
    expect_roundtrip_(&c, "mlp_moons_sgd");

    ck_assert_msg(load_("deep_mlp_vanishing.ini", NULL, 0, &c) == 0, "%s", err_);
    ck_assert_str_eq(c.run.name, "deep-sigmoid");
    ck_assert_uint_eq(c.run.seed, 42);
    ck_assert_int_eq(c.model.nhidden, 16);
    for (int i = 0; i < 16; i++) ck_assert_int_eq(c.model.hidden[i], 256);
    ck_assert_str_eq(c.model.activation[0], "sigmoid");
    ck_assert_str_eq(c.data.task, "multiclass");
    ck_assert_int_eq(c.data.classes, 4);
    ck_assert(c.optim.lr == 3e-4 && c.optim.beta2 == 0.98 && c.optim.amsgrad == 1);
    ck_assert(c.optim.weight_decay == 0); /* adam: no AdamW default */
    ck_assert_str_eq(c.optim.schedule, "cosine");
    ck_assert_int_eq(c.optim.warmup_steps, 250);
    ck_assert(c.model.init_gain == 1);
    ck_assert_str_eq(c.clip.nonfinite, "skip");
    expect_roundtrip_(&c, "deep_mlp_vanishing");

    ck_assert_msg(load_("rnn_adding.ini", NULL, 0, &c) == 0, "%s", err_);
    ck_assert_str_eq(c.model.kind, "rnn");
    ck_assert_int_eq(c.model.nhidden, 1);
    ck_assert_int_eq(c.model.hidden[0], 128);
    ck_assert_int_eq(c.run.steps, 0); /* only epochs given */
    ck_assert_int_eq(c.run.epochs, 20);
    ck_assert_int_eq(c.data.shuffle, 0);
    ck_assert_int_eq(c.model.bias, 0);
    ck_assert_str_eq(c.loss.kind, "mse");
    ck_assert(c.optim.alpha == 0.9 && c.optim.momentum == 0.5 && c.optim.centered && c.optim.weight_decay == 1e-5);
    ck_assert(isinf(c.diverge.loss_limit) && c.diverge.loss_limit > 0 && c.diverge.grad_norm_limit == 0);
    ck_assert_str_eq(c.diverge.action, "continue");
    expect_roundtrip_(&c, "rnn_adding");

    ck_assert_msg(load_("csv_regression.ini", NULL, 0, &c) == 0, "%s", err_);
    char want[8192];
    if (dir[0] == '/') snprintf(want, sizeof want, "%s/data/housing.csv", dir);
    else snprintf(want, sizeof want, "%s/%s/data/housing.csv", cwd, dir);
    ck_assert_str_eq(c.data.path, want); /* relative to the file, made absolute */
    ck_assert_str_eq(c.data.target, "median house value");
    ck_assert_int_eq(c.data.batch_size, 0);
    ck_assert_str_eq(c.optim.kind, "adamw");
    ck_assert(c.optim.lr == 1e-3 && c.optim.weight_decay == 1e-2); /* AdamW defaults */
    ck_assert_int_eq(c.optim.step_size, 100);
    ck_assert(c.optim.gamma == 0.5);
    ck_assert_int_eq(c.run.eval_every, 0);
    expect_roundtrip_(&c, "csv_regression");

    {
        /* cifar10: each item of the comma list is made absolute (relative to the file), spaces trimmed */
        const char *text = "[data]\nkind = cifar10\npath = b1.bin, sub/b2.bin ,/abs/b3.bin\n";
        char *tmp = temp_file_(text, strlen(text));
        ck_assert_msg(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_) == 0, "%s", err_);
        char d[4096], w2[12288];
        snprintf(d, sizeof d, "%s", tmp);
        *strrchr(d, '/') = '\0';
        snprintf(w2, sizeof w2, "%s/b1.bin,%s/sub/b2.bin,/abs/b3.bin", d, d);
        ck_assert_str_eq(c.data.path, w2);
        const char *set = "data.path=x.bin,y.bin";
        ck_assert_msg(clgrad_config_load(tmp, &set, 1, &c, err_, sizeof err_) == 0, "%s", err_);
        snprintf(w2, sizeof w2, "%s/x.bin,%s/y.bin", cwd, cwd);
        ck_assert_str_eq(c.data.path, w2); /* overrides: relative to the current directory */
        unlink(tmp);
        free(tmp);
    }
    ck_assert_msg(load_("idx_mnist.ini", NULL, 0, &c) == 0, "%s", err_);
    ck_assert_str_eq(c.data.path, "/data/mnist/train-images-idx3-ubyte");
    ck_assert_str_eq(c.data.labels, "/data/mnist/train-labels-idx1-ubyte");
    ck_assert_int_eq(c.model.nhidden, 3);
    ck_assert_int_eq(c.model.hidden[2], 128);
    ck_assert_int_eq(c.model.nactivation, 3);
    ck_assert_str_eq(c.model.activation[1], "leaky_relu");
    ck_assert(c.model.activation_param == 0.2);
    ck_assert_str_eq(c.loss.kind, "ce");
    ck_assert(c.optim.dampening == 0.1 && c.optim.weight_decay == 5e-4);
    expect_roundtrip_(&c, "idx_mnist");

    ck_assert_msg(load_("all_keys.ini", NULL, 0, &c) == 0, "%s", err_);
    ck_assert_str_eq(c.run.name, "all keys");
    ck_assert_uint_eq(c.run.seed, UINT64_MAX);
    ck_assert_int_eq(c.model.nhidden, 4);
    ck_assert_int_eq(c.model.hidden[0], 10);
    ck_assert_int_eq(c.model.hidden[1], 20);
    ck_assert_int_eq(c.model.hidden[2], 20);
    ck_assert_int_eq(c.model.hidden[3], 5);
    ck_assert_str_eq(c.model.activation[3], "softplus");
    ck_assert_str_eq(c.model.norm, "rmsnorm");
    ck_assert(c.model.final_norm == 1 && c.model.norm_eps == 1e-4);
    ck_assert(isinf(c.clip.norm_type));
    ck_assert(c.diverge.grad_norm_limit == -1 && c.diverge.loss_limit == 1e300);
    ck_assert_str_eq(c.data.task, "multiclass");
    ck_assert(c.data.test_fraction == 0);
    ck_assert(c.optim.l1 == 0.001 && c.noise.grad_eta == 0.3 && c.noise.grad_gamma == 0.6 && c.noise.input_std == 0.05);
    expect_roundtrip_(&c, "all_keys");

    /* the written file loads back from disk, from another directory, unchanged */
    char *text = write_str_(&c);
    char *tmp = temp_file_(text, strlen(text));
    clgrad_config back;
    ck_assert_msg(clgrad_config_load(tmp, NULL, 0, &back, err_, sizeof err_) == 0, "%s", err_);
    expect_same_(&c, &back, "all_keys from disk");
    unlink(tmp);
    free(tmp);
    free(text);
}
END_TEST

START_TEST(syntax)
{
    clgrad_config c;
    expect_ok("  # indented comment\n"
              "; semicolon comment\n"
              "\n\t\n"
              "[ optim ]   # comment after a header\n"
              "\tkind\t=\tadam\t; tab-separated, inline comment\n"
              "lr=0.5 # comment\n"
              "beta1 = 0.25\t;a tab, then a comment\n"
              "[run];comment\n"
              "name=x\n",
              &c);
    ck_assert_str_eq(c.optim.kind, "adam");
    ck_assert(c.optim.lr == 0.5 && c.optim.beta1 == 0.25);
    ck_assert_str_eq(c.run.name, "x");
    /* '#' and ';' right after a value are part of it */
    expect_err("[optim]\nlr = 0.5#x\n", "t.ini:2: [optim] lr: '0.5#x' is not a number");
    expect_err("[optim]\nlr = 0.5;x\n", "t.ini:2: [optim] lr: '0.5;x' is not a number");
    expect_err("[optim]\nlr = # only a comment\n", "t.ini:2: [optim] lr: empty value");
    expect_err("[optim]\nlr =# only a comment\n", "t.ini:2: [optim] lr: empty value");
}
END_TEST

START_TEST(syntax_values)
{
    clgrad_config c;
    expect_ok("[run]\nname = a#b;c   # '#' inside a word is text, after a blank a comment\n", &c);
    ck_assert_str_eq(c.run.name, "a#b;c");
    expect_ok("[run]\nname = \"  spaced # not a comment ; \"   # a comment\n", &c);
    ck_assert_str_eq(c.run.name, "  spaced # not a comment ; ");
    expect_ok("[run]\nname = 'it \"quoted\"';c\n", &c);
    ck_assert_str_eq(c.run.name, "it \"quoted\"");
    expect_ok("[run]\nname = it's \"fine\"\n", &c); /* unquoted values may hold quotes */
    ck_assert_str_eq(c.run.name, "it's \"fine\"");
    expect_ok("[run]\nname = x = y\n", &c); /* only the first '=' separates */
    ck_assert_str_eq(c.run.name, "x = y");
    expect_ok("[optim]\nkind = \"adam\"\nlr = '0.5'\n", &c); /* quotes around any value */
    ck_assert(c.optim.lr == 0.5);
    expect_err("[run]\nname = \"\"\"\"\n", "t.ini:2: [run] name: text after the closing quote: '\"\"'");
    expect_err("[data]\nkind = csv\npath = p\ntarget = \"\"\n", "t.ini:4: [data] target: missing");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

START_TEST(type_integers)
{
    static const struct {
        const char *v;
        long want; /* -1: error */
    } t[] = {
        {"0", 0}, {"10", 10}, {"+7", 7}, {"1e3", 1000}, {"2.5e2", 250}, {"1.", 1}, {"100.0", 100},
        {"  12  ", 12}, {"\"13\"", 13}, {"1.5", -1}, {"1e-3", -1}, {"10abc", -1}, {"abc", -1}, {"", -1},
        {"0x10", -1}, {"1 000", -1}, {"99999999999999999999", -1}, {"1e30", -1}, {"-1", -1}, {"--1", -1},
        {"inf", -1}, {"nan", -1}, {"1e-400", -1}, {"9223372036854775807", -2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char text[256];
        clgrad_config c;
        snprintf(text, sizeof text, "[run]\neval_every = %s\n", t[i].v);
        int rc = parse_(text, NULL, 0, &c);
        if (t[i].want == -1) {
            ck_assert_msg(rc == CLGRAD_E_CONFIG, "eval_every = %s accepted", t[i].v);
            ck_assert_msg(strstr(err_, "t.ini:2: [run] eval_every: "), "%s", err_);
            ck_assert_msg(strstr(err_, "allowed: an integer >= 0"), "%s", err_);
            ck_assert_int_eq(lines_(err_), 1);
        } else if (t[i].want == -2) {
            ck_assert_msg(rc == 0 && c.run.eval_every == LONG_MAX, "eval_every = %s: %s", t[i].v, err_);
        } else {
            ck_assert_msg(rc == 0, "eval_every = %s: %s", t[i].v, err_);
            ck_assert_int_eq(c.run.eval_every, t[i].want);
        }
    }
    expect_err("[run]\nsteps = 1.5\n", "t.ini:2: [run] steps: '1.5' is not an integer; allowed: an integer >= 0");
    expect_err("[run]\nsteps = 99999999999999999999\n", "'99999999999999999999' is out of range");
    expect_err("[run]\nsteps = -1\n", "t.ini:2: [run] steps: '-1' is out of range; allowed: an integer >= 0");
    expect_err("[run]\nsteps = 10abc\n", "'10abc' is not an integer");
}
END_TEST

START_TEST(type_seed)
{
    clgrad_config c;
    expect_ok("[run]\nseed = 18446744073709551615\n", &c);
    ck_assert_uint_eq(c.run.seed, UINT64_MAX);
    expect_ok("[run]\nseed = 0xDEADbeef\n", &c);
    ck_assert_uint_eq(c.run.seed, 0xdeadbeefull);
    expect_ok("[run]\nseed = 0123\n", &c); /* decimal, never octal */
    ck_assert_uint_eq(c.run.seed, 123);
    expect_err("[run]\nseed = 18446744073709551616\n", "[run] seed: '18446744073709551616' is out of range");
    expect_err("[run]\nseed = -1\n", "[run] seed: '-1' is not an unsigned integer");
    expect_err("[run]\nseed = 1.5\n", "is not an unsigned integer");
    expect_err("[run]\nseed = 0x\n", "is not an unsigned integer");
    expect_err("[run]\nseed = 12a\n", "is not an unsigned integer");
}
END_TEST

START_TEST(type_numbers)
{
    clgrad_config c;
    expect_ok("[optim]\nlr = 1e-3\nmomentum = .5\n", &c);
    ck_assert(c.optim.lr == 1e-3 && c.optim.momentum == 0.5);
    expect_ok("[optim]\nlr = 4.9406564584124654e-324\n", &c); /* the smallest denormal */
    ck_assert(c.optim.lr == 4.9406564584124654e-324);
    expect_ok("[optim]\nlr = 1.7976931348623157e308\n", &c);
    ck_assert(c.optim.lr == DBL_MAX);
    expect_err("[optim]\nlr = nan\n", "t.ini:2: [optim] lr: 'nan' is not allowed (NaN); allowed: a number >= 0");
    expect_err("[optim]\nlr = -NaN\n", "is not allowed (NaN)");
    expect_err("[optim]\nlr = inf\n", "t.ini:2: [optim] lr: 'inf' is not allowed (infinite); allowed: a number >= 0");
    expect_err("[optim]\nlr = 1e999\n", "'1e999' is out of range");
    expect_err("[optim]\neps = 1e-400\n", "'1e-400' is out of range"); /* underflows to 0, not > 0 */
    expect_err("[optim]\nlr = 0.1x\n", "'0.1x' is not a number");
    expect_err("[optim]\nlr = 0x1p-3\n", "'0x1p-3' is not a number");
    expect_err("[optim]\nlr = 1,5\n", "'1,5' is not a number");
    expect_err("[optim]\nlr =\n", "t.ini:2: [optim] lr: empty value; allowed: a number >= 0");
    expect_err("[optim]\nlr = \"\"\n", "[optim] lr: empty value");
    char longnum[1000];
    memset(longnum, '1', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = '\0';
    char text[1100];
    snprintf(text, sizeof text, "[optim]\nlr = %s\n", longnum);
    expect_err(text, "is too long to be a number");
    /* inf only where allowed */
    expect_ok("[clip]\nkind = norm\nnorm_type = INF\n", &c);
    ck_assert(isinf(c.clip.norm_type) && c.clip.norm_type > 0);
    expect_ok("[clip]\nkind = norm\nnorm_type = infinity\n", &c);
    ck_assert(isinf(c.clip.norm_type));
    expect_err("[clip]\nkind = norm\nnorm_type = -inf\n", "[clip] norm_type: '-inf' is not allowed (infinite); allowed: 2 or inf");
    expect_ok("[diverge]\ngrad_norm_limit = inf\nloss_limit = +Infinity\n", &c);
    ck_assert(isinf(c.diverge.grad_norm_limit) && isinf(c.diverge.loss_limit));
    expect_err("[diverge]\nloss_limit = nan\n", "[diverge] loss_limit: 'nan' is not allowed (NaN)");
    expect_err("[clip]\nkind = norm\nmax_norm = inf\n",
               "[clip] max_norm: inf with kind = norm; allowed: a finite number > 0 (inf only with kind = zscore)");
    expect_err("[clip]\nkind = global_norm\nmax_norm = inf\n",
               "[clip] max_norm: inf with kind = global_norm; allowed: a finite number > 0 (inf only with kind = zscore)");
    expect_ok("[clip]\nkind = zscore\nmax_norm = inf\n", &c); /* ZClip's max_grad_norm = None */
    ck_assert(isinf(c.clip.max_norm));
    /* auto only where allowed */
    expect_ok("[model]\ninit_gain = AUTO\n", &c);
    ck_assert(isnan(c.model.init_gain));
    expect_ok("[model]\ninit_gain = 1.5\n", &c);
    ck_assert(c.model.init_gain == 1.5);
    expect_err("[optim]\nlr = auto\n", "[optim] lr: 'auto' is not a number");
}
END_TEST

START_TEST(type_booleans)
{
    static const struct {
        const char *v;
        int want;
    } t[] = {{"true", 1}, {"TRUE", 1}, {"yes", 1}, {"On", 1}, {"1", 1},
             {"false", 0}, {"False", 0}, {"no", 0}, {"OFF", 0}, {"0", 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char text[128];
        clgrad_config c;
        snprintf(text, sizeof text, "[data]\nshuffle = %s\nstandardize = %s\n", t[i].v, t[i].v);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert_int_eq(c.data.shuffle, t[i].want);
        ck_assert_int_eq(c.data.standardize, t[i].want);
    }
    expect_err("[data]\nshuffle = maybe\n",
               "t.ini:2: [data] shuffle: 'maybe' is not a boolean; allowed: true|false|yes|no|on|off|1|0");
    expect_err("[data]\nshuffle = 2\n", "'2' is not a boolean");
    expect_err("[data]\nshuffle = y\n", "'y' is not a boolean");
    expect_err("[data]\nshuffle =\n", "[data] shuffle: empty value");
}
END_TEST

START_TEST(type_choices)
{
    clgrad_config c;
    expect_ok("[optim]\nkind = AdamW\n[model]\nactivation = GELU_Tanh\ninit = Kaiming_Normal\n", &c);
    ck_assert_str_eq(c.optim.kind, "adamw");
    ck_assert_str_eq(c.model.activation[0], "gelu_tanh");
    ck_assert_str_eq(c.model.init, "kaiming_normal");
    expect_err("[optim]\nkind = adma\n", "t.ini:2: [optim] kind: 'adma' is not a known value (did you mean 'adam'?); "
                                         "allowed: sgd|rmsprop|adam|adamw");
    expect_err("[optim]\nkind = lbfgs\n", "[optim] kind: 'lbfgs' is not a known value; allowed: sgd|rmsprop|adam|adamw");
    expect_err("[clip]\nkind = globalnorm\n", "(did you mean 'global_norm'?)");
    expect_err("[model]\ninit = xavier\n", "[model] init: 'xavier' is not a known value");
    expect_err("[optim]\nkind =\n", "[optim] kind: empty value; allowed: sgd|rmsprop|adam|adamw");
    /* loss kind "" = follow the data */
    expect_ok("[data]\nkind = blobs\n[loss]\nkind = \"\"\n", &c);
    ck_assert_str_eq(c.loss.kind, "ce");
    expect_ok("[data]\nkind = xor\n[loss]\nkind =\n", &c);
    ck_assert_str_eq(c.loss.kind, "bce");
}
END_TEST

START_TEST(type_strings)
{
    clgrad_config c;
    char text[2048], name[200];
    memset(name, 'n', 127);
    name[127] = '\0';
    snprintf(text, sizeof text, "[run]\nname = %s\n", name);
    expect_ok(text, &c);
    ck_assert_str_eq(c.run.name, name);
    name[127] = 'n', name[128] = '\0';
    snprintf(text, sizeof text, "[run]\nname = %s\n", name);
    expect_err(text, "t.ini:2: [run] name: 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn... (128 bytes)' is too long "
                     "(128 bytes; at most 127)");
    expect_err("[run]\nname = a/b\n", "[run] name: 'a/b' is not a usable run name");
    expect_err("[run]\nname = ..\n", "is not a usable run name");
    expect_err("[run]\nname = \"\"\n", "[run] name: empty value");
    expect_ok("[run]\nname = caf\xc3\xa9 \xe2\x88\x87\n", &c); /* UTF-8 is fine */
    ck_assert_str_eq(c.run.name, "caf\xc3\xa9 \xe2\x88\x87");
    /* a value that would need quotes and holds both quote kinds cannot be written back */
    const char *set = "run.name= 'a\"b #c";
    expect_set_err("", &set, 1, "[run] name: ", "cannot be written back");
    set = "data.target=x\ty";
    expect_set_err("[data]\nkind=csv\npath=p\n", &set, 1, "[data] target: 'x\\x09y' contains a control character (byte 0x09)");
}
END_TEST

START_TEST(widths)
{
    static const struct {
        const char *v;
        int n;
        long first, last;
    } ok[] = {
        {"64,64,64", 3, 64, 64}, {"256x16", 16, 256, 256}, {"", 0, 0, 0}, {"none", 0, 0, 0}, {"NONE", 0, 0, 0},
        {"\"\"", 0, 0, 0}, {"128, 64x3 ,10", 5, 128, 10}, {"7", 1, 7, 7}, {"1x256", 256, 1, 1},
        {"16777216", 1, 16777216, 16777216}, {"8 X 2", 2, 8, 8}, {"1e2", 1, 100, 100},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char text[256];
        clgrad_config c;
        snprintf(text, sizeof text, "[model]\nhidden = %s\n", ok[i].v);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert_int_eq(c.model.nhidden, ok[i].n);
        if (ok[i].n) {
            ck_assert_int_eq(c.model.hidden[0], ok[i].first);
            ck_assert_int_eq(c.model.hidden[ok[i].n - 1], ok[i].last);
        }
        expect_roundtrip_(&c, ok[i].v);
    }
    clgrad_config c;
    expect_ok("[model]\nhidden = 128, 64x3 ,10\n", &c);
    long want[] = {128, 64, 64, 64, 10};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(c.model.hidden[i], want[i]);

    static const struct {
        const char *v, *frag;
    } bad[] = {
        {"0", "has width 0 out of range"},
        {"64,0", "has width 0 out of range"},
        {"16777217", "has width 16777217 out of range"},
        {"-5", "has width -5 out of range"},
        {"64,,64", "has a bad item ''"},
        {"64,", "has a bad item ''"},
        {",64", "has a bad item ''"},
        {"64x0", "has a layer count 0 < 1"},
        {"x3", "has a bad item 'x3'"},
        {"64x", "has a bad item '64x'"},
        {"64x2x2", "has a bad item '64x2x2'"},
        {"abc", "has a bad item 'abc'"},
        {"1.5", "has a bad item '1.5'"},
        {"1x257", "has more than 256 layers"},
        {"64x200,64x57", "has more than 256 layers"},
        {"99999999999999999999", "has a bad item"},
        {"64x99999999999999999999", "has a bad item"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[model]\nhidden = %s\n", bad[i].v);
        expect_err_(__LINE__, text, NULL, 0, (const char *[]){"t.ini:2: [model] hidden: ", bad[i].frag, "allowed: widths", NULL});
        ck_assert_int_eq(lines_(err_), 1);
    }
}
END_TEST

START_TEST(activations)
{
    clgrad_config c;
    expect_ok("[model]\nhidden = 8,8,8\nactivation = relu, Tanh ,elu\n", &c);
    ck_assert_int_eq(c.model.nactivation, 3);
    ck_assert_str_eq(c.model.activation[0], "relu");
    ck_assert_str_eq(c.model.activation[1], "tanh");
    ck_assert_str_eq(c.model.activation[2], "elu");
    ck_assert(c.model.activation_param == 1.0); /* only elu takes a parameter: its default */
    expect_ok("[model]\nhidden = 8x4\nactivation = selu\n", &c);
    ck_assert_int_eq(c.model.nactivation, 1);
    expect_ok("[model]\nhidden = none\nactivation = identity\n", &c);
    ck_assert_int_eq(c.model.nhidden, 0);
    expect_err("[model]\nhidden = 8,8,8\nactivation = relu,tanh\n",
               "t.ini:3: [model] activation: 2 names for 3 hidden layers; allowed: one name for all layers or one per "
               "hidden layer");
    expect_err("[model]\nhidden = 8,8\nactivation = relu,,tanh\n", "t.ini:3: [model] activation: 'relu,,tanh' has an empty item");
    expect_err("[model]\nactivation = relu,tahn\n", "t.ini:2: [model] activation: 'tahn' is not a known value (did you mean 'tanh'?)");
    expect_err("[model]\nactivation =\n", "[model] activation: empty value");
    /* 256 names are fine, 257 are not */
    char *text = malloc(20000);
    strcpy(text, "[model]\nhidden = 4x256\nactivation = relu");
    for (int i = 1; i < 256; i++) strcat(text, ",tanh");
    strcat(text, "\n");
    expect_ok(text, &c);
    ck_assert_int_eq(c.model.nactivation, 256);
    ck_assert_str_eq(c.model.activation[255], "tanh");
    expect_roundtrip_(&c, "256 activations");
    text[strlen(text) - 1] = '\0';
    strcat(text, ",relu\n");
    expect_err(text, "[model] activation: ", "has more than 256 names");
    free(text);
    /* --set hidden re-checks the activation count against the file's list */
    const char *set = "model.hidden=32x4";
    expect_set_err("[model]\nactivation = relu,relu,tanh\n", &set, 1, "t.ini:2: [model] activation: 3 names for 4 hidden layers");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Ranges and error kinds                                              */
/* ------------------------------------------------------------------ */

START_TEST(ranges)
{
    static const struct {
        const char *sec, *key, *bad, *ok, *allowed;
    } t[] = {
        {"run", "steps", "-1", "0\nepochs = 1", "an integer >= 0"},
        {"run", "epochs", "-2", "4\nsteps = 0", "an integer >= 0"},
        {"run", "eval_every", "-1", "0", "an integer >= 0"},
        {"run", "log_every", "0", "1", "an integer >= 1"},
        {"data", "batch_size", "-1", "0", "an integer >= 0 (0 = full batch)"},
        {"data", "test_fraction", "1", "0", "a number in [0, 1)"},
        {"data", "test_fraction", "-0.1", "0.999", "a number in [0, 1)"},
        {"data", "samples", "0", "1", "an integer >= 1"},
        {"data", "features", "0", "1", "an integer >= 1"},
        {"data", "noise", "-1e-9", "0", "a number >= 0"},
        {"data", "condition", "0.5", "1", "a number >= 1"},
        {"data", "classes", "1", "2", "an integer >= 2"},
        {"data", "seq_len", "0", "1", "an integer >= 1"},
        {"model", "init_gain", "0", "1e-9", "a number > 0 or auto"},
        {"model", "init_std", "-1", "0", "a number >= 0"},
        {"optim", "lr", "-1e-300", "0", "a number >= 0"}, /* 0: gradients at initialisation, no update */
        {"optim", "lr", "-0.1", "10", "a number >= 0"},
        {"optim", "momentum", "1", "0.999", "a number in [0, 1)"},
        {"optim", "momentum", "-0.5", "0", "a number in [0, 1)"},
        {"optim", "dampening", "1.5", "1", "a number in [0, 1]"},
        {"optim", "weight_decay", "-1", "0", "a number >= 0"},
        {"optim", "beta1", "1", "0", "a number in [0, 1)"},
        {"optim", "beta2", "1.0", "0.9999", "a number in [0, 1)"},
        {"optim", "eps", "0", "1e-30", "a number > 0"},
        {"optim", "alpha", "1", "0", "a number in [0, 1)"},
        {"optim", "step_size", "0", "1", "an integer >= 1"},
        {"optim", "gamma", "0", "2", "a number > 0"},
        {"optim", "warmup_steps", "-1", "0", "an integer >= 0"},
        {"optim", "min_lr", "-1", "0", "a number >= 0"},
        {"clip", "max_norm", "0", "1e-3", "a number > 0 (inf: zscore's max_grad_norm = None; norm and global_norm need a finite one)"},
        {"clip", "alpha", "1", "0.5", "a number in (0, 1)"},
        {"clip", "alpha", "0", "0.999", "a number in (0, 1)"},
        {"clip", "z_thresh", "-1", "0.1", "a number > 0"},
        {"clip", "warmup_steps", "0", "1", "an integer in [1, 100000]"},
        {"clip", "clip_factor", "0", "0.5", "a number > 0"},
        {"metrics", "spike_alpha", "1.5", "0.5", "a number in (0, 1)"},
        {"metrics", "spike_z", "-2", "0", "a number >= 0 (0 = no spike detection)"},
        {"metrics", "spike_warmup", "0", "1", "an integer in [1, 100000000]"},
        {"clip", "norm_type", "1", "2", "2 or inf"},
        {"clip", "norm_type", "3", "inf", "2 or inf"},
        {"clip", "value", "-1", "0.1", "a number > 0"},
        {"clip", "clipping", "0", "0.1", "a number > 0"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char text[512], frag[256];
        snprintf(text, sizeof text, "# first line\n[%s]\n%s = %s\n", t[i].sec, t[i].key, t[i].bad);
        snprintf(frag, sizeof frag, "t.ini:3: [%s] %s: '%s' is out of range; allowed: %s\n", t[i].sec, t[i].key,
                 t[i].bad, t[i].allowed);
        clgrad_config c;
        ck_assert_msg(parse_(text, NULL, 0, &c) == CLGRAD_E_CONFIG, "%s.%s = %s accepted", t[i].sec, t[i].key, t[i].bad);
        ck_assert_msg(!strcmp(err_, frag), "got:\n%swant:\n%s", err_, frag);
        /* the boundary value is accepted (with the kind that uses the key) */
        const char *kind = !strcmp(t[i].key, "momentum") || !strcmp(t[i].key, "dampening") ? "sgd"
                           : !strcmp(t[i].key, "alpha")                                     ? "rmsprop"
                           : !strcmp(t[i].key, "beta1") || !strcmp(t[i].key, "beta2") ||
                                   !strcmp(t[i].key, "eps")                                 ? "adam"
                                                                                            : NULL;
        const char *sched = !strcmp(t[i].key, "step_size") || !strcmp(t[i].key, "gamma") ? "step"
                            : !strcmp(t[i].key, "min_lr") || !strcmp(t[i].key, "warmup_steps") ? "cosine"
                                                                                               : NULL;
        const char *clip = !strcmp(t[i].key, "max_norm") || !strcmp(t[i].key, "norm_type") ? "norm"
                           : !strcmp(t[i].key, "value")                                      ? "value"
                           : !strcmp(t[i].key, "clipping")                                   ? "agc"
                           : !strcmp(t[i].sec, "clip")                                       ? "zscore"
                                                                                             : NULL;
        if (strcmp(t[i].sec, "optim") != 0) kind = sched = NULL;
        if (strcmp(t[i].sec, "clip") != 0) clip = NULL;
        snprintf(text, sizeof text, "[%s]\n%s%s%s%s%s%s%s = %s\n", t[i].sec, kind ? "kind = " : "", kind ? kind : "",
                 kind ? "\n" : "", sched ? "schedule = " : "", sched ? sched : "", sched ? "\n" : "", t[i].key,
                 t[i].ok);
        if (clip) snprintf(text, sizeof text, "[clip]\nkind = %s\n%s = %s\n", clip, t[i].key, t[i].ok);
        ck_assert_msg(parse_(text, NULL, 0, &c) == 0, "%s\n%s", text, err_);
    }
}
END_TEST

/* The exact text of each kind of message. */
START_TEST(messages_exact)
{
    clgrad_config c;
    static const struct {
        const char *text, *want;
    } t[] = {
        {"[optim]\nlearning_rate = 0.1\n",
         "t.ini:2: [optim] learning_rate: unknown key (did you mean 'lr'?); allowed: kind, lr, momentum, dampening, "
         "weight_decay, l1, beta1, beta2, eps, alpha, nesterov, centered, amsgrad, trust_coefficient, trust_clip, exclude, schedule, step_size, gamma, "
         "warmup_steps, min_lr\n"},
        {"[run]\n\nlr = 0.1\n",
         "t.ini:3: [run] lr: unknown key (did you mean [optim] lr?); allowed: name, seed, steps, epochs, eval_every, "
         "log_every\n"},
        {"[optimizer]\nlr = 1\n",
         "t.ini:1: [optimizer]: unknown section (did you mean [optim]?); allowed: [run], [data], [model], [loss], "
         "[optim], [clip], [diverge], [noise], [metrics]\n"},
        {"[optim]\nlr = 0.1\nlr = 0.2\n", "t.ini:3: [optim] lr: set twice (first at line 2)\n"},
        {"[run]\n[run]\n", "t.ini:2: [run]: section appears twice (first at line 1); merge them\n"},
        {"steps = 5\n",
         "t.ini:1: key 'steps' before any [section] header (did you mean it under [run]?); sections: [run], [data], "
         "[model], [loss], [optim], [clip], [diverge], [noise], [metrics]\n"},
        {"[run]\nsteps 5\n", "t.ini:2: expected 'key = value' or '[section]', got 'steps 5' (no '=')\n"},
        {"[run]\n= 5\n", "t.ini:2: missing key before '=': '= 5'\n"},
        {"[run]\nname = \"abc\n", "t.ini:2: [run] name: missing closing \" quote\n"},
        {"[run]\nname = \"abc\" def\n", "t.ini:2: [run] name: text after the closing quote: 'def'\n"},
        {"[run\n", "t.ini:1: section header without ']': '[run'\n"},
        {"[run] x\n", "t.ini:1: text after the section header: 'x'\n"},
        {"[run]\nname = a\x01" "b\n", "t.ini:2: control character (byte 0x01) at column 9; is this a text file?\n"},
        {"[optim]\nnesterov = true\n",
         "t.ini:2: [optim] nesterov: needs momentum > 0 and dampening = 0 (PyTorch); momentum = 0, dampening = 0\n"},
        {"[data]\nkind = csv\n",
         "t.ini:2: [data] path: missing; kind = csv needs a file; allowed: a CSV file\n"
         "t.ini:2: [data] target: missing; kind = csv needs the name of the target column\n"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_int_eq(parse_(t[i].text, NULL, 0, &c), CLGRAD_E_CONFIG);
        ck_assert_msg(!strcmp(err_, t[i].want), "case %zu: got:\n%swant:\n%s", i, err_, t[i].want);
    }
    /* a key the kind does not use: a warning, kept in the config (a sweep over
    ** optim.kind = sgd,adam runs from one base file) */
    ck_assert_int_eq(parse_("[optim]\nkind = adam\nmomentum = 0.9\nnesterov = true\n", NULL, 0, &c), 0);
    ck_assert_int_eq(c.nwarnings, 2);
    ck_assert_str_eq(c.warnings[0], "[optim] momentum = 0.9: not used when [optim] kind = adam (only by sgd, rmsprop, lars); "
                                    "ignored (the default is 0)");
    ck_assert_str_eq(c.warnings[1], "[optim] nesterov = true: not used when [optim] kind = adam (only by sgd); "
                                    "ignored (the default is false)");
    ck_assert(c.optim.momentum == 0.9 && c.optim.nesterov == 1);
    expect_roundtrip_(&c, "warnings");
    static const char *const kinds[] = {"optim.kind=sgd", "optim.kind=adam"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(parse_("[optim]\nmomentum = 0.9\n", &kinds[i], 1, &c), 0);
        ck_assert_int_eq(c.nwarnings, i);
    }
    /* the same through --set */
    const char *set[] = {"optim.lr=abc", "optim.lrr=1", "optimizer.lr=1", "lr=3", "optim.lr"};
    ck_assert_int_eq(parse_("", set, 5, &c), CLGRAD_E_CONFIG);
    ck_assert_str_eq(err_, "--set optim.lr=abc: [optim] lr: 'abc' is not a number; allowed: a number >= 0\n"
                           "--set optim.lrr=1: [optim] lrr: unknown key (did you mean 'lr'?); "
                           "allowed: kind, lr, momentum, dampening, weight_decay, l1, beta1, beta2, eps, alpha, nesterov, "
                           "centered, amsgrad, trust_coefficient, trust_clip, exclude, schedule, step_size, gamma, warmup_steps, min_lr\n"
                           "--set optimizer.lr=1: [optimizer]: unknown section (did you mean [optim]?); allowed: [run], "
                           "[data], [model], [loss], [optim], [clip], [diverge], [noise], [metrics]\n"
                           "--set lr=3: expected section.key=value (did you mean optim.lr?)\n"
                           "--set optim.lr: expected section.key=value (no '=')\n");
}
END_TEST

START_TEST(suggestions)
{
    expect_err("[optim]\nmomentun = 0.9\n", "[optim] momentun: unknown key (did you mean 'momentum'?)");
    expect_err("[data]\nbatchsize = 9\n", "(did you mean 'batch_size'?)");
    expect_err("[optim]\nLR = 0.1\n", "[optim] LR: unknown key (did you mean 'lr'?)");
    expect_err("[optim]\nbetas = 0.9\n", "(did you mean 'beta1'?)");
    expect_err("[optim]\nweight-decay = 0\n", "(did you mean 'weight_decay'?)");
    expect_err("[model]\nwidth = 3\n", "(did you mean 'hidden'?)");
    expect_err("[model]\nnum_layers = 3\n", "(did you mean 'layers'?)");
    expect_err("[noise]\neta = 0.3\n", "(did you mean 'grad_eta'?)");
    expect_err("[model]\nloss = ce\n", "(did you mean [loss] kind?)");
    expect_err("[clip]\nmax_grad_norm = 1\n", "(did you mean 'max_norm'?)");
    expect_err("[optim]\ntype = adam\n", "(did you mean 'kind'?)");
    expect_err("[run]\nepoch = 3\n", "(did you mean 'epochs'?)");
    expect_err("[optim]\nzzzzzz = 1\n", "[optim] zzzzzz: unknown key; allowed: kind, lr,");
    expect_err("[Optim]\n", "[Optim]: unknown section (did you mean [optim]?)");
    expect_err("[training]\n", "(did you mean [run]?)");
    expect_err("[modle]\n", "(did you mean [model]?)");
    expect_err("[model]\nactivation = lealy_relu\n", "(did you mean 'leaky_relu'?)");
    expect_err("[data]\nkind = spiral\n", "(did you mean 'spirals'?)");
    expect_err("learning_rate = 1\n", "key 'learning_rate' before any [section] header (did you mean it under [optim]?)");
}
END_TEST

START_TEST(collect_all)
{
    clgrad_config c;
    memset(&c, 0xab, sizeof c);
    clgrad_config before = c;
    ck_assert_int_eq(load_("bad_many.ini", NULL, 0, &c), CLGRAD_E_CONFIG);
    ck_assert_msg(!memcmp(&c, &before, sizeof c), "cfg was written on error");
    char path[4096];
    snprintf(path, sizeof path, "%s/bad_many.ini", configs_dir_());
    static const struct {
        int line;
        const char *what;
    } t[] = {
        {3, "[run] steps: '1.5' is not an integer"},
        {4, "[run] epochs: '10abc' is not an integer"},
        {7, "[data] kind: 'moonz' is not a known value (did you mean 'moons'?)"},
        {8, "[data] test_fraction: '1' is out of range"},
        {9, "[data] batch_size: '-3' is out of range"},
        {12, "[model] hidden: '64,,64' has a bad item ''"},
        {16, "[optim] learning_rate: unknown key (did you mean 'lr'?)"},
        {18, "[optim] lr: set twice (first at line 17)"},
        {19, "[optim] momentum: '1.0' is out of range; allowed: a number in [0, 1)"},
        {20, "[optim] eps: 'nan' is not allowed (NaN)"},
        {22, "[clipping]: unknown section (did you mean [clip]?)"},
        {26, "[clip] norm_type: '3' is out of range; allowed: 2 or inf"},
        {27, "expected 'key = value' or '[section]', got 'this line has no equals sign' (no '=')"},
    };
    const char *e = err_;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char want[8192];
        snprintf(want, sizeof want, "%s:%d: %s", path, t[i].line, t[i].what);
        ck_assert_msg(!strncmp(e, want, strlen(want)), "error %zu: want\n%s\ngot\n%s", i, want, e);
        e = strchr(e, '\n') + 1;
    }
    ck_assert_str_eq(e, "");
    ck_assert_int_eq(lines_(err_), (int)(sizeof t / sizeof t[0]));

    /* file errors come first in line order, then overrides in order */
    const char *sets[] = {"run.seed=-1", "optim.kind=foo"};
    ck_assert_int_eq(parse_("[run]\nsteps=x\n[optim]\nlr=y\n", sets, 2, &c), CLGRAD_E_CONFIG);
    ck_assert_int_eq(lines_(err_), 4);
    const char *a = strstr(err_, "t.ini:2:"), *b = strstr(err_, "t.ini:4:"), *s1 = strstr(err_, "--set run.seed=-1"),
               *s2 = strstr(err_, "--set optim.kind=foo");
    ck_assert(a && b && s1 && s2 && a < b && b < s1 && s1 < s2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Cross-key rules and resolution                                      */
/* ------------------------------------------------------------------ */

START_TEST(cross_rules)
{
    clgrad_config c;
    /* nesterov: momentum > 0 and dampening 0 */
    expect_ok("[optim]\nmomentum = 0.9\nnesterov = true\n", &c);
    expect_err("[optim]\nmomentum = 0.9\ndampening = 0.1\nnesterov = true\n", "t.ini:4: [optim] nesterov: needs momentum > 0 and dampening = 0");
    const char *set = "optim.momentum=0";
    expect_set_err("[optim]\nmomentum = 0.9\nnesterov = on\n", &set, 1, "t.ini:3: [optim] nesterov: needs momentum > 0");
    /* data files */
    expect_ok("[data]\nkind = csv\npath = x.csv\ntarget = y\n", &c);
    ck_assert_str_eq(c.data.path, "x.csv"); /* parse() leaves paths as given */
    ck_assert_str_eq(c.data.task, "regression");
    expect_err("[data]\nkind = csv\npath = x.csv\n", "t.ini:2: [data] target: missing; kind = csv needs the name");
    expect_err("[data]\nkind = idx\npath = x\n", "t.ini:2: [data] labels: missing; kind = idx needs the IDX labels file");
    expect_err("[data]\nkind = idx\nlabels = x\n", "t.ini:2: [data] path: missing; kind = idx needs a file; allowed: an IDX images file");
    expect_warn("[data]\nkind = moons\npath = x.csv\n", "[data] path = ",
                ": not used when [data] kind = moons (only by csv, idx, cifar10); ignored (the default is \"\")");
    expect_warn("[data]\nkind = csv\npath = x\ntarget = y\nlabels = z\n", "[data] labels = ", ": not used when [data] kind = csv (only by idx)");
    expect_warn("[data]\nkind = idx\npath = x\nlabels = y\ntarget = z\n", "[data] target = ", ": not used when [data] kind = idx (only by csv)");
    /* task */
    expect_ok("[data]\nkind = moons\ntask = binary\n", &c);
    expect_err("[data]\nkind = moons\ntask = multiclass\n",
               "t.ini:3: [data] task: moons data is binary (task chooses only for kind = csv); allowed: binary or leave it unset");
    expect_ok("[data]\nkind = csv\npath = a\ntarget = b\ntask = binary\n", &c);
    ck_assert_str_eq(c.loss.kind, "bce");
    /* loss vs data */
    expect_err("[data]\nkind = moons\n[loss]\nkind = ce\n",
               "t.ini:4: [loss] kind: ce does not fit binary data ([data] kind = moons); allowed for binary data: bce|mse");
    expect_err("[loss]\nkind = bce\n", "t.ini:2: [loss] kind: bce does not fit regression data ([data] kind = linreg); allowed for regression data: mse");
    expect_err("[data]\nkind = blobs\n[loss]\nkind = mse\n", "[loss] kind: mse does not fit multiclass data");
    expect_ok("[data]\nkind = circles\n[loss]\nkind = mse\n", &c);
    /* rnn */
    expect_ok("[data]\nkind = temporal_order\n[model]\nkind = rnn\nhidden = 32\n", &c);
    ck_assert_str_eq(c.loss.kind, "ce");
    expect_err("[model]\nkind = rnn\n",
               "t.ini:2: [model] kind: rnn needs sequence data, but [data] kind = linreg; allowed with rnn: [data] kind = adding|temporal_order");
    expect_err("[data]\nkind = adding\n[model]\nkind = rnn\nhidden = none\n",
               "t.ini:5: [model] hidden: rnn needs a hidden layer");
    expect_err("[data]\nkind = adding\n[model]\nkind = rnn\nhidden = 8,8\n",
               "t.ini:5: [model] hidden: rnn takes one width (the state's, as nn.RNN's hidden_size), got 2; allowed: one "
               "width, with [model] layers = N for N stacked layers");
    /* lstm, gru, layers, forget_bias */
    expect_ok("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 16\nlayers = 3\nforget_bias = 1\n", &c);
    ck_assert_str_eq(c.model.kind, "lstm");
    ck_assert_int_eq(c.model.layers, 3);
    ck_assert(c.model.forget_bias == 1.0);
    ck_assert_str_eq(c.model.activation[0], "tanh"); /* resolved: the cell's nonlinearity */
    ck_assert_int_eq(c.model.nactivation, 1);
    expect_roundtrip_(&c, "lstm");
    expect_ok("[data]\nkind = temporal_order\n[model]\nkind = gru\nhidden = 16\nactivation = tanh\n", &c);
    ck_assert_int_eq(c.model.layers, 1);
    ck_assert(isnan(c.model.forget_bias));
    expect_roundtrip_(&c, "gru");
    expect_err("[data]\nkind = adding\n[model]\nkind = gru\nhidden = 16\nactivation = relu\n",
               "t.ini:6: [model] activation: gru has fixed gate nonlinearities (sigmoid gates, tanh cell); allowed: tanh "
               "or leave it unset");
    expect_err("[model]\nkind = lstm\nhidden = 4\n", "t.ini:2: [model] kind: lstm needs sequence data");
    expect_err("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4,4\n", "[model] hidden: lstm takes one width");
    expect_warn("[data]\nkind = adding\n[model]\nkind = gru\nhidden = 4\nforget_bias = 1\n",
                "[model] forget_bias = 1: not used when [model] kind = gru (only by lstm); ignored (the default is auto)");
    expect_err("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4\nbias = false\nforget_bias = 1\n",
               "t.ini:7: [model] forget_bias: needs bias = true");
    expect_ok("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4\nbias = false\nforget_bias = auto\n", &c);
    /* norm, residual, final_norm, norm_eps */
    expect_ok("[model]\nhidden = 32x4\nnorm = layernorm\nresidual = pre\nfinal_norm = true\n", &c);
    ck_assert_str_eq(c.model.norm, "layernorm");
    ck_assert_str_eq(c.model.residual, "pre");
    ck_assert(c.model.final_norm == 1 && isnan(c.model.norm_eps));
    expect_ok("[model]\nnorm = rmsnorm\nnorm_eps = 1e-6\n", &c);
    ck_assert(c.model.norm_eps == 1e-6);
    expect_err("[model]\nhidden = 16,16,8\nresidual = post\n",
               "t.ini:2: [model] hidden: residual = post needs equal widths in the residual blocks (hidden layers 2..3), "
               "but hidden layer 2 has width 16 and hidden layer 3 width 8");
    expect_err("[model]\nfinal_norm = true\n", "t.ini:2: [model] final_norm: needs a norm");
    expect_err("[model]\nnorm = batchnorm\n[data]\nbatch_size = 1\n",
               "t.ini:4: [data] batch_size: 1 with norm = batchnorm");
    expect_err("[model]\nnorm = groupnorm\n", "t.ini:2: [model] norm:");
    expect_err("[model]\nnorm_eps = 0\n", "t.ini:2: [model] norm_eps:");
    expect_warn("[data]\nkind = adding\n[model]\nkind = rnn\nhidden = 4\nnorm = layernorm\n",
                "[model] norm = layernorm: not used when [model] kind = rnn (only by mlp)");
    expect_warn("[model]\nlayers = 2\n",
                "[model] layers = 2: not used when [model] kind = mlp (only by rnn, lstm, gru); ignored (the default is 1)");
    expect_err("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4\nlayers = 0\n",
               "[model] layers: '0' is out of range; allowed: an integer in [1, 64]");
    expect_err("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4\nlayers = 65\n", "is out of range");
    expect_err("[data]\nkind = adding\n[model]\nkind = lstm\nhidden = 4\nforget_bias = inf\n", "is not allowed (infinite)");
    /* l1 and noise */
    expect_ok("[optim]\nl1 = 1e-4\n[noise]\ngrad_eta = 0.01\ngrad_gamma = 0.55\ninput_std = 0.1\n", &c);
    ck_assert(c.optim.l1 == 1e-4 && c.noise.grad_eta == 0.01 && c.noise.grad_gamma == 0.55 && c.noise.input_std == 0.1);
    expect_roundtrip_(&c, "noise");
    clgrad_config_defaults(&c);
    ck_assert(c.optim.l1 == 0 && c.noise.grad_eta == 0 && c.noise.grad_gamma == 0.55 && c.noise.input_std == 0);
    expect_err("[optim]\nl1 = -1\n", "t.ini:2: [optim] l1: '-1' is out of range; allowed: a number >= 0");
    expect_err("[optim]\nl1 = nan\n", "[optim] l1: 'nan' is not allowed (NaN)");
    expect_err("[noise]\ngrad_eta = -0.1\n", "[noise] grad_eta: '-0.1' is out of range; allowed: a number >= 0 (0 = no gradient noise)");
    expect_err("[noise]\ngrad_eta = inf\n", "[noise] grad_eta: 'inf' is not allowed (infinite)");
    expect_warn("[noise]\ngrad_gamma = 0.6\n",
                "[noise] grad_gamma = 0.6: not used when grad_eta = 0 (no gradient noise); ignored (the "
                "default is 0.55)");
    expect_err("[noise]\ngrad_eta = 1\ngrad_gamma = -1\n", "[noise] grad_gamma: '-1' is out of range");
    expect_err("[noise]\ninput_std = -1\n", "[noise] input_std: '-1' is out of range; allowed: a number >= 0 (0 = no input noise)");
    expect_err("[noise]\nstd = 1\n", "[noise] std: unknown key");
    /* [metrics]: the sharpness keys */
    clgrad_config_defaults(&c);
    ck_assert(c.metrics.sharpness_every == 0 && c.metrics.sharpness_iters == 20 && c.metrics.sharpness_tol == 1e-3 &&
              c.metrics.sharpness_eps == 1e-3);
    expect_ok("[run]\nlog_every = 5\n[metrics]\nsharpness_every = 10\nsharpness_iters = 8\nsharpness_tol = 0\n"
              "sharpness_eps = 1e-2\n", &c);
    ck_assert(c.metrics.sharpness_every == 10 && c.metrics.sharpness_iters == 8 && c.metrics.sharpness_tol == 0 &&
              c.metrics.sharpness_eps == 1e-2);
    expect_roundtrip_(&c, "metrics");
    expect_err("[run]\nlog_every = 5\n[metrics]\nsharpness_every = 7\n",
               "t.ini:4: [metrics] sharpness_every: 7 is not a multiple of [run] log_every = 5");
    expect_err("[metrics]\nsharpness_every = -1\n", "[metrics] sharpness_every: '-1' is out of range");
    expect_err("[metrics]\nsharpness_every = 1\nsharpness_iters = 0\n", "[metrics] sharpness_iters: '0' is out of range");
    expect_err("[metrics]\nsharpness_every = 1\nsharpness_eps = 0\n", "[metrics] sharpness_eps: '0' is out of range");
    expect_err("[metrics]\nsharpness_every = 1\nsharpness_tol = nan\n", "[metrics] sharpness_tol: 'nan' is not allowed (NaN)");
    expect_warn("[metrics]\nsharpness_iters = 5\n",
                "[metrics] sharpness_iters = 5: not used when sharpness_every = 0 (no sharpness); ignored (the "
                "default is 20)");
    /* cifar10 */
    expect_ok("[data]\nkind = cifar10\npath = data_batch_1.bin\n", &c);
    ck_assert_str_eq(c.data.task, "multiclass");
    ck_assert_str_eq(c.loss.kind, "ce");
    expect_ok("[data]\nkind = cifar10\npath = a.bin, b.bin,c.bin\n", &c);
    expect_err("[data]\nkind = cifar10\n", "t.ini:2: [data] path: missing; kind = cifar10 needs a file; allowed: a "
                                             "CIFAR-10 binary batch file, or a comma list of them");
    expect_err("[data]\nkind = cifar10\npath = a.bin,,b.bin\n", "t.ini:3: [data] path: has an empty item");
    expect_err("[data]\nkind = cifar10\npath = a.bin,\n", "t.ini:3: [data] path: has an empty item");
    expect_warn("[data]\nkind = cifar10\npath = a\nlabels = b\n", "[data] labels = ", ": not used when [data] kind = cifar10");
    expect_err("[data]\nkind = cifar10\npath = a\ntask = regression\n", "cifar10 data is multiclass");
    expect_err("[data]\nkind = cifar10\npath = a\n[model]\nkind = rnn\nhidden = 3\n", "rnn needs sequence data");
    /* steps and epochs */
    expect_err("[run]\nsteps = 10\nepochs = 2\n", "t.ini:2: [run] steps: both steps (10) and epochs (2) are set");
    expect_err("[run]\nsteps = 0\n", "t.ini:2: [run] steps: steps and epochs are both 0");
    expect_ok("[run]\nepochs = 0\n", &c);
    ck_assert_int_eq(c.run.steps, 1000);
    expect_ok("[run]\nsteps = 0\nepochs = 3\n", &c);
    /* schedules */
    expect_err("[optim]\nschedule = warmup\n", "t.ini:2: [optim] warmup_steps: schedule = warmup needs warmup_steps; allowed: an integer >= 1");
    expect_ok("[optim]\nschedule = warmup\nwarmup_steps = 10\n", &c);
    expect_err("[optim]\nschedule = cosine\nmin_lr = 0.5\n", "t.ini:3: [optim] min_lr: 0.5 is above lr = 0.01");
    expect_err("[run]\nsteps = 100\n[optim]\nschedule = cosine\nwarmup_steps = 101\n",
               "t.ini:5: [optim] warmup_steps: 101 is more than [run] steps = 100");
    expect_warn("[optim]\ngamma = 0.5\n", "[optim] gamma = ", ": not used when [optim] schedule = constant (only by step)");
    expect_warn("[optim]\nschedule = step\nmin_lr = 1e-4\n", "[optim] min_lr = ", ": not used when [optim] schedule = step (only by cosine)");
    expect_warn("[optim]\nwarmup_steps = 5\n", "[optim] warmup_steps = ", ": not used when [optim] schedule = constant (only by warmup, cosine)");
    /* keys the optimizer kind does not use */
    expect_warn("[optim]\nkind = sgd\nbeta1 = 0.8\n", "[optim] beta1 = ", ": not used when [optim] kind = sgd (only by adam, adamw, lamb); ignored (the default is 0.9)");
    expect_warn("[optim]\nkind = rmsprop\namsgrad = true\n", "[optim] amsgrad = ", ": not used when [optim] kind = rmsprop");
    expect_warn("[optim]\nkind = adamw\ncentered = yes\n", "[optim] centered = ", ": not used when [optim] kind = adamw (only by rmsprop)");
    expect_warn("[optim]\nkind = sgd\neps = 1e-6\n", "[optim] eps = ", ": not used when [optim] kind = sgd (only by rmsprop, adam, adamw, lamb)");
    expect_warn("[optim]\nkind = adam\nalpha = 0.9\n", "[optim] alpha = ", ": not used when [optim] kind = adam");
    expect_ok("[optim]\nkind = adam\nmomentum = 0\nalpha = 0.99\n", &c); /* defaults are fine (written configs have them) */
    /* the rule follows the final kind: a --set kind can make a file key unused */
    set = "optim.kind=adam";
    expect_set_warn("[optim]\nmomentum = 0.9\n", &set, 1, "[optim] momentum = ", ": not used when [optim] kind = adam");
    set = "optim.kind=sgd";
    expect_set_warn("[optim]\nkind = adam\nbeta2 = 0.99\n", &set, 1, "[optim] beta2 = ", ": not used when [optim] kind = sgd");
    /* clip keys */
    expect_warn("[clip]\nmax_norm = 2\n", "[clip] max_norm = ", ": not used when [clip] kind = none (only by norm, global_norm, zscore)");
    expect_warn("[clip]\nkind = global_norm\nz_thresh = 3\n", "[clip] z_thresh = ", ": not used when [clip] kind = global_norm (only by zscore)");
    expect_warn("[clip]\nkind = value\nnorm_type = inf\n", "[clip] norm_type = ", ": not used when [clip] kind = value");
    expect_warn("[clip]\nkind = norm\nvalue = 3\n", "[clip] value = ", ": not used when [clip] kind = norm (only by value)");
    expect_warn("[clip]\nkind = global_norm\nclipping = 0.1\n", "[clip] clipping = ", ": not used when [clip] kind = global_norm (only by agc)");
    expect_ok("[clip]\nkind = agc\nclipping = 0.1\n", &c);
    /* activation_param */
    expect_err("[model]\nactivation = relu\nactivation_param = 0.1\n",
               "t.ini:3: [model] activation_param: only used by leaky_relu and elu, which no layer uses");
    expect_ok("[model]\nactivation = leaky_relu\n", &c);
    ck_assert(c.model.activation_param == 0.01);
    expect_ok("[model]\nhidden = 3,3\nactivation = leaky_relu,elu\n", &c);
    ck_assert(isnan(c.model.activation_param)); /* each keeps its own default */
    expect_ok("[model]\nhidden = 3,3\nactivation = leaky_relu,elu\nactivation_param = 0.3\n", &c);
    ck_assert(c.model.activation_param == 0.3);
    /* a rule is not reported again for a key that is already wrong */
    ck_assert_int_eq(expect_err("[optim]\nkind = adam\nmomentum = 2\n", "'2' is out of range"), 1);
    ck_assert_int_eq(expect_err("[data]\nkind = bogus\npath = x\n", "'bogus' is not a known value"), 1);
    ck_assert_int_eq(expect_err("[model]\nhidden = 0\nactivation = relu,relu\n", "has width 0"), 1);
}
END_TEST

START_TEST(resolution)
{
    clgrad_config c;
    static const struct {
        const char *kind;
        double lr, wd;
    } t[] = {{"sgd", 1e-2, 0}, {"rmsprop", 1e-2, 0}, {"adam", 1e-3, 0}, {"adamw", 1e-3, 1e-2}};
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "[optim]\nkind = %s\n", t[i].kind);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert_msg(c.optim.lr == t[i].lr && c.optim.weight_decay == t[i].wd, "%s: lr %g wd %g", t[i].kind,
                      c.optim.lr, c.optim.weight_decay);
    }
    /* the AdamW weight-decay default applies only when weight_decay is unset */
    expect_ok("[optim]\nkind = adamw\nweight_decay = 0\n", &c);
    ck_assert(c.optim.weight_decay == 0);
    expect_ok("[optim]\nkind = adamw\nweight_decay = 0.5\n", &c);
    ck_assert(c.optim.weight_decay == 0.5);
    const char *set1 = "optim.kind=adamw";
    expect_ok_(__LINE__, "[optim]\nkind = adam\nlr = 0.02\n", &set1, 1, &c);
    ck_assert(c.optim.weight_decay == 1e-2 && c.optim.lr == 0.02);
    const char *set2[] = {"optim.kind=adamw", "optim.weight_decay=0"};
    expect_ok_(__LINE__, "", set2, 2, &c);
    ck_assert(c.optim.weight_decay == 0 && c.optim.lr == 1e-3);
    const char *set3 = "optim.kind=adam";
    expect_ok_(__LINE__, "[optim]\nkind = adamw\n", &set3, 1, &c);
    ck_assert(c.optim.weight_decay == 0);
    /* the default lr follows the final kind */
    const char *set4 = "optim.kind=sgd";
    expect_ok_(__LINE__, "[optim]\nkind = adam\n", &set4, 1, &c);
    ck_assert(c.optim.lr == 1e-2);
    /* init_gain unset: the initialiser's own gain (PyTorch's defaults), not the
    ** activation's; auto asks for the activation's */
    static const struct {
        const char *init;
        double gain;
    } g[] = {{"xavier_normal", 1}, {"xavier_uniform", 1}, {"kaiming_normal", 0}, {"kaiming_uniform", 0},
             {"orthogonal", 1}, {"lecun_normal", 1},
             {"normal", NAN}, {"uniform", NAN}, {"zeros", NAN}, {"default", NAN}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        char text[160];
        double want = g[i].gain == 0 ? sqrt(2.0) : g[i].gain;
        snprintf(text, sizeof text, "[model]\nhidden = 64x30\nactivation = relu\ninit = %s\n", g[i].init);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert_msg(isnan(want) ? isnan(c.model.init_gain) : c.model.init_gain == want, "%s: init_gain %.17g",
                      g[i].init, c.model.init_gain);
        expect_roundtrip_(&c, g[i].init);
        snprintf(text, sizeof text, "[model]\nactivation = tanh\ninit = %s\ninit_gain = auto\n", g[i].init);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert(isnan(c.model.init_gain));
        snprintf(text, sizeof text, "[model]\ninit = %s\ninit_gain = 0.5\n", g[i].init);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert(c.model.init_gain == 0.5);
    }
    const char *set5 = "model.init=kaiming_uniform";
    expect_ok_(__LINE__, "[model]\ninit = xavier_normal\n", &set5, 1, &c);
    ck_assert(c.model.init_gain == sqrt(2.0));
    const char *set6 = "model.init_gain=auto";
    expect_ok_(__LINE__, "[model]\ninit = xavier_normal\n", &set6, 1, &c);
    ck_assert(isnan(c.model.init_gain));
    /* task and loss from the data kind */
    static const struct {
        const char *kind, *task, *loss;
    } d[] = {{"linreg", "regression", "mse"}, {"moons", "binary", "bce"},       {"circles", "binary", "bce"},
             {"xor", "binary", "bce"},        {"blobs", "multiclass", "ce"},    {"spirals", "multiclass", "ce"},
             {"adding", "regression", "mse"}, {"temporal_order", "multiclass", "ce"}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[data]\nkind = %s\n", d[i].kind);
        expect_ok_(__LINE__, text, NULL, 0, &c);
        ck_assert_str_eq(c.data.task, d[i].task);
        ck_assert_str_eq(c.loss.kind, d[i].loss);
    }
    expect_ok("[data]\nkind = csv\npath = a\ntarget = b\ntask = multiclass\n", &c);
    ck_assert_str_eq(c.loss.kind, "ce");
    /* run name: explicit, from the file name, sanitized */
    ck_assert_int_eq(clgrad_config_parse("/a/b/my.exp.ini", "", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.run.name, "my.exp");
    ck_assert_int_eq(clgrad_config_parse(".ini", "", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.run.name, "run");
    ck_assert_int_eq(clgrad_config_parse("x/..", "", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.run.name, "run");
    char longname[600];
    memset(longname, 'q', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(clgrad_config_parse(longname, "", NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_uint_eq(strlen(c.run.name), 127); /* a derived name is cut to fit */
    expect_roundtrip_(&c, "long derived name");
    char hugename[2000];
    memset(hugename, 'q', sizeof hugename - 1);
    hugename[sizeof hugename - 1] = '\0';
    ck_assert_int_eq(clgrad_config_parse(hugename, "", NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(err_, "file name longer than 1023 bytes"), "%s", err_);
}
END_TEST

/* ------------------------------------------------------------------ */
/* --set overrides                                                     */
/* ------------------------------------------------------------------ */

START_TEST(overrides)
{
    clgrad_config c;
    const char *sets[] = {"optim.lr=0.5", " model.hidden = 32x3 ", "run.name=\"with space\"", "optim.lr=0.25",
                          "data.kind=CSV", "data.path=d.csv", "data.target='a b # c'", "clip.kind=global_norm",
                          "run.seed=0x10"};
    expect_ok_(__LINE__, "[optim]\nlr = 0.1\n[model]\nhidden = 8\n", sets, 9, &c);
    ck_assert(c.optim.lr == 0.25); /* the last override wins */
    ck_assert_int_eq(c.model.nhidden, 3);
    ck_assert_int_eq(c.model.hidden[2], 32);
    ck_assert_str_eq(c.run.name, "with space");
    ck_assert_str_eq(c.data.kind, "csv");
    ck_assert_str_eq(c.data.target, "a b # c"); /* no comments in overrides */
    ck_assert_str_eq(c.clip.kind, "global_norm");
    ck_assert_uint_eq(c.run.seed, 16);
    /* an override may replace a key the file set (not a duplicate) */
    const char *s1 = "run.steps=5";
    expect_ok_(__LINE__, "[run]\nsteps = 10\n", &s1, 1, &c);
    ck_assert_int_eq(c.run.steps, 5);
    /* an override cannot hide a bad file value */
    expect_set_err("[run]\nsteps = x\n", &s1, 1, "t.ini:2: [run] steps: 'x' is not an integer");
    /* errors */
    const char *bad[] = {"run.steps=-3", "run.nope=1", "nope.steps=1", "steps=1", "run.steps", "", "=", ".=1",
                         "run.=1", "run.steps=1.5"};
    ck_assert_int_eq(parse_("", bad, 10, &c), CLGRAD_E_CONFIG);
    ck_assert_int_eq(lines_(err_), 10);
    ck_assert(strstr(err_, "--set run.steps=-3: [run] steps: '-3' is out of range; allowed: an integer >= 0\n"));
    ck_assert(strstr(err_, "--set run.nope=1: [run] nope: unknown key; allowed: name, seed, steps,"));
    ck_assert(strstr(err_, "--set nope.steps=1: [nope]: unknown section (did you mean [noise]?); allowed: [run],"));
    ck_assert(strstr(err_, "--set steps=1: expected section.key=value (did you mean run.steps?)\n"));
    ck_assert(strstr(err_, "--set run.steps: expected section.key=value (no '=')\n"));
    ck_assert(strstr(err_, "--set : expected section.key=value (no '=')\n"));
    ck_assert(strstr(err_, "--set =: expected section.key=value\n"));
    ck_assert(strstr(err_, "--set .=1: []: unknown section"));
    ck_assert(strstr(err_, "--set run.=1: [run] : unknown key"));
    ck_assert(strstr(err_, "--set run.steps=1.5: [run] steps: '1.5' is not an integer"));
    const char *nul[] = {NULL};
    ck_assert_int_eq(parse_("", nul, 1, &c), CLGRAD_E_CONFIG);
    ck_assert_str_eq(err_, "--set (null)" == NULL ? "" : err_); /* no crash; message names the override */
    ck_assert_int_eq(parse_("", NULL, 2, &c), CLGRAD_E_CONFIG);
    ck_assert(strstr(err_, "2 overrides but no list"));
    /* overrides work on load too, with the file's errors */
    const char *s2 = "optim.lr=2";
    ck_assert_int_eq(load_("mlp_moons_sgd.ini", &s2, 1, &c), 0);
    ck_assert(c.optim.lr == 2);
}
END_TEST

START_TEST(paths)
{
    clgrad_config c;
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    const char *dir = configs_dir_();
    /* a relative --set path is relative to the current directory */
    const char *set = "data.path=rel/x.csv";
    ck_assert_msg(load_("csv_regression.ini", &set, 1, &c) == 0, "%s", err_);
    char want[8192];
    snprintf(want, sizeof want, "%s/rel/x.csv", cwd);
    ck_assert_str_eq(c.data.path, want);
    set = "data.path=/abs/x.csv";
    ck_assert_int_eq(load_("csv_regression.ini", &set, 1, &c), 0);
    ck_assert_str_eq(c.data.path, "/abs/x.csv");
    (void)dir;
    /* a file in the current directory (no '/' in its name) */
    char *text = strdup("[data]\nkind = idx\npath = imgs\nlabels = sub/lbls\n");
    char *tmp = temp_file_(text, strlen(text));
    char *slash = strrchr(tmp, '/');
    *slash = '\0';
    char saved[4096];
    ck_assert_ptr_nonnull(getcwd(saved, sizeof saved));
    ck_assert_int_eq(chdir(tmp), 0);
    ck_assert_msg(clgrad_config_load(slash + 1, NULL, 0, &c, err_, sizeof err_) == 0, "%s", err_);
    char here[4096];
    ck_assert_ptr_nonnull(getcwd(here, sizeof here));
    snprintf(want, sizeof want, "%s/imgs", here);
    ck_assert_str_eq(c.data.path, want);
    snprintf(want, sizeof want, "%s/sub/lbls", here);
    ck_assert_str_eq(c.data.labels, want);
    /* and by its absolute name */
    *slash = '/';
    ck_assert_int_eq(chdir(saved), 0);
    ck_assert_msg(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_) == 0, "%s", err_);
    ck_assert_str_eq(c.data.labels, want);
    unlink(tmp);
    free(tmp);
    free(text);
    /* a path that no longer fits once made absolute */
    char *big = malloc(2000);
    char p[1100];
    memset(p, 'p', 1020);
    p[1020] = '\0';
    snprintf(big, 2000, "[data]\nkind = csv\ntarget = y\npath = %s\n", p);
    tmp = temp_file_(big, strlen(big));
    ck_assert_int_eq(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(err_, ":4: [data] path: ") && strstr(err_, "bytes once made absolute; allowed: at most 1023"),
                  "%s", err_);
    unlink(tmp);
    free(tmp);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

static double rnd_unit_(uint64_t *s) { return (double)(rng_(s) >> 11) * 0x1p-53; } /* [0, 1) */

/* A positive finite double from random bits: any exponent, denormals included. */
static double rnd_pos_(uint64_t *s)
{
    for (;;) {
        uint64_t b = rng_(s) & 0x7fffffffffffffffull;
        double d;
        memcpy(&d, &b, sizeof d);
        if (isfinite(d) && d > 0) return d;
    }
}

static double rnd_in01_(uint64_t *s) /* [0, 1) with random low bits and tiny values */
{
    switch (rng_(s) % 4) {
    case 0: return 0;
    case 1: return nextafter(1.0, 0.0);
    case 2: return ldexp(rnd_unit_(s), -(int)(rng_(s) % 1000));
    default: return rnd_unit_(s);
    }
}

static void rnd_str_(uint64_t *s, char *out, size_t n, int allow_empty, int name)
{
    static const char chars[] = "abcXYZ09 _-.#;=[]\"',:\\/\xc3\xa9";
    size_t len = rng_(s) % (rng_(s) % 4 ? 12 : n); /* sometimes long */
    if (len >= n) len = n - 1;
    if (!allow_empty && len == 0) len = 1;
    int quote = rng_(s) % 2 ? '"' : '\'';
    size_t i = 0;
    while (i < len) {
        char ch = chars[rng_(s) % (sizeof chars - 1)];
        if ((ch == '"' || ch == '\'') && ch != quote) continue; /* one quote kind per value */
        if (name && (ch == '/' || ch == '\\')) continue;
        if ((unsigned char)ch >= 0x80) { /* keep UTF-8 whole */
            if (i + 2 > len) {
                len--;
                continue;
            }
            out[i++] = '\xc3', out[i++] = '\xa9';
            continue;
        }
        out[i++] = ch;
    }
    out[len] = '\0';
    if ((name && (!strcmp(out, ".") || !strcmp(out, ".."))) || (!allow_empty && !out[0])) strcpy(out, "n");
}

static const char *pick_(uint64_t *s, const char *const *v, size_t n) { return v[rng_(s) % n]; }
#define PICK(s, ...) pick_(s, (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* A random valid, resolved config (every rule above holds). */
static void random_config_(uint64_t *s, clgrad_config *c)
{
    clgrad_config_defaults(c);
    rnd_str_(s, c->run.name, sizeof c->run.name, 0, 1);
    c->run.seed = rng_(s);
    if (rng_(s) % 2) c->run.steps = (long)(rng_(s) % 2 ? rng_(s) % 100000 + 1 : LONG_MAX), c->run.epochs = 0;
    else c->run.steps = 0, c->run.epochs = (long)(rng_(s) % 1000 + 1);
    c->run.eval_every = (long)(rng_(s) % 1000);
    c->run.log_every = (long)(rng_(s) % 100 + 1);

    clgrad_data_section *d = &c->data;
    snprintf(d->kind, sizeof d->kind, "%s",
             PICK(s, "linreg", "moons", "circles", "xor", "blobs", "spirals", "adding", "temporal_order", "csv", "idx",
                  "cifar10"));
    if (!strcmp(d->kind, "cifar10")) {
        snprintf(d->path, sizeof d->path, "%s", PICK(s, "data_batch_1.bin", "a/b.bin,c.bin", "/x/y.bin, z w.bin"));
        snprintf(d->task, sizeof d->task, "multiclass");
    } else if (!strcmp(d->kind, "csv")) {
        rnd_str_(s, d->path, sizeof d->path, 0, 0);
        rnd_str_(s, d->target, sizeof d->target, 0, 0);
        snprintf(d->task, sizeof d->task, "%s", PICK(s, "regression", "binary", "multiclass"));
    } else if (!strcmp(d->kind, "idx")) {
        rnd_str_(s, d->path, sizeof d->path, 0, 0);
        rnd_str_(s, d->labels, sizeof d->labels, 0, 0);
        snprintf(d->task, sizeof d->task, "multiclass");
    } else {
        const char *k = d->kind;
        snprintf(d->task, sizeof d->task, "%s",
                 !strcmp(k, "linreg") || !strcmp(k, "adding")                      ? "regression"
                 : !strcmp(k, "moons") || !strcmp(k, "circles") || !strcmp(k, "xor") ? "binary"
                                                                                   : "multiclass");
    }
    d->batch_size = (long)(rng_(s) % 1000);
    d->shuffle = (int)(rng_(s) % 2);
    d->test_fraction = rnd_in01_(s);
    d->standardize = (int)(rng_(s) % 2);
    d->samples = (long)(rng_(s) % 100000 + 1);
    d->features = (long)(rng_(s) % 1000 + 1);
    d->noise = rng_(s) % 4 ? rnd_pos_(s) : 0;
    d->condition = 1 + (rng_(s) % 2 ? rnd_pos_(s) : 0);
    d->classes = (long)(rng_(s) % 100 + 2);
    d->seq_len = (long)(rng_(s) % 1000 + 1);

    clgrad_model_section *m = &c->model;
    int seq = !strcmp(d->kind, "adding") || !strcmp(d->kind, "temporal_order");
    snprintf(m->kind, sizeof m->kind, "%s", seq && rng_(s) % 2 ? PICK(s, "rnn", "lstm", "gru") : "mlp");
    int rec = strcmp(m->kind, "mlp") != 0, gated = rec && strcmp(m->kind, "rnn") != 0;
    m->nhidden = (int)(rng_(s) % (rng_(s) % 8 ? 6 : CLGRAD_MAX_LAYERS + 1));
    if (rec) m->nhidden = 1;
    m->layers = rec ? (long)(rng_(s) % CLGRAD_MAX_RLAYERS + 1) : 1;
    memset(m->hidden, 0, sizeof m->hidden);
    for (int i = 0; i < m->nhidden; i++) m->hidden[i] = (long)(rng_(s) % 3 ? rng_(s) % 1024 + 1 : rng_(s) % CLGRAD_MAX_WIDTH + 1);
    m->nactivation = m->nhidden > 1 && rng_(s) % 2 ? m->nhidden : 1;
    memset(m->activation, 0, sizeof m->activation);
    int leaky = 0, elu = 0;
    for (int i = 0; i < m->nactivation; i++) {
        snprintf(m->activation[i], sizeof m->activation[i], "%s",
                 gated ? "tanh"
                       : PICK(s, "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softsign",
                              "softplus", "gelu", "gelu_tanh"));
        leaky |= !strcmp(m->activation[i], "leaky_relu");
        elu |= !strcmp(m->activation[i], "elu");
    }
    if (leaky || elu) m->activation_param = leaky && elu && rng_(s) % 2 ? NAN : (rng_(s) % 2 ? -1 : 1) * rnd_pos_(s);
    else m->activation_param = NAN;
    m->bias = (int)(rng_(s) % 2);
    m->forget_bias = !strcmp(m->kind, "lstm") && m->bias && rng_(s) % 2 ? (rng_(s) % 2 ? -1 : 1) * rnd_pos_(s) : NAN;
    snprintf(m->init, sizeof m->init, "%s",
             PICK(s, "default", "zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
                  "kaiming_uniform", "kaiming_normal", "lecun_normal", "orthogonal"));
    m->init_gain = rng_(s) % 2 ? NAN : rnd_pos_(s);
    m->init_std = rng_(s) % 4 ? rnd_pos_(s) : 0;
    snprintf(m->init_mode, sizeof m->init_mode, "%s", PICK(s, "fan_in", "fan_out"));

    const char *task = d->task;
    snprintf(c->loss.kind, sizeof c->loss.kind, "%s",
             !strcmp(task, "multiclass") ? "ce" : !strcmp(task, "binary") ? PICK(s, "bce", "mse") : "mse");

    clgrad_optim_section *o = &c->optim;
    snprintf(o->kind, sizeof o->kind, "%s", PICK(s, "sgd", "rmsprop", "adam", "adamw"));
    o->lr = rnd_pos_(s);
    o->weight_decay = rng_(s) % 3 ? rnd_pos_(s) : 0;
    o->l1 = rng_(s) % 3 ? 0 : rnd_pos_(s);
    if (!strcmp(o->kind, "sgd")) {
        o->momentum = rnd_in01_(s);
        o->dampening = rng_(s) % 2 ? 0 : (rng_(s) % 4 ? rnd_in01_(s) : 1);
        o->nesterov = o->momentum > 0 && o->dampening == 0 && rng_(s) % 2;
    } else if (!strcmp(o->kind, "rmsprop")) {
        o->momentum = rnd_in01_(s);
        o->alpha = rnd_in01_(s);
        o->eps = rnd_pos_(s);
        o->centered = (int)(rng_(s) % 2);
    } else {
        o->beta1 = rnd_in01_(s);
        o->beta2 = rnd_in01_(s);
        o->eps = rnd_pos_(s);
        o->amsgrad = (int)(rng_(s) % 2);
    }
    snprintf(o->schedule, sizeof o->schedule, "%s", PICK(s, "constant", "step", "cosine", "warmup"));
    long maxw = c->run.steps > 0 ? (c->run.steps < 100000 ? c->run.steps : 100000) : 100000;
    if (!strcmp(o->schedule, "step")) {
        o->step_size = (long)(rng_(s) % 10000 + 1);
        o->gamma = rnd_pos_(s);
    } else if (!strcmp(o->schedule, "cosine")) {
        o->warmup_steps = (long)(rng_(s) % (unsigned long)(maxw + 1));
        o->min_lr = rng_(s) % 2 ? 0 : o->lr * rnd_unit_(s);
    } else if (!strcmp(o->schedule, "warmup")) {
        o->warmup_steps = (long)(rng_(s) % (unsigned long)maxw + 1);
    }

    clgrad_clip_section *k = &c->clip;
    snprintf(k->kind, sizeof k->kind, "%s", PICK(s, "none", "value", "norm", "global_norm", "agc"));
    if (!strcmp(k->kind, "norm") || !strcmp(k->kind, "global_norm")) {
        k->max_norm = rnd_pos_(s);
        k->norm_type = rng_(s) % 2 ? 2 : INFINITY;
    } else if (!strcmp(k->kind, "value")) {
        k->value = rnd_pos_(s);
    } else if (!strcmp(k->kind, "agc")) {
        k->clipping = rnd_pos_(s);
    }
    snprintf(k->nonfinite, sizeof k->nonfinite, "%s", PICK(s, "propagate", "skip", "stop"));
    c->diverge.grad_norm_limit = rng_(s) % 4 ? (rng_(s) % 2 ? -1 : 1) * rnd_pos_(s) : rng_(s) % 2 ? INFINITY : 0;
    c->diverge.loss_limit = rng_(s) % 4 ? (rng_(s) % 2 ? -1 : 1) * rnd_pos_(s) : rng_(s) % 2 ? INFINITY : -0.0;
    snprintf(c->diverge.action, sizeof c->diverge.action, "%s", PICK(s, "stop", "continue"));
    c->noise.grad_eta = rng_(s) % 2 ? rnd_pos_(s) : 0;
    c->noise.grad_gamma = c->noise.grad_eta > 0 && rng_(s) % 2 ? rnd_pos_(s) : 0.55;
    c->noise.input_std = rng_(s) % 2 ? rnd_pos_(s) : 0;
}

START_TEST(roundtrip_random)
{
    uint64_t s = seed_();
    for (int i = 0; i < 3000; i++) {
        clgrad_config c;
        random_config_(&s, &c);
        char msg[8192];
        roundtrip_(&c, msg, sizeof msg);
        if (msg[0]) ck_abort_msg("random config %d (CLGRAD_TEST_SEED=%" PRIu64 "): %s", i, seed_(), msg);
    }
}
END_TEST

START_TEST(roundtrip_edges)
{
    clgrad_config c;
    clgrad_config_defaults(&c);
    c.run.seed = UINT64_MAX;
    c.run.steps = LONG_MAX;
    c.run.eval_every = LONG_MAX;
    c.run.log_every = LONG_MAX;
    c.data.test_fraction = nextafter(1.0, 0.0);
    c.data.noise = 4.9406564584124654e-324;
    c.data.condition = DBL_MAX;
    c.data.batch_size = LONG_MAX;
    c.model.nhidden = CLGRAD_MAX_LAYERS;
    for (int i = 0; i < CLGRAD_MAX_LAYERS; i++) c.model.hidden[i] = CLGRAD_MAX_WIDTH - i;
    c.model.init_gain = DBL_MIN;
    c.model.init_std = 0.1 + 0.2; /* 0.30000000000000004 */
    snprintf(c.optim.kind, sizeof c.optim.kind, "adamw");
    c.optim.lr = 1.0 / 3;
    c.optim.weight_decay = 0;
    c.optim.beta1 = -0.0;
    c.optim.beta2 = 0.9999999999999999;
    c.optim.eps = 2.2250738585072009e-308; /* largest denormal */
    snprintf(c.clip.kind, sizeof c.clip.kind, "norm");
    c.clip.norm_type = INFINITY;
    c.clip.max_norm = 1e-300;
    c.diverge.grad_norm_limit = INFINITY;
    c.diverge.loss_limit = -DBL_MAX;
    expect_roundtrip_(&c, "edges");
    /* strings that need quotes */
    static const char *const names[] = {" lead", "trail ", "a #b", "a ;b", "#x", ";x", "\"q", "'q", "a\"b'c",
                                        "x = y", "[run]", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        clgrad_config_defaults(&c);
        snprintf(c.run.name, sizeof c.run.name, "%s", names[i]);
        snprintf(c.data.kind, sizeof c.data.kind, "csv");
        snprintf(c.data.path, sizeof c.data.path, "%s", names[i]);
        snprintf(c.data.target, sizeof c.data.target, "%s", names[i]);
        expect_roundtrip_(&c, names[i]);
    }
    /* the shortest exact form is printed */
    clgrad_config_defaults(&c);
    c.optim.lr = 0.1;
    char *t = write_str_(&c);
    ck_assert_msg(strstr(t, "\nlr = 0.1\n") && strstr(t, "\neps = 1e-08\n") && strstr(t, "\nhidden = 64,64\n") &&
                      strstr(t, "\ninit_gain = auto\n") && strstr(t, "\nshuffle = true\n") &&
                      strstr(t, "\npath = \"\"\n") && strstr(t, "\n[diverge]\n"),
                  "%s", t);
    free(t);
    c.optim.lr = 0.1 + 0.2;
    t = write_str_(&c);
    ck_assert_msg(strstr(t, "\nlr = 0.30000000000000004\n"), "%s", t);
    free(t);
    c.model.nhidden = 0;
    t = write_str_(&c);
    ck_assert_msg(strstr(t, "\nhidden = none\n"), "%s", t);
    free(t);
    c.clip.norm_type = INFINITY;
    t = write_str_(&c);
    ck_assert_msg(strstr(t, "\nnorm_type = inf\n"), "%s", t);
    free(t);
}
END_TEST

START_TEST(write_checks)
{
    clgrad_config c;
    clgrad_config_defaults(&c);
    /* every key is written: count "key = " lines, and help names every one of them */
    char *t = write_str_(&c);
    char *h = NULL;
    size_t hn = 0;
    FILE *f = open_memstream(&h, &hn);
    ck_assert_int_eq(clgrad_config_help(f), 0);
    fclose(f);
    int nkeys = 0;
    for (char *line = t; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *eq = strstr(line, " = ");
        const char *nl = strchr(line, '\n');
        if (!eq || (nl && eq > nl) || line[0] == '#') continue;
        nkeys++;
        char key[64];
        snprintf(key, sizeof key, "  %.*s ", (int)(eq - line), line);
        ck_assert_msg(strstr(h, key), "help lacks '%s'", key);
    }
    ck_assert_int_eq(nkeys, 84); /* run 6, data 15, model 15, loss 1, optim 21, clip 12, diverge 3, noise 3, metrics 8 */
    free(t);
    free(h);
    /* a value that cannot be written back, or a full disk */
    c.run.name[0] = '\n';
    f = fopen("/dev/null", "w");
    ck_assert_int_eq(clgrad_config_write(&c, f), -1);
    fclose(f);
    clgrad_config_defaults(&c);
    snprintf(c.run.name, sizeof c.run.name, " a\"b' ");
    f = fopen("/dev/null", "w");
    ck_assert_int_eq(clgrad_config_write(&c, f), -1);
    fclose(f);
    clgrad_config_defaults(&c);
    f = fopen("/dev/full", "w");
    if (f) {
        ck_assert_int_eq(clgrad_config_write(&c, f), -1);
        fclose(f);
    }
    /* the header comment names the file; a hostile path cannot break the file */
    snprintf(c.path, sizeof c.path, "evil\n[optim]\nlr = 5");
    t = write_str_(&c);
    clgrad_config back;
    ck_assert_int_eq(clgrad_config_parse("x", t, NULL, 0, &back, err_, sizeof err_), 0);
    ck_assert(back.optim.lr == c.optim.lr);
    ck_assert(strstr(t, "# from: evil\\x0a[optim]\\x0alr = 5\n"));
    free(t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Robustness                                                          */
/* ------------------------------------------------------------------ */

START_TEST(robust_text)
{
    clgrad_config c;
    /* CRLF, CR only, BOM, no final newline */
    expect_ok("\xEF\xBB\xBF[optim]\r\nkind = adam\r\nlr = 0.5\r\n\r\n[run]\r\nname = \"x y\"\r\n", &c);
    ck_assert_str_eq(c.optim.kind, "adam");
    ck_assert(c.optim.lr == 0.5);
    ck_assert_str_eq(c.run.name, "x y");
    expect_ok("[optim]\rkind = rmsprop\rlr = 0.5", &c);
    ck_assert_str_eq(c.optim.kind, "rmsprop");
    expect_err("[optim]\r\nlr = x\r\n", "t.ini:2: [optim] lr: 'x' is not a number");
    expect_err("[optim]\rlr = x\r", "t.ini:2: [optim] lr: 'x' is not a number");
    expect_err("\xEF\xBB\xBF\n[run]\nsteps = x\n", "t.ini:3: [run] steps:");
    /* a BOM elsewhere is not skipped */
    expect_err("[run]\n\xEF\xBB\xBFsteps = 3\n", "t.ini:2: [run] \xEF\xBB\xBFsteps: unknown key");
    /* very long lines */
    size_t big = 1 << 20;
    char *text = malloc(big + 100);
    strcpy(text, "[run]\nname = ");
    memset(text + strlen(text), 'a', big);
    strcpy(text + 13 + big, "\n");
    ck_assert_int_eq(expect_err(text, "t.ini:2: [run] name: 'aaaa", "... (1048576 bytes)' is too long (1048576 bytes; at most 127)"), 1);
    ck_assert_uint_lt(strlen(err_), 400); /* quoted text is cut */
    memset(text, 'k', big);
    strcpy(text + big, " = 1\n");
    ck_assert_int_eq(expect_err(text, "t.ini:1: key 'kkkk", "... (1048576 bytes)' before any [section] header"), 1);
    memcpy(text, "[run]\n", 6);
    ck_assert_int_eq(expect_err(text, "t.ini:2: [run] kkkk", "... (1048570 bytes): unknown key"), 1);
    memset(text, '[', big);
    text[big] = '\0';
    ck_assert_int_eq(expect_err(text, "t.ini:1: section header without ']'"), 1);
    memset(text, 'z', big);
    text[big] = '\0';
    ck_assert_int_eq(expect_err(text, "t.ini:1: expected 'key = value' or '[section]'"), 1);
    /* a 1 MB file of valid lines */
    size_t n = 0;
    n += (size_t)sprintf(text + n, "[run]\nsteps = 7\n");
    while (n < big - 100) n += (size_t)sprintf(text + n, "# filler comment line %zu ;;; ### [not a section]\n", n);
    n += (size_t)sprintf(text + n, "[optim]\nlr = 0.125\n");
    expect_ok(text, &c);
    ck_assert_int_eq(c.run.steps, 7);
    ck_assert(c.optim.lr == 0.125);
    /* thousands of errors: every one is counted, the message is bounded */
    n = 0;
    n += (size_t)sprintf(text + n, "[run]\n");
    for (int i = 0; i < 20000; i++) n += (size_t)sprintf(text + n, "bad line %d\n", i);
    ck_assert_int_eq(parse_(text, NULL, 0, &c), CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(err_, "... and 19900 more errors\n"), "%s", err_ + strlen(err_) - 200);
    ck_assert_int_eq(lines_(err_), 101);
    free(text);
}
END_TEST

START_TEST(robust_garbage)
{
    uint64_t s = seed_() ^ 0x5eed;
    size_t n = 1 << 16;
    unsigned char *g = malloc(n);
    for (int rep = 0; rep < 20; rep++) {
        for (size_t i = 0; i < n; i++) g[i] = (unsigned char)rng_(&s);
        if (rep % 2) /* printable garbage with structure characters */
            for (size_t i = 0; i < n; i++) g[i] = (unsigned char)"[]=#;\"' \nabc.x,0123456789"[g[i] % 26];
        char *tmp = temp_file_(g, n);
        clgrad_config c;
        int rc = clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_);
        ck_assert_msg(rc == CLGRAD_E_CONFIG, "garbage accepted (CLGRAD_TEST_SEED=%" PRIu64 ")", seed_());
        ck_assert(err_[0] != '\0');
        /* every message starts with the file name and a line number */
        for (const char *e = err_; *e; e = strchr(e, '\n') + 1)
            ck_assert_msg(!strncmp(e, tmp, strlen(tmp)) || !strncmp(e, "... and ", 8), "%.200s", e);
        unlink(tmp);
        free(tmp);
    }
    /* NUL bytes in a file are reported, not taken as the end */
    const char nul[] = "[run]\nsteps = 5\0junk\nname = x\n";
    char *tmp = temp_file_(nul, sizeof nul - 1);
    clgrad_config c;
    ck_assert_int_eq(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(err_, ":2: control character (byte 0x00) at column 10"), "%s", err_);
    unlink(tmp);
    free(tmp);
    free(g);
}
END_TEST

START_TEST(robust_errbuf)
{
    clgrad_config c;
    const char *text = "[run]\nsteps = a\nepochs = b\neval_every = c\nlog_every = d\n";
    char full[4096];
    ck_assert_int_eq(clgrad_config_parse("t.ini", text, NULL, 0, &c, full, sizeof full), CLGRAD_E_CONFIG);
    ck_assert_int_eq(lines_(full), 4);
    size_t flen = strlen(full);
    /* every buffer size: whole lines only, then the count of the rest; canaries intact */
    for (size_t nerr = 0; nerr < flen + 10; nerr++) {
        char buf[4096];
        memset(buf, 0x5a, sizeof buf);
        ck_assert_int_eq(clgrad_config_parse("t.ini", text, NULL, 0, &c, nerr ? buf : NULL, nerr), CLGRAD_E_CONFIG);
        size_t bad = 0;
        for (size_t i = nerr; i < sizeof buf; i++) bad += buf[i] != 0x5a;
        ck_assert_msg(bad == 0, "nerr %zu: wrote %zu bytes past the buffer", nerr, bad);
        if (nerr == 0) continue;
        size_t len = strlen(buf);
        ck_assert_uint_lt(len, nerr);
        if (nerr > flen) {
            ck_assert_str_eq(buf, full);
            continue;
        }
        const char *more = strstr(buf, "... and ");
        ck_assert_msg(more || len == nerr - 1, "nerr %zu: '%s'", nerr, buf); /* a note, or a cut note */
        if (more && more[strlen(more) - 1] == '\n') {
            size_t kept = (size_t)(more - buf);
            ck_assert(!strncmp(buf, full, kept)); /* whole lines of the full text */
            ck_assert(kept == 0 || buf[kept - 1] == '\n');
            char note[64];
            int shown = lines_(buf) - 1, rest = 4 - shown;
            snprintf(note, sizeof note, "... and %d more error%s\n", rest, rest == 1 ? "" : "s");
            ck_assert_str_eq(more, note);
        }
    }
    char buf[64];
    ck_assert_int_eq(clgrad_config_parse("t.ini", text, NULL, 0, &c, buf, sizeof buf), CLGRAD_E_CONFIG);
    ck_assert_str_eq(buf, "... and 4 more errors\n");
    char one[1] = {'x'};
    ck_assert_int_eq(clgrad_config_load("/nonexistent/dir/x.ini", NULL, 0, &c, one, 1), CLGRAD_E_CONFIG);
    ck_assert_int_eq(one[0], '\0');
    ck_assert_int_eq(clgrad_config_parse("t.ini", "", NULL, 0, &c, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(load_errors)
{
    clgrad_config c;
    char want[256];
    ck_assert_int_eq(clgrad_config_load("/nonexistent/dir/x.ini", NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    snprintf(want, sizeof want, "/nonexistent/dir/x.ini: cannot open: %s\n", strerror(ENOENT));
    ck_assert_str_eq(err_, want);
    ck_assert_int_eq(clgrad_config_load("/tmp", NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    snprintf(want, sizeof want, "/tmp: cannot read: %s\n", strerror(EISDIR));
    ck_assert_str_eq(err_, want);
    ck_assert_int_eq(clgrad_config_load(NULL, NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
    ck_assert(strstr(err_, ": cannot open: "));
    /* an empty file */
    char *tmp = temp_file_("", 0);
    ck_assert_int_eq(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_), 0);
    ck_assert_str_eq(c.path, tmp);
    ck_assert_str_eq(c.run.name, strrchr(tmp, '/') + 1);
    unlink(tmp);
    free(tmp);
    /* an unreadable file */
    tmp = temp_file_("[run]\n", 6);
    chmod(tmp, 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(clgrad_config_load(tmp, NULL, 0, &c, err_, sizeof err_), CLGRAD_E_CONFIG);
        snprintf(want, sizeof want, "%s: cannot open: %s\n", tmp, strerror(EACCES));
        ck_assert_str_eq(err_, want);
    }
    unlink(tmp);
    free(tmp);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, good_files);
    tcase_add_test(tc, syntax);
    tcase_add_test(tc, syntax_values);
    tcase_add_test(tc, type_integers);
    tcase_add_test(tc, type_seed);
    tcase_add_test(tc, type_numbers);
    tcase_add_test(tc, type_booleans);
    tcase_add_test(tc, type_choices);
    tcase_add_test(tc, type_strings);
    tcase_add_test(tc, widths);
    tcase_add_test(tc, activations);
    tcase_add_test(tc, ranges);
    tcase_add_test(tc, messages_exact);
    tcase_add_test(tc, suggestions);
    tcase_add_test(tc, collect_all);
    tcase_add_test(tc, cross_rules);
    tcase_add_test(tc, resolution);
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, roundtrip_random);
    tcase_add_test(tc, roundtrip_edges);
    tcase_add_test(tc, write_checks);
    tcase_add_test(tc, robust_text);
    tcase_add_test(tc, robust_garbage);
    tcase_add_test(tc, robust_errbuf);
    tcase_add_test(tc, load_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    printf("config tests: CLGRAD_TEST_SEED=%" PRIu64 "\n", seed_());
    fflush(stdout);
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
