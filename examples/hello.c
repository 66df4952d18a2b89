/*
** hello.c: a small C program using libclgrad through its installed headers
** only: open the default OpenCL device (or $CLGRAD_DEVICE), parse an
** experiment from a string, train it for a few steps, print the loss as it
** goes, then read the run directory back and print its summary.
**
** Build against an installed clgrad:
**   cc hello.c $(pkg-config --cflags --libs clgrad) -o hello
** Run:
**   ./hello [RUN_DIR]          (default: a new directory under /tmp)
** Exit status 0 when the run completed (or diverged: a result, not an error).
*/
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <clgrad.h>

#include <stdio.h>
#include <stdlib.h>

/* The experiment: 3-class spirals, an MLP with two tanh layers, SGD.  The
** same keys as an experiment file (`clgrad keys` lists them all). */
static const char experiment[] =
    "[run]\n"
    "name = hello\n"
    "seed = 1\n"
    "steps = 30\n"
    "log_every = 5\n"
    "\n"
    "[data]\n"
    "kind = spirals\n"
    "classes = 3\n"
    "samples = 300\n"
    "batch_size = 32\n"
    "\n"
    "[model]\n"
    "kind = mlp\n"
    "hidden = 16,16\n"
    "activation = tanh\n"
    "\n"
    "[optim]\n"
    "kind = sgd\n"
    "lr = 0.1\n";

/* Called after every step; loss and gradient norm are read back only at the
** logged steps (every run.log_every).  Returning nonzero would stop the run. */
static int on_step(void *user, const clgrad_step_info *s)
{
    (void)user;
    if (s->logged) printf("step %3ld/%ld  loss %.6f  grad norm %.4g\n", s->step, s->steps_planned, s->loss, s->grad_norm);
    return 0;
}

int main(int argc, char **argv)
{
    static clgrad_config cfg; /* large: not on the stack */
    char err[4096], tmpl[] = "/tmp/clgrad-hello-XXXXXX";
    const char *out = argc > 1 ? argv[1] : mkdtemp(tmpl);
    if (!out) return perror("mkdtemp"), 1;

    /* 1. The experiment, from text (clgrad_config_load reads a file). */
    if (clgrad_config_parse("hello", experiment, NULL, 0, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "hello: bad experiment:\n%s", err);
        return 2;
    }

    /* 2. A context on a device: NULL picks $CLGRAD_DEVICE, else the first GPU,
    ** else the first CPU.  Kernels are compiled once and cached. */
    clgrad_ctx *ctx = clgrad_ctx_new();
    if (!ctx) return 1;
    if (clgrad_open(ctx, NULL, NULL) != CLGRAD_OK) {
        fprintf(stderr, "hello: %s\n", clgrad_errmsg(ctx));
        clgrad_ctx_free(ctx);
        return 1;
    }
    printf("device: %s\n", clgrad_device(ctx)->name);

    /* 3. Train.  The library never prints: progress comes through on_step;
    ** the run directory gets metrics.csv, layers.csv, summary.json, ... */
    clgrad_run_opts opts = {0};
    opts.out_dir = out;
    opts.force = argc > 1; /* a directory given twice: replace its run */
    opts.on_step = on_step;
    clgrad_run_result res;
    clgrad_status st = clgrad_run(ctx, &cfg, &opts, &res);
    if (st != CLGRAD_OK) { /* CLGRAD_OK also for a diverged run: res.status says */
        fprintf(stderr, "hello: %s\n", clgrad_errmsg(ctx));
        clgrad_ctx_free(ctx);
        return 1;
    }
    printf("%s after %ld steps: final train loss %.6f\n", clgrad_run_status_name(res.status), res.steps_done,
           res.final_train_loss);
    if (res.test_eval_step > 0) printf("test accuracy %.3f (step %ld)\n", res.final_test_acc, res.test_eval_step);
    clgrad_ctx_free(ctx);

    /* 4. Read the run directory back (no device needed). */
    clgrad_rundata run;
    if (clgrad_rundata_read(out, CLGRAD_RUN_NEED_SUMMARY, &run, err, sizeof err) != CLGRAD_OK) {
        fprintf(stderr, "hello: %s\n", err);
        return 1;
    }
    printf("%s: status %s, %zu rows in metrics.csv\n", out, clgrad_rundata_status(&run), run.metrics.nrows);
    clgrad_rundata_free(&run);
    return 0;
}
