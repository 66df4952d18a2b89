/*
** cli/tune.c: `clgrad tune [--device SPEC] [--quick] [--sizes N,...] [--budget S]
** [--clblast] [--show] [--reset]`: search the GEMM parameters on the device
** (clgrad_tune_search), store the best in the device's tune file, which every
** context opened on that device then loads (clgrad/tune.h).
*/
#include "cli/tune.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "clgrad/core.h"
#include "clgrad/tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void line_(void *user, const char *line)
{
    (void)user;
    printf("  %s\n", line);
    fflush(stdout);
}

/* "256,512": 1..16 sizes in 1..16384 into s; -1 after a message. */
static int sizes_(const char *v, size_t *s, int *n)
{
    *n = 0;
    for (const char *p = v; *p;) {
        char *end;
        unsigned long x = strtoul(p, &end, 10);
        if (end == p || x < 1 || x > 16384 || *n == 16 || (*end && *end != ',')) {
            fprintf(stderr, "clgrad tune: --sizes %s: want up to 16 sizes in 1..16384, comma-separated\n", v);
            return -1;
        }
        s[(*n)++] = x;
        p = *end ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

static void show_(clgrad_ctx *ctx)
{
    char path[1100] = "", params[1024];
    const clgrad_gemm_tune *t = clgrad_gemm_tune_get(ctx);
    clgrad_gemm_tune_format(t, params, sizeof params);
    int has = clgrad_tune_path(ctx, path, sizeof path);
    printf("device:  %s\ntune file: %s\nin use:  %s (from %s)\n", clgrad_device(ctx)->name,
           has ? path : "(none: no cache directory)", params, t->source);
}

/* The search, then the best stored over the context's other parameters. */
static int tune_(clgrad_ctx *ctx, clgrad_tune_opts *to)
{
    clgrad_gemm_tune best, keep = *clgrad_gemm_tune_get(ctx);
    double speedup = 1;
    printf("clgrad tune: %s GEMM on %s%s\n", to->clblast ? "CLBlast's" : "the own", clgrad_device(ctx)->name,
           to->quick ? " (quick)" : "");
    if (clgrad_tune_search(ctx, to, &best, &speedup) != CLGRAD_OK) {
        fprintf(stderr, "clgrad tune: %s\n", clgrad_errmsg(ctx));
        return 1;
    }
    if (to->clblast) {
        keep.n_clblast = best.n_clblast;
        memcpy(keep.clblast_name, best.clblast_name, sizeof keep.clblast_name);
        memcpy(keep.clblast_value, best.clblast_value, sizeof keep.clblast_value);
    } else {
        int n = keep.n_clblast;
        best.n_clblast = n;
        memcpy(best.clblast_name, keep.clblast_name, sizeof keep.clblast_name);
        memcpy(best.clblast_value, keep.clblast_value, sizeof keep.clblast_value);
        keep = best;
    }
    char params[1024], note[1400], path[1100] = "";
    clgrad_gemm_tune_format(&keep, params, sizeof params);
    snprintf(note, sizeof note, "written by clgrad tune%s%s: %.2fx the %s", to->quick ? " --quick" : "",
             to->clblast ? " --clblast" : "", speedup, to->clblast ? "CLBlast defaults" : "built-in defaults");
    if (clgrad_tune_save(ctx, &keep, note) != CLGRAD_OK) {
        fprintf(stderr, "clgrad tune: %s\n", clgrad_errmsg(ctx));
        return 1;
    }
    clgrad_tune_path(ctx, path, sizeof path);
    printf("best: %s (%.2fx the %s)\nwrote %s\n", params, speedup, to->clblast ? "CLBlast defaults" : "built-in defaults",
           path);
    return 0;
}

static int run_(const char *device, clgrad_open_opts *oo, clgrad_tune_opts *to, int show, int reset)
{
    clgrad_ctx *ctx = clgrad_ctx_new();
    if (!ctx) return 1;
    int rc = 1;
    oo->only = "matmul.cl,activation.cl";
    if (clgrad_open(ctx, device, oo) != CLGRAD_OK) {
        fprintf(stderr, "clgrad tune: %s\n", clgrad_errmsg(ctx));
        goto out;
    }
    if (*clgrad_warnings(ctx)) fprintf(stderr, "clgrad tune: warning: %s", clgrad_warnings(ctx));
    to->device_spec = device, to->open = oo, to->on_line = line_;
    if (reset) {
        int removed = 0;
        char path[1100] = "";
        clgrad_tune_path(ctx, path, sizeof path);
        if (clgrad_tune_reset(ctx, &removed) != CLGRAD_OK) {
            fprintf(stderr, "clgrad tune: %s\n", clgrad_errmsg(ctx));
            goto out;
        }
        printf("%s %s\n", removed ? "removed" : "no tune file at", path[0] ? path : "(no cache directory)");
        rc = 0;
    } else if (show) {
        show_(ctx);
        rc = 0;
    } else {
        rc = tune_(ctx, to);
    }
out:
    clgrad_ctx_free(ctx);
    return rc;
}

int clgrad_cli_tune(int argc, char **argv)
{
    const clgrad_cli_command *cmd = clgrad_cli_command_find("tune");
    const char *device = NULL;
    int show = 0, reset = 0, rc = 2;
    size_t sizes[16];
    clgrad_open_opts oo = {0};
    clgrad_tune_opts to = {0};
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, "tune", "clgrad tune", NULL, argc, argv) != 0) return 2;
    for (int r; (r = clgrad_cli_args_next(&g)) != -1;) {
        const char *a = g.opt, *v = g.value;
        if (r == -2) goto out;
        if (r == 0) {
            fprintf(stderr, "clgrad tune: unexpected argument %s\n", v);
            goto out;
        } else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--cl-dir")) oo.cl_dir = v;
        else if (!strcmp(a, "--cache-dir")) oo.cache_dir = v;
        else if (!strcmp(a, "--quick")) to.quick = 1;
        else if (!strcmp(a, "--clblast")) to.clblast = 1;
        else if (!strcmp(a, "--show")) show = 1;
        else if (!strcmp(a, "--reset")) reset = 1;
        else if (!strcmp(a, "--sizes")) {
            if (sizes_(v, sizes, &to.nsizes) != 0) goto out;
            to.sizes = sizes;
        } else if (!strcmp(a, "--budget")) {
            char *end;
            to.budget_s = strtod(v, &end);
            if (end == v || *end || to.budget_s < 0) {
                fprintf(stderr, "clgrad tune: --budget %s: want seconds >= 0\n", v);
                goto out;
            }
        } else if (!strcmp(a, "--help")) {
            clgrad_cli_command_help(cmd, stdout);
            rc = 0;
            goto out;
        }
    }
    clgrad_cli_args_free(&g);
    return run_(device, &oo, &to, show, reset);
out:
    clgrad_cli_args_free(&g);
    return rc;
}
