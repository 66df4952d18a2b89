/*
** cli/opts.h (private, not installed): command-line options through
** getopt_long, for every command of the clgrad executable.
**
** The options a command takes are listed once, in commands.c's commands_[] table
** ("name" for a flag, "name=" for an option with a value, '|'-separated);
** clgrad_cli_args_init generates getopt_long's struct option array from it.
** Both `--name value` and `--name=value` are accepted; -h is --help.  Names
** must be given in full (no abbreviations: an option added later must not
** change what an old command line means).  Arguments come back in their
** order on the command line, options and positional arguments mixed; after
** "--" every argument is positional.
**
** Errors are printed here, on stderr, and end the parse:
**   clgrad CMD: unknown option --xxx (did you mean --yyy?); clgrad help CMD lists the options
**   clgrad CMD: --flag takes no value
**   WHO: --name needs a value
*/
#ifndef CLGRAD_CLI_OPTS_H
#define CLGRAD_CLI_OPTS_H
#include <getopt.h>
#include <stddef.h>

/* main.c: the clgrad command line, whole (src/cli/clgrad.c's main is this);
** main.c is part of the internal library clgrad_cli, so that the tests of
** bench, compare, plot and sweep parse with the same option table. */
int clgrad_cli_main(int argc, char **argv);


typedef struct clgrad_cli_args {
    const char *command;     /* "run", "bench", ...; "" before the command is known */
    const char *who;         /* prefix of the "needs a value" message: "clgrad", "clgrad bench" */
    int argc;
    char **argv;
    struct option *longopts; /* generated from the command's options */
    char *names;             /* their storage */
    const char *shorts;      /* short aliases, "j=jobs" (takes a value) or "x:name" (a flag), ','-separated */
    char optstring[64];
    int done;                /* "--" or the end seen: the rest is positional */
    int rest;                /* next positional argument after "--" */
    /* the argument clgrad_cli_args_next returned */
    char opt[80];            /* "--name" (also for a short alias and -h); "" for a positional argument */
    const char *value;       /* the option's value (NULL for a flag), or the positional argument */
    const char *elem;        /* the argv element that named the option */
    int attached;            /* 1: the value came as --name=value in elem */
} clgrad_cli_args;

/* Prepare to parse argv[1 .. argc) with the options of `command` (argv[0] is
** the command or the program).  Returns 0, or -1 after a message (out of
** memory, a command without an option table). */
int clgrad_cli_args_init(clgrad_cli_args *a, const char *command, const char *who, const char *shorts, int argc,
                         char **argv);
/* The next argument: 1 an option (a->opt, a->value), 0 a positional argument
** (a->value), -1 no more, -2 a bad option (the message is printed). */
int clgrad_cli_args_next(clgrad_cli_args *a);
void clgrad_cli_args_free(clgrad_cli_args *a);

/* Print "clgrad CMD: unknown option WORD (did you mean --GUESS?); clgrad help
** CMD lists the options" for an argument `elem` (a leading "-" or "--" and a
** "=value" are not part of the name compared). */
void clgrad_cli_unknown_option(const char *command, const char *elem);

/* The command line as manifests and JSON records record it: `prefix`, then
** argv[0 .. argc) joined by spaces, where "--name=value" of an option of
** `command` (NULL: none) that takes a value is written "--name value" (up to
** a "--").  Cut to fit out[nout]. */
void clgrad_cli_cmdline(const char *command, const char *prefix, int argc, char **argv, char *out, size_t nout);
#endif
