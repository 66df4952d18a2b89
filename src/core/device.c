/*
** device.c: enumerate OpenCL platforms and devices, read their capabilities,
** resolve a device spec ("P:D", "cpu|gpu|accelerator", a name substring), and
** format the `clgrad devices` table.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void str_info_(cl_device_id d, cl_device_info what, char *out, size_t n)
{
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, n, out, NULL) != CL_SUCCESS) snprintf(out, n, "?");
    out[n - 1] = '\0';
    /* trim trailing blanks some drivers leave */
    size_t l = strlen(out);
    while (l > 0 && isspace((unsigned char)out[l - 1])) out[--l] = '\0';
}

static void plat_info_(cl_platform_id p, cl_platform_info what, char *out, size_t n)
{
    out[0] = '\0';
    if (clGetPlatformInfo(p, what, n, out, NULL) != CL_SUCCESS) snprintf(out, n, "?");
    out[n - 1] = '\0';
}

/* A capability clgrad depends on: a failed query is an error (the first one
** is kept in *failed / *err), never a silent default. */
static void need_(cl_device_id d, cl_device_info what, const char *name, size_t n, void *v, const char **failed,
                  cl_int *err)
{
    cl_int e = clGetDeviceInfo(d, what, n, v, NULL);
    if (e != CL_SUCCESS && !*failed) *failed = name, *err = e;
}

/* Fill di from the device; CL_SUCCESS, or the error of the first required query that failed (*failed names it). */
static cl_int fill_device_(clgrad_device_info *di, const char **failed)
{
    cl_device_id d = di->device;
    cl_int err = CL_SUCCESS;
    *failed = NULL;
    str_info_(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    str_info_(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    str_info_(d, CL_DRIVER_VERSION, di->driver_version, sizeof di->driver_version);
    str_info_(d, CL_DEVICE_VERSION, di->device_version, sizeof di->device_version);
    str_info_(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
    di->c_major = 1, di->c_minor = 0;
    sscanf(di->c_version, "OpenCL C %d.%d", &di->c_major, &di->c_minor);

    cl_device_type t = 0;
    need_(d, CL_DEVICE_TYPE, "CL_DEVICE_TYPE", sizeof t, &t, failed, &err);
    di->cl_type = t;
    snprintf(di->type, sizeof di->type, "%s",
             (t & CL_DEVICE_TYPE_GPU) ? "gpu" : (t & CL_DEVICE_TYPE_CPU) ? "cpu"
             : (t & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator" : "other");

    cl_uint u = 0;
    cl_ulong ul = 0;
    size_t z = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS) di->compute_units = u;
    u = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS) di->clock_mhz = u;
    u = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof u, &u, NULL) == CL_SUCCESS) di->mem_base_align_bits = u;
    need_(d, CL_DEVICE_GLOBAL_MEM_SIZE, "CL_DEVICE_GLOBAL_MEM_SIZE", sizeof ul, &ul, failed, &err);
    di->global_mem = ul;
    ul = 0;
    need_(d, CL_DEVICE_LOCAL_MEM_SIZE, "CL_DEVICE_LOCAL_MEM_SIZE", sizeof ul, &ul, failed, &err);
    di->local_mem = ul;
    ul = 0;
    need_(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, "CL_DEVICE_MAX_MEM_ALLOC_SIZE", sizeof ul, &ul, failed, &err);
    di->max_alloc = ul;
    need_(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, "CL_DEVICE_MAX_WORK_GROUP_SIZE", sizeof z, &z, failed, &err);
    di->max_wg_size = z;
    size_t wis[3] = {1, 1, 1};
    need_(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, "CL_DEVICE_MAX_WORK_ITEM_SIZES", sizeof wis, wis, failed, &err);
    memcpy(di->max_wi_sizes, wis, sizeof wis);
    cl_device_local_mem_type lt = CL_GLOBAL;
    need_(d, CL_DEVICE_LOCAL_MEM_TYPE, "CL_DEVICE_LOCAL_MEM_TYPE", sizeof lt, &lt, failed, &err);
    di->local_mem_is_local = lt == CL_LOCAL;

    /* fp64: the extension, or a non-zero double fp config (core in 1.2+). */
    char ext[8192];
    ext[0] = '\0';
    need_(d, CL_DEVICE_EXTENSIONS, "CL_DEVICE_EXTENSIONS", sizeof ext, ext, failed, &err);
    ext[sizeof ext - 1] = '\0';
    cl_device_fp_config dcfg = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dcfg, &dcfg, NULL);
    di->has_fp64 = strstr(ext, "cl_khr_fp64") != NULL || dcfg != 0;
    di->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    cl_device_fp_config scfg = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof scfg, &scfg, NULL) != CL_SUCCESS) scfg = 0;
    di->single_fp = scfg;
    return err;
}

void clgrad_fp_config_str(cl_device_fp_config c, char *out, size_t n)
{
    static const struct { cl_device_fp_config bit; const char *name; } f[] = {
        {CL_FP_DENORM, "denorm"}, {CL_FP_INF_NAN, "inf_nan"}, {CL_FP_ROUND_TO_NEAREST, "rte"},
        {CL_FP_ROUND_TO_ZERO, "rtz"}, {CL_FP_ROUND_TO_INF, "rtinf"}, {CL_FP_FMA, "fma"},
        {CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT, "cr_divsqrt"}, {CL_FP_SOFT_FLOAT, "soft"},
    };
    size_t len = 0;
    if (n) out[0] = '\0';
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if ((c & f[i].bit) && len < n) len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", f[i].name);
    if (len == 0 && n) snprintf(out, n, "none");
}

int clgrad_device_same_bits(const clgrad_device_info *d, char *why, size_t nwhy)
{
    const cl_device_fp_config c = d->single_fp;
    char miss[256];
    size_t len = 0;
    miss[0] = '\0';
#define MISS(...) len += (size_t)snprintf(miss + len, len < sizeof miss ? sizeof miss - len : 0, __VA_ARGS__)
    if (c == 0) MISS("%sCL_DEVICE_SINGLE_FP_CONFIG unknown", len ? "; " : "");
    else {
        if (!(c & CL_FP_DENORM)) MISS("%sflushes float32 denormals to zero", len ? "; " : "");
        if (!(c & CL_FP_ROUND_TO_NEAREST)) MISS("%sno round-to-nearest", len ? "; " : "");
        if (!(c & CL_FP_INF_NAN)) MISS("%sno Inf/NaN", len ? "; " : "");
        if (!(c & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) && !d->has_fp64)
            MISS("%sneither correctly rounded float32 division and square root nor fp64", len ? "; " : "");
    }
#undef MISS
    if (why && nwhy) snprintf(why, nwhy, "%s", miss);
    return miss[0] == '\0';
}

clgrad_status clgrad_devices(clgrad_ctx *ctx, const clgrad_device_info **list, int *n)
{
    clgrad_status st = CLGRAD_OK;
    cl_platform_id *plats = NULL;
    cl_device_id *devs = NULL;
    if (ctx->devices) goto done;

    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (e == CL_SUCCESS && np == 0)) {
        st = clgrad_fail(ctx, CLGRAD_E_NODEVICE,
                         "no OpenCL platform found (is an ICD installed? on Debian: "
                         "apt-get install pocl-opencl-icd)");
        goto fail;
    }
    if (e != CL_SUCCESS) {
        st = clgrad_fail_cl(ctx, e, "clGetPlatformIDs", __FILE__, __LINE__);
        goto fail;
    }
    plats = calloc(np, sizeof *plats);
    if (!plats) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory listing platforms"); goto fail; }
    CLGRAD_CL_TRY(ctx, clGetPlatformIDs(np, plats, NULL));

    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        e = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (e == CL_DEVICE_NOT_FOUND || (e == CL_SUCCESS && nd == 0)) continue;
        if (e != CL_SUCCESS) {
            st = clgrad_fail_cl(ctx, e, "clGetDeviceIDs", __FILE__, __LINE__);
            goto fail;
        }
        free(devs);
        devs = calloc(nd, sizeof *devs);
        clgrad_device_info *grown = realloc(ctx->devices, (size_t)(ctx->ndevices + (int)nd) * sizeof *grown);
        if (!devs || !grown) {
            if (grown) ctx->devices = grown;
            st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory listing devices");
            goto fail;
        }
        ctx->devices = grown;
        CLGRAD_CL_TRY(ctx, clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL));
        for (cl_uint d = 0; d < nd; d++) {
            clgrad_device_info *di = &ctx->devices[ctx->ndevices++];
            memset(di, 0, sizeof *di);
            di->platform_index = (int)p;
            di->device_index = (int)d;
            di->platform = plats[p];
            di->device = devs[d];
            plat_info_(plats[p], CL_PLATFORM_NAME, di->platform_name, sizeof di->platform_name);
            plat_info_(plats[p], CL_PLATFORM_VERSION, di->platform_version, sizeof di->platform_version);
            plat_info_(plats[p], CL_PLATFORM_VENDOR, di->platform_vendor, sizeof di->platform_vendor);
            const char *failed = NULL;
            cl_int fe = fill_device_(di, &failed);
            if (fe != CL_SUCCESS) {
                st = clgrad_fail(ctx, CLGRAD_E_CL, "clGetDeviceInfo(%s) on device %u:%u: %s", failed, p, d,
                                 clgrad_cl_error_name(fe));
                goto fail;
            }
        }
    }
    if (ctx->ndevices == 0) {
        st = clgrad_fail(ctx, CLGRAD_E_NODEVICE, "OpenCL platforms found, but no devices");
        goto fail;
    }
done:
    if (list) *list = ctx->devices;
    if (n) *n = ctx->ndevices;
    free(plats);
    free(devs);
    return CLGRAD_OK;
fail:
    free(ctx->devices);
    ctx->devices = NULL;
    ctx->ndevices = 0;
    free(plats);
    free(devs);
    if (list) *list = NULL;
    if (n) *n = 0;
    return st;
}

static int icontains_(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0) return 0;
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < nl && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == nl) return 1;
    }
    return 0;
}

static int iequal_(const char *a, const char *b)
{
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) a++, b++;
    return *a == '\0' && *b == '\0';
}

char *clgrad_devices_table(const clgrad_device_info *list, int n)
{
    size_t cap = 512 + (size_t)n * 800, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
#define PUT(...) len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__)
    PUT("%-5s %-28s %-34s %-5s %-16s %-14s %-11s %4s %6s %9s %7s %5s %4s %4s  %s\n", "P:D", "platform",
        "device", "type", "vendor", "driver", "OpenCL C", "CUs", "MHz", "global", "local", "maxWG",
        "fp64", "fp16", "same bits");
    for (int i = 0; i < n && len < cap; i++) {
        const clgrad_device_info *d = &list[i];
        char pd[16];
        snprintf(pd, sizeof pd, "%d:%d", d->platform_index, d->device_index);
        const char *cv = strncmp(d->c_version, "OpenCL C ", 9) == 0 ? d->c_version + 9 : d->c_version;
        char gm[32], lm[32];
        snprintf(gm, sizeof gm, "%.1f GiB", (double)d->global_mem / (1024.0 * 1024 * 1024));
        snprintf(lm, sizeof lm, "%llu KiB", d->local_mem / 1024);
        char why[256], sb[288];
        if (clgrad_device_same_bits(d, why, sizeof why)) snprintf(sb, sizeof sb, "yes");
        else snprintf(sb, sizeof sb, "no: %s", why);
        PUT("%-5s %-28.28s %-34.34s %-5s %-16.16s %-14.14s %-11.11s %4u %6u %9s %7s %5zu %4s %4s  %s\n", pd,
            d->platform_name, d->name, d->type, d->vendor, d->driver_version, cv, d->compute_units,
            d->clock_mhz, gm, lm, d->max_wg_size, d->has_fp64 ? "yes" : "no", d->has_fp16 ? "yes" : "no", sb);
    }
#undef PUT
    if (len >= cap) out[cap - 1] = '\0';
    return out;
}

static clgrad_status spec_error_(clgrad_ctx *ctx, const char *why, const char *spec)
{
    char *table = clgrad_devices_table(ctx->devices, ctx->ndevices);
    clgrad_status st = clgrad_fail(ctx, CLGRAD_E_NODEVICE,
                                   "device '%s': %s\navailable devices (use --device P:D, cpu|gpu|accelerator, "
                                   "or a unique part of the name):\n%s",
                                   spec, why, table ? table : "(out of memory)\n");
    free(table);
    return st;
}

clgrad_status clgrad_device_find(clgrad_ctx *ctx, const char *spec, int *index)
{
    clgrad_status st = clgrad_devices(ctx, NULL, NULL);
    if (st != CLGRAD_OK) return st;
    if (!spec || !*spec) spec = getenv("CLGRAD_DEVICE");
    if (!spec || !*spec) {
        cl_device_type order[3] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ALL};
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < ctx->ndevices; i++)
                if (ctx->devices[i].cl_type & order[o]) { *index = i; return CLGRAD_OK; }
        return spec_error_(ctx, "no usable device", "(default)");
    }

    int p, d;
    char tail;
    if (sscanf(spec, "%d:%d%c", &p, &d, &tail) == 2) {
        for (int i = 0; i < ctx->ndevices; i++)
            if (ctx->devices[i].platform_index == p && ctx->devices[i].device_index == d) {
                *index = i;
                return CLGRAD_OK;
            }
        return spec_error_(ctx, "no device with that platform:device index", spec);
    }
    const char *types[] = {"gpu", "cpu", "accelerator"};
    cl_device_type tbits[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ACCELERATOR};
    for (int t = 0; t < 3; t++)
        if (iequal_(spec, types[t])) {
            for (int i = 0; i < ctx->ndevices; i++)
                if (ctx->devices[i].cl_type & tbits[t]) { *index = i; return CLGRAD_OK; }
            return spec_error_(ctx, "no device of that type", spec);
        }

    /* A name: an exact (case-insensitive) device name wins; else a unique substring. */
    int found = -1, count = 0;
    for (int i = 0; i < ctx->ndevices; i++)
        if (iequal_(ctx->devices[i].name, spec)) { found = i; count++; }
    if (count == 1) { *index = found; return CLGRAD_OK; }
    count = 0;
    for (int i = 0; i < ctx->ndevices; i++)
        if (icontains_(ctx->devices[i].name, spec) || icontains_(ctx->devices[i].platform_name, spec)) {
            found = i;
            count++;
        }
    if (count == 1) { *index = found; return CLGRAD_OK; }
    return spec_error_(ctx, count == 0 ? "matches no device" : "is ambiguous: it matches several devices", spec);
}
