/*
** cli/tune.h (private): `clgrad tune`, the own GEMM's (or CLBlast's)
** parameter search for a device, stored in the cache directory (clgrad/tune.h).
*/
#ifndef CLGRAD_CLI_TUNE_H
#define CLGRAD_CLI_TUNE_H
int clgrad_cli_tune(int argc, char **argv);
#endif
