/*
** clgrad/selfcheck.h: run every kernel family once on the open device against
** a float64 host reference (`clgrad selfcheck`).  Each family reports rows
** through a callback: family, what was checked, pass, max error, tolerance.
*/
#ifndef CLGRAD_SELFCHECK_H
#define CLGRAD_SELFCHECK_H
#include "clgrad/core.h"

typedef clgrad_status (*clgrad_family_check)(clgrad_ctx *ctx, clgrad_check_fn report, void *user);

typedef struct clgrad_family {
    const char *name;
    clgrad_family_check run;
} clgrad_family;

/* The registered families, NULL-terminated. */
extern const clgrad_family clgrad_families[];

/* Run all families; returns the number of failed rows (a family that cannot
** run counts as failed and reports its error as the row's text). */
int clgrad_selfcheck(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
