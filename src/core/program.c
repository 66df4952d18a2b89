/*
** program.c: assemble, build and cache the kernel programs.
**
** Each cl/<file>.cl (except common.cl and the function libraries in libs_)
** becomes one program whose source is common.cl, the libraries it uses, then
** the file, with #line markers so build logs name the right file.  Sources come from the copies embedded at build time, or from
** --cl-dir / $CLGRAD_CL_DIR when set (file by file, falling back to the
** embedded copy).  Build options are fixed and recorded: the OpenCL C
** standard, correctly rounded divide/sqrt where the device offers it, and
** never any fast-math or finite-math option.  FMA contraction is switched off
** in common.cl (#pragma OPENCL FP_CONTRACT OFF); kernels that want fused
** multiply-adds call fma() explicitly.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "cl_sources.h"
#include "core/internal.h"
#include "clgrad/hash.h"
#include "util/fsutil.h"

#include <stdlib.h>
#include <string.h>

/* Function libraries (no kernels of their own): which programs include them,
** after common.cl, in this order.  math.cl holds clgrad's own exp, log, tanh,
** erfc, ... (bit-identical on every device and the host); act_fn.cl the
** activation functions, shared by the activation kernels and the GEMM
** epilogues that apply them; loss_fn.cl the per-element loss formulas;
** optim_fn.cl the optimizers' per-parameter updates; clip_fn.cl the
** clipping formulas; cell_fn.cl the LSTM and GRU cells; gemm_fn.cl the CPU
** GEMM's epilogue (matmul.cl, and model.cl's one-launch recurrent layers).
** The other *_fn.cl libraries compile as host C too, so the tests check the kernels bit for bit against
** a host build of the same source. */
static const struct {
    const char *lib, *program;
} libs_[] = {{"math.cl", "activation.cl"}, {"math.cl", "matmul.cl"},   {"math.cl", "loss.cl"},
             {"math.cl", "model.cl"},      {"act_fn.cl", "activation.cl"}, {"act_fn.cl", "matmul.cl"},
             {"loss_fn.cl", "loss.cl"},    {"optim_fn.cl", "optim.cl"},   {"optim_fn.cl", "reduce.cl"},
             {"clip_fn.cl", "clip.cl"},    {"clip_fn.cl", "reduce.cl"},  {"cell_fn.cl", "model.cl"},
             {"act_fn.cl", "model.cl"},    {"gemm_fn.cl", "matmul.cl"},  {"gemm_fn.cl", "model.cl"},
             {"math.cl", "mlp.cl"},        {"act_fn.cl", "mlp.cl"},      {"loss_fn.cl", "mlp.cl"}};
#define NLIBS ((int)(sizeof libs_ / sizeof libs_[0]))

static int is_lib_(const char *name)
{
    for (int i = 0; i < NLIBS; i++)
        if (strcmp(libs_[i].lib, name) == 0) return 1;
    return 0;
}

static const clgrad_embedded_source *find_embedded_(const char *name)
{
    for (int i = 0; i < clgrad_cl_nsources; i++)
        if (strcmp(clgrad_cl_sources[i].name, name) == 0) return &clgrad_cl_sources[i];
    return NULL;
}

/* Source text of one file, from cl_dir when it has the file, else embedded.
** *owned is set when the returned buffer must be freed. */
static const char *source_of_(clgrad_ctx *ctx, const char *cl_dir, const char *name, char *origin,
                              size_t norigin, char **owned)
{
    *owned = NULL;
    if (cl_dir && *cl_dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", cl_dir, name);
        size_t len;
        char *text = NULL;
        if (clgrad_fs_read_all(path, 0, 0, &text, &len) == 0) {
            snprintf(origin, norigin, "%s", path);
            *owned = text;
            return text;
        }
        clgrad_warn(ctx, "cl-dir %s has no %s; using the embedded copy", cl_dir, name);
    }
    const clgrad_embedded_source *e = find_embedded_(name);
    snprintf(origin, norigin, "embedded");
    return e ? (const char *)e->data : NULL;
}

static void options_(clgrad_ctx *ctx)
{
    const clgrad_device_info *d = &ctx->dev;
    size_t n = 0, cap = sizeof ctx->build_options;
    char *o = ctx->build_options;
    o[0] = '\0';
    if (d->c_major > 1 || (d->c_major == 1 && d->c_minor >= 2)) n += (size_t)snprintf(o + n, cap - n, "-cl-std=CL1.2");
    cl_device_fp_config fcfg = 0;
    cl_int e = clGetDeviceInfo(d->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fcfg, &fcfg, NULL);
    if (e != CL_SUCCESS) {
        fcfg = 0;
        clgrad_warn(ctx, "clGetDeviceInfo(CL_DEVICE_SINGLE_FP_CONFIG): %s; building without "
                    "-cl-fp32-correctly-rounded-divide-sqrt", clgrad_cl_error_name(e));
    }
    /* correctly rounded division and sqrt: the device's, else through double
    ** (cl/common.cl); CLGRAD_DIVSQRT_FP64=1 forces the latter (a test hook:
    ** both paths must give the same bits) */
    const char *force = getenv("CLGRAD_DIVSQRT_FP64");
    const int via_fp64 = d->has_fp64 && (!(fcfg & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) || (force && strcmp(force, "1") == 0));
    if (via_fp64) n += (size_t)snprintf(o + n, cap - n, " -DCLGRAD_DIVSQRT_FP64=1");
    else if (fcfg & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT)
        n += (size_t)snprintf(o + n, cap - n, " -cl-fp32-correctly-rounded-divide-sqrt");
    /* The 1-D work-group size of the elementwise and reduction kernels: 256 on
    ** GPUs; 16 on CPUs, where a work-group runs as loops on one thread and
    ** every barrier splits them (PoCL: 16 makes a reduction of a small tensor
    ** about 2x faster than 256); $CLGRAD_WG (a power of two) overrides it.
    ** Then the largest power of two the device allows.  A pure performance
    ** choice: every reduction's order of operations is fixed by the shapes
    ** (cl/reduce.cl, activation.cl, loss.cl, model.cl), so results are the
    ** same bits for every work-group size. */
    ctx->wg = (d->cl_type & CL_DEVICE_TYPE_CPU) ? 16 : 256;
    const char *ew = getenv("CLGRAD_WG");
    if (ew && *ew) {
        char *end;
        unsigned long v = strtoul(ew, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 1024 && (v & (v - 1)) == 0) ctx->wg = v;
        else clgrad_warn(ctx, "CLGRAD_WG=%s is not a power of two in 1..1024; ignored", ew);
    }
    while (ctx->wg > 1 && (ctx->wg > d->max_wg_size || ctx->wg > d->max_wi_sizes[0])) ctx->wg /= 2;
    n += (size_t)snprintf(o + n, cap - n, " -DCLGRAD_FP64=%d -DCLGRAD_LOCAL_MEM=%d -DCLGRAD_WG=%zu",
                          d->has_fp64 ? 1 : 0, d->local_mem_is_local ? 1 : 0, ctx->wg);
}

/* The options program `name` is built with: the context's, and for matmul.cl
** the GEMM parameters' -D options (core/tune.c). */
static void program_options_(const clgrad_ctx *ctx, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s%s", ctx->build_options, strcmp(name, "matmul.cl") == 0 ? ctx->gemm_defines : "");
}

static void cache_key_(const clgrad_ctx *ctx, const char *src, const char *options, unsigned char key[32])
{
    const clgrad_device_info *d = &ctx->dev;
    const char *parts[] = {"clgrad-program-cache-1", src, options, d->platform_name,
                           d->platform_version, d->name, d->device_version, d->vendor,
                           d->driver_version};
    clgrad_sha256 s;
    clgrad_sha256_init(&s);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        clgrad_sha256_update(&s, parts[i], strlen(parts[i]) + 1); /* the NUL separates fields */
    clgrad_sha256_final(&s, key);
}

static clgrad_status build_log_fail_(clgrad_ctx *ctx, cl_program prog, const char *name, const char *origin,
                                     const char *options, cl_int err)
{
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n > 0) {
        log = malloc(n + 1);
        if (log && clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL) == CL_SUCCESS)
            log[n] = '\0';
        else if (log) log[0] = '\0';
    }
    clgrad_status st = clgrad_fail(ctx, CLGRAD_E_BUILD,
                                   "kernel program %s (%s) failed to build on %s: clBuildProgram: %s\n"
                                   "build options: %s\n--- build log ---\n%s\n--- end of build log ---",
                                   name, origin, ctx->dev.name, clgrad_cl_error_name(err), options,
                                   log && *log ? log : "(the driver gave no log)");
    free(log);
    return st;
}

/* Try the cache; returns a built program or NULL (and notes why in warnings). */
static cl_program load_cached_(clgrad_ctx *ctx, const unsigned char key[32], const char *name, const char *options)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    char why[1400];
    int r = clgrad_cache_load(ctx->cache_dir, key, &bin, &len, why, sizeof why);
    if (r <= 0) {
        if (r == -2) {
            ctx->stats.cache_rejects++;
            clgrad_warn(ctx, "kernel cache: untrusted entry for %s ignored and rebuilt (%s)", name, why);
        } else if (r < 0) {
            ctx->stats.cache_rejects++;
            clgrad_warn(ctx, "kernel cache: corrupt entry for %s rejected and rebuilt (%s)", name, why);
        }
        return NULL;
    }
    cl_int bstatus = CL_SUCCESS, err = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program p = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device, &len, bins, &bstatus, &err);
    free(bin);
    if (err == CL_SUCCESS && bstatus == CL_SUCCESS)
        err = clBuildProgram(p, 1, &ctx->dev.device, options, NULL, NULL);
    if (err != CL_SUCCESS || bstatus != CL_SUCCESS) {
        ctx->stats.cache_rejects++;
        clgrad_warn(ctx, "kernel cache: the driver refused the cached binary of %s (%s); rebuilding", name,
                    clgrad_cl_error_name(err != CL_SUCCESS ? err : bstatus));
        if (p) clReleaseProgram(p);
        return NULL;
    }
    return p;
}

static void store_cached_(clgrad_ctx *ctx, cl_program p, const unsigned char key[32], const char *name)
{
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS || len == 0) {
        clgrad_warn(ctx, "kernel cache: the driver gives no binary for %s; not cached", name);
        return;
    }
    unsigned char *bin = malloc(len);
    unsigned char *bins[1] = {bin};
    char why[1400];
    if (!bin || clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        clgrad_warn(ctx, "kernel cache: cannot read the binary of %s; not cached", name);
    } else if (clgrad_cache_store(ctx->cache_dir, key, bin, len, why, sizeof why) != 0) {
        ctx->stats.cache_write_failures++;
        clgrad_warn(ctx, "kernel cache: %s (the run goes on without caching %s)", why, name);
    }
    free(bin);
}

static int wanted_(const char *only, const char *name)
{
    if (!only || !*only) return 1;
    size_t nl = strlen(name);
    for (const char *p = only; *p;) {
        size_t l = strcspn(p, ",");
        if (l == nl && strncmp(p, name, l) == 0) return 1;
        p += l;
        if (*p == ',') p++;
    }
    return 0;
}

/* The text the device compiles: common.cl, the libraries program `name` uses, the program (src). */
static clgrad_status assemble_(clgrad_ctx *ctx, const char *cl_dir, const char *common, const char *name,
                               const char *src, char **out)
{
    clgrad_status st = CLGRAD_OK;
    const char *lib_src[NLIBS] = {0};
    char *lib_owned[NLIBS] = {0}, *text = NULL;
    size_t tl = strlen(common) + strlen(src) + 128;
    for (int i = 0; i < NLIBS; i++) {
        if (strcmp(libs_[i].program, name) != 0) continue;
        char lib_origin[1024];
        lib_src[i] = source_of_(ctx, cl_dir, libs_[i].lib, lib_origin, sizeof lib_origin, &lib_owned[i]);
        if (!lib_src[i]) {
            st = clgrad_fail(ctx, CLGRAD_E_BUILD, "no source for %s, which %s uses", libs_[i].lib, name);
            goto fail;
        }
        tl += strlen(lib_src[i]) + strlen(libs_[i].lib) + 32;
    }
    text = malloc(tl);
    if (!text) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory assembling %s", name); goto fail; }
    size_t used = (size_t)snprintf(text, tl, "#line 1 \"common.cl\"\n%s\n", common);
    for (int i = 0; i < NLIBS; i++)
        if (lib_src[i]) used += (size_t)snprintf(text + used, tl - used, "#line 1 \"%s\"\n%s\n", libs_[i].lib, lib_src[i]);
    snprintf(text + used, tl - used, "#line 1 \"%s\"\n%s\n", name, src);
fail:
    for (int i = 0; i < NLIBS; i++) free(lib_owned[i]);
    *out = text;
    return st;
}

/* The program from the binary cache, else compiled from text (and stored in the cache). */
static clgrad_status load_or_compile_(clgrad_ctx *ctx, clgrad_program *pr, const char *text, const char *name,
                                      const clgrad_open_opts *opts, int index, int total, cl_program *out)
{
    clgrad_status st = CLGRAD_OK;
    unsigned char key[32];
    cl_program p = NULL;
    char options[sizeof ctx->build_options + sizeof ctx->gemm_defines];
    program_options_(ctx, name, options, sizeof options);
    cache_key_(ctx, text, options, key);
    if (ctx->cache_dir[0]) p = load_cached_(ctx, key, name, options);
    if (opts && opts->on_build) opts->on_build(opts->on_build_user, index, total, name, p == NULL);
    if (p) {
        pr->from_cache = 1;
        ctx->stats.loaded++;
    } else {
        cl_int err;
        const char *srcs[1] = {text};
        p = clCreateProgramWithSource(ctx->context, 1, srcs, NULL, &err);
        if (err != CL_SUCCESS) /* name the call, not the variable */
            return clgrad_fail_cl(ctx, err, "clCreateProgramWithSource", __FILE__, __LINE__);
        err = clBuildProgram(p, 1, &ctx->dev.device, options, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = build_log_fail_(ctx, p, name, pr->origin, options, err);
            clReleaseProgram(p);
            return st;
        }
        ctx->stats.compiled++;
        if (ctx->cache_dir[0]) store_cached_(ctx, p, key, name);
    }
    *out = p;
    return st;
}

/* The program's kernels into the context's table (a program may hold only functions). */
/* FNV-1a of a kernel name: its first slot in ctx->khash. */
static unsigned name_hash_(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static clgrad_status add_kernels_(clgrad_ctx *ctx, cl_program p)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel *ks = NULL;
    cl_uint nk = 0;
    CLGRAD_CL_TRY(ctx, clCreateKernelsInProgram(p, 0, NULL, &nk));
    if (ctx->nkernels + (int)nk > CLGRAD_MAX_KERNELS) {
        st = clgrad_fail(ctx, CLGRAD_E_ARG, "too many kernels (raise CLGRAD_MAX_KERNELS)");
        goto fail;
    }
    ks = calloc(nk ? nk : 1, sizeof *ks);
    if (!ks) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory"); goto fail; }
    if (nk > 0) CLGRAD_CL_TRY(ctx, clCreateKernelsInProgram(p, nk, ks, NULL));
    for (cl_uint i = 0; i < nk; i++) {
        clgrad_kentry *ke = &ctx->kernels[ctx->nkernels++];
        ke->kernel = ks[i];
        ks[i] = NULL;
        ke->name[0] = '\0';
        CLGRAD_CL_TRY(ctx, clGetKernelInfo(ke->kernel, CL_KERNEL_FUNCTION_NAME, sizeof ke->name, ke->name, NULL));
        ke->name[sizeof ke->name - 1] = '\0';
        for (unsigned h = name_hash_(ke->name);; h++) /* at most 256 of 512 slots taken: an empty one exists */
            if (!ctx->khash[h % CLGRAD_KHASH]) { ctx->khash[h % CLGRAD_KHASH] = (short)ctx->nkernels; break; }
    }
fail:
    if (ks)
        for (cl_uint i = 0; i < nk; i++)
            if (ks[i]) clReleaseKernel(ks[i]);
    free(ks);
    return st;
}

static clgrad_status build_one_(clgrad_ctx *ctx, const char *cl_dir, const char *common, const char *name,
                                clgrad_sha256 *all, const clgrad_open_opts *opts, int index, int total)
{
    clgrad_status st = CLGRAD_OK;
    char *owned = NULL, *text = NULL;
    cl_program p = NULL;
    clgrad_program *pr = &ctx->programs[ctx->nprograms];
    memset(pr, 0, sizeof *pr);
    snprintf(pr->name, sizeof pr->name, "%s", name);

    const char *src = source_of_(ctx, cl_dir, name, pr->origin, sizeof pr->origin, &owned);
    if (!src) { st = clgrad_fail(ctx, CLGRAD_E_BUILD, "no source for kernel program %s", name); goto fail; }
    CLGRAD_TRY(assemble_(ctx, cl_dir, common, name, src, &text));
    clgrad_sha256_update(all, text, strlen(text));
    unsigned char dig[32];
    clgrad_sha256 s;
    clgrad_sha256_init(&s);
    clgrad_sha256_update(&s, text, strlen(text));
    clgrad_sha256_final(&s, dig);
    clgrad_sha256_hex(dig, pr->hash);
    CLGRAD_TRY(load_or_compile_(ctx, pr, text, name, opts, index, total, &p));
    CLGRAD_TRY(add_kernels_(ctx, p));
    pr->program = p;
    p = NULL;
    ctx->nprograms++;
fail:
    if (p) clReleaseProgram(p);
    free(text);
    free(owned);
    return st;
}

clgrad_status clgrad_programs_build(clgrad_ctx *ctx, const clgrad_open_opts *opts)
{
    clgrad_status st = CLGRAD_OK;
    char *common_owned = NULL;
    double t0 = clgrad_now();
    const char *cl_dir = opts && opts->cl_dir ? opts->cl_dir : getenv("CLGRAD_CL_DIR");
    const char *only = opts ? opts->only : NULL;
    char origin[1024];
    const char *common = source_of_(ctx, cl_dir, "common.cl", origin, sizeof origin, &common_owned);
    if (!common) return clgrad_fail(ctx, CLGRAD_E_BUILD, "common.cl is missing from the embedded sources");

    options_(ctx);
    memset(&ctx->stats, 0, sizeof ctx->stats);
    clgrad_sha256 all;
    clgrad_sha256_init(&all);
    int total = 0, index = 0;
    for (int i = 0; i < clgrad_cl_nsources; i++) {
        const char *name = clgrad_cl_sources[i].name;
        if (strcmp(name, "common.cl") != 0 && !is_lib_(name) && wanted_(only, name)) total++;
    }
    for (int i = 0; i < clgrad_cl_nsources; i++) {
        const char *name = clgrad_cl_sources[i].name;
        if (strcmp(name, "common.cl") == 0 || is_lib_(name) || !wanted_(only, name)) continue;
        if (ctx->nprograms >= CLGRAD_MAX_PROGRAMS) {
            st = clgrad_fail(ctx, CLGRAD_E_ARG, "too many kernel programs");
            goto fail;
        }
        CLGRAD_TRY(build_one_(ctx, cl_dir, common, name, &all, opts, ++index, total));
    }
    unsigned char dig[32];
    clgrad_sha256_final(&all, dig);
    clgrad_sha256_hex(dig, ctx->stats.source_hash);
    ctx->stats.programs = ctx->nprograms;
    ctx->stats.seconds = clgrad_now() - t0;
fail:
    free(common_owned);
    return st;
}

void clgrad_programs_release(clgrad_ctx *ctx)
{
    for (int i = 0; i < ctx->nkernels; i++)
        if (ctx->kernels[i].kernel) clReleaseKernel(ctx->kernels[i].kernel);
    ctx->nkernels = 0;
    memset(ctx->khash, 0, sizeof ctx->khash);
    for (int i = 0; i < ctx->nprograms; i++)
        if (ctx->programs[i].program) clReleaseProgram(ctx->programs[i].program);
    ctx->nprograms = 0;
}

/* A launch looks its kernel up by name: a hash probe, one strcmp where it is found. */
cl_kernel clgrad_kernel(clgrad_ctx *ctx, const char *name)
{
    for (unsigned h = name_hash_(name);; h++) {
        int i = ctx->khash[h % CLGRAD_KHASH];
        if (!i) break;
        if (strcmp(ctx->kernels[i - 1].name, name) == 0) return ctx->kernels[i - 1].kernel;
    }
    clgrad_fail(ctx, CLGRAD_E_ARG, "no kernel named '%s' (was its program built? see clgrad_open_opts.only)", name);
    return NULL;
}

int clgrad_program_count(const clgrad_ctx *ctx) { return ctx->nprograms; }
const char *clgrad_program_name(const clgrad_ctx *ctx, int i) { return ctx->programs[i].name; }
const char *clgrad_program_origin(const clgrad_ctx *ctx, int i) { return ctx->programs[i].origin; }
int clgrad_program_from_cache(const clgrad_ctx *ctx, int i) { return ctx->programs[i].from_cache; }
