/*
** clgrad.c: the clgrad executable's main().  The command line itself is
** main.c (clgrad_cli_main), in the internal library clgrad_cli with the
** option table that the tests of bench, compare, plot and sweep parse with.
*/
#include "cli/opts.h"

int main(int argc, char **argv) { return clgrad_cli_main(argc, argv); }
