/*
** clgrad.c: the clgrad executable's main().  The command line itself is
** main.c (clgrad_cli_main), in the internal library clgrad_cli with the
** option table that the tests of bench, compare, plot and sweep parse with.
**
** Under AddressSanitizer the leak check runs here, when the command is done
** and the OpenCL implementation's worker threads are idle, with stdout
** already flushed, instead of at process exit: there it raced with the
** implementation's own teardown of its threads, and LeakSanitizer's tracer
** crashed now and then ("Tracer caught signal 11", exit 134, the output cut
** short), seen in fresh-clone CI runs.  A leak still fails the process.
*/
#include "cli/opts.h"

#include <stdio.h>

#if defined(__SANITIZE_ADDRESS__)
#define CLGRAD_LSAN_NOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLGRAD_LSAN_NOW 1
#endif
#endif
#ifdef CLGRAD_LSAN_NOW
#include <sanitizer/lsan_interface.h>
#endif

int main(int argc, char **argv)
{
    int rc = clgrad_cli_main(argc, argv);
#ifdef CLGRAD_LSAN_NOW
    fflush(NULL);
    __lsan_do_leak_check(); /* the exit-time check then does not run again */
#endif
    return rc;
}
