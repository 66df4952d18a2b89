/*
** opts.c: command-line options through getopt_long, the struct option array
** generated from a command's entry in commands.c's commands_[] (see cli/opts.h).
*/
#include "cli/commands.h"
#include "cli/opts.h"
#include "clgrad/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LONG_BASE 256 /* getopt_long's val of option i: LONG_BASE + i (above every char) */

void clgrad_cli_unknown_option(const char *command, const char *elem)
{
    const char *name = elem + strspn(elem, "-");
    size_t dashes = (size_t)(name - elem), n = strcspn(name, "=");
    if (!command || !*command) {
        fprintf(stderr, "clgrad: unknown option %.*s; clgrad help lists the commands and options\n",
                (int)(dashes + (n < 100 ? n : 100)), elem);
        return;
    }
    const char *spec = clgrad_cli_command_options(command);
    char word[128], guess[128], choices[1024];
    snprintf(word, sizeof word, "%.*s", (int)(n < 100 ? n : 100), name);
    snprintf(choices, sizeof choices, "%s", spec ? spec : "");
    for (char *q = choices; *q; q++)
        if (*q == '=') memmove(q, q + 1, strlen(q));
    fprintf(stderr, "clgrad %s: unknown option %.*s%s", command, (int)(dashes < 2 ? dashes : 2), "--", word);
    if (*word && clgrad_config_suggest(word, choices, guess, sizeof guess))
        fprintf(stderr, " (did you mean --%s?)", guess);
    fprintf(stderr, "; clgrad help %s lists the options\n", command);
}

int clgrad_cli_args_init(clgrad_cli_args *a, const char *command, const char *who, const char *shorts, int argc,
                         char **argv)
{
    memset(a, 0, sizeof *a);
    a->command = command, a->who = who, a->shorts = shorts ? shorts : "", a->argc = argc, a->argv = argv;
    const char *spec = clgrad_cli_command_options(command);
    if (!spec) {
        fprintf(stderr, "%s: no option table for '%s'\n", who, command);
        return -1;
    }
    size_t n = *spec ? 1 : 0;
    for (const char *p = spec; *p; p++) n += *p == '|';
    a->longopts = calloc(n + 1, sizeof *a->longopts);
    a->names = malloc(strlen(spec) + 1);
    if (!a->longopts || !a->names) {
        fprintf(stderr, "%s: out of memory\n", who);
        clgrad_cli_args_free(a);
        return -1;
    }
    strcpy(a->names, spec);
    size_t i = 0;
    for (char *p = a->names; *p && i < n; i++) {
        size_t len = strcspn(p, "|");
        int last = p[len] == '\0';
        p[len] = '\0';
        int takes = len > 0 && p[len - 1] == '=';
        if (takes) p[len - 1] = '\0';
        a->longopts[i].name = p;
        a->longopts[i].has_arg = takes ? required_argument : no_argument;
        a->longopts[i].flag = NULL;
        a->longopts[i].val = LONG_BASE + (int)i;
        p += len + !last;
    }
    /* '-': arguments in order (positional ones as 1); ':': no messages from getopt, ':' for a missing value */
    size_t k = (size_t)snprintf(a->optstring, sizeof a->optstring, "-:h");
    for (const char *s = a->shorts; *s && k + 3 < sizeof a->optstring; s += strcspn(s, ",") + (s[strcspn(s, ",")] == ',')) {
        a->optstring[k++] = s[0];
        if (s[1] == '=') a->optstring[k++] = ':';
    }
    a->optstring[k] = '\0';
    optind = 0; /* a full re-initialisation of getopt's state (several parses in one process) */
    opterr = 0;
    return 0;
}

void clgrad_cli_args_free(clgrad_cli_args *a)
{
    free(a->longopts), a->longopts = NULL;
    free(a->names), a->names = NULL;
}

/* elem names option `name` in full: "--name" or "--name=..." */
static int exact_(const char *elem, const char *name)
{
    size_t n = strlen(name);
    return strncmp(elem, "--", 2) == 0 && strncmp(elem + 2, name, n) == 0 && (elem[2 + n] == '\0' || elem[2 + n] == '=');
}

/* The long name of short alias c ("j=jobs" -> "jobs"), or NULL. */
static const char *short_name_(const char *shorts, int c, char *buf, size_t nbuf)
{
    for (const char *s = shorts; *s; s += strcspn(s, ",") + (s[strcspn(s, ",")] == ',')) {
        if (s[0] != c || (s[1] != '=' && s[1] != ':')) continue;
        snprintf(buf, nbuf, "%.*s", (int)strcspn(s + 2, ","), s + 2);
        return buf;
    }
    return NULL;
}

int clgrad_cli_args_next(clgrad_cli_args *a)
{
    a->opt[0] = '\0', a->value = NULL, a->elem = NULL, a->attached = 0;
    if (a->done) {
        if (a->rest >= a->argc) return -1;
        a->value = a->elem = a->argv[a->rest++];
        return 0;
    }
    int at = optind > 0 ? optind : 1; /* the element getopt is about to read */
    int li = -1;
    int c = getopt_long(a->argc, a->argv, a->optstring, a->longopts, &li);
    if (c == -1) { /* the end, or "--" */
        a->done = 1, a->rest = optind;
        return clgrad_cli_args_next(a);
    }
    if (c == 1) {
        a->value = a->elem = optarg;
        return 0;
    }
    const char *elem = at < a->argc ? a->argv[at] : "";
    a->elem = elem;
    const struct option *lo = optopt >= LONG_BASE ? &a->longopts[optopt - LONG_BASE] : NULL;
    if (c == '?') {
        if (lo && lo->has_arg == no_argument && exact_(elem, lo->name))
            fprintf(stderr, "clgrad%s%s: --%s takes no value\n", *a->command ? " " : "", a->command, lo->name);
        else clgrad_cli_unknown_option(a->command, elem);
        return -2;
    }
    if (c == ':') {
        if (lo && !exact_(elem, lo->name)) {
            clgrad_cli_unknown_option(a->command, elem);
            return -2;
        }
        fprintf(stderr, "%s: %.*s needs a value\n", a->who, (int)strcspn(elem, "="), elem);
        return -2;
    }
    if (c >= LONG_BASE) {
        lo = &a->longopts[c - LONG_BASE];
        if (!exact_(elem, lo->name)) { /* an abbreviation: not taken */
            clgrad_cli_unknown_option(a->command, elem);
            return -2;
        }
        snprintf(a->opt, sizeof a->opt, "--%s", lo->name);
        if (lo->has_arg != no_argument) {
            a->value = optarg;
            a->attached = optarg && optarg > elem && optarg <= elem + strlen(elem);
        }
        return 1;
    }
    if (c == 'h') {
        snprintf(a->opt, sizeof a->opt, "--help");
        return 1;
    }
    char name[64];
    if (short_name_(a->shorts, c, name, sizeof name)) {
        snprintf(a->opt, sizeof a->opt, "--%s", name);
        a->value = optarg; /* NULL for a flag */
        a->attached = optarg && optarg > elem && optarg <= elem + strlen(elem);
        return 1;
    }
    clgrad_cli_unknown_option(a->command, elem);
    return -2;
}

void clgrad_cli_cmdline(const char *command, const char *prefix, int argc, char **argv, char *out, size_t nout)
{
    const char *spec = command ? clgrad_cli_command_options(command) : NULL;
    size_t n = (size_t)snprintf(out, nout, "%s", prefix);
    int done = 0;
    for (int i = 0; i < argc && n < nout; i++) {
        const char *e = argv[i], *eq = strchr(e, '=');
        if (strcmp(e, "--") == 0) done = 1;
        size_t len = eq ? (size_t)(eq - e) : 0; /* "--name" of "--name=value" */
        int takes = 0;
        if (i > 0 && !done && spec && eq && strncmp(e, "--", 2) == 0)
            for (const char *p = spec; *p; p += strcspn(p, "|") + (p[strcspn(p, "|")] == '|')) {
                size_t l = strcspn(p, "|");
                if (l && p[l - 1] == '=' && l - 1 == len - 2 && strncmp(p, e + 2, len - 2) == 0) takes = 1;
            }
        if (takes) n += (size_t)snprintf(out + n, nout - n, "%s%.*s %s", n ? " " : "", (int)len, e, eq + 1);
        else n += (size_t)snprintf(out + n, nout - n, "%s%s", n ? " " : "", e);
    }
}
