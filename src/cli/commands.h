/*
** cli/commands.h (private): the clgrad executable's commands, each with its
** options ("name" for a flag, "name=" with a value, '|'-separated), synopsis
** and help text: the one list (src/cli/commands.c).
*/
#ifndef CLGRAD_CLI_COMMANDS_H
#define CLGRAD_CLI_COMMANDS_H
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name, *options, *synopsis, *help; /* synopsis, help: NULL where the command prints its own */
} clgrad_cli_command;

/* The command called name, or NULL. */
const clgrad_cli_command *clgrad_cli_command_find(const char *name);
/* The options taken before the command is known (`clgrad --device 0:0 run ...`). */
const clgrad_cli_command *clgrad_cli_global_options(void);
/* A command's options ("device=|json|help"); "" gives the global ones; NULL when unknown. */
const char *clgrad_cli_command_options(const char *command);
/* Does c take option `name` (length n)?  0 no, 1 a flag, 2 with a value. */
int clgrad_cli_option_kind(const clgrad_cli_command *c, const char *name, size_t n);
/* "usage: SYNOPSIS\n\nHELP" on f. */
void clgrad_cli_command_help(const clgrad_cli_command *c, FILE *f);
#endif
