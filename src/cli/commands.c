/*
** commands.c: the clgrad executable's commands and the options each takes:
** the one list (cli/commands.h).  main.c dispatches and prints help from it;
** cli/opts.c makes getopt_long's option arrays from it; bench, compare, plot
** and sweep parse their own command lines through opts.c with it.
*/
#include "cli/commands.h"

#include <string.h>

/* Each command's options, "name" or "name=" (takes a value), '|'-separated:
** the one list of them.  Every command parses its options with getopt_long
** through cli/opts.h, which makes getopt's struct option array from the list
** here (compare, plot, bench and sweep in their own files, with their own
** --help); unknown options get a did-you-mean from it. */

#define OPEN_OPTS "device=|gemm=|cl-dir=|cache-dir=|no-cache"
#define OPEN_HELP                                                                                          \
    "  --device SPEC      P:D, cpu|gpu|accelerator, or part of the device/platform name\n"                   \
    "                     (default: $CLGRAD_DEVICE, else the first GPU, else the first CPU)\n"              \
    "  --gemm own|clblast GEMM backend (default own)\n"                                                     \
    "  --cl-dir DIR       load kernel sources from DIR instead of the embedded copies ($CLGRAD_CL_DIR)\n"   \
    "  --cache-dir DIR    kernel binary cache ($CLGRAD_CACHE_DIR, default $XDG_CACHE_HOME/clgrad)\n"        \
    "  --no-cache         neither read nor write the kernel cache ($CLGRAD_NO_CACHE=1)\n"

static const clgrad_cli_command commands_[] = {
    {"run", OPEN_OPTS "|set=|out=|force|init-from=|save-data|quiet|help", "clgrad run EXP.ini|NAME [options]",
     "Train the experiment on the device and record its gradients in a run directory.\n"
     "NAME (no slash, no such file here) is a shipped experiment: NAME.ini in the installed\n"
     "experiments directory (" CLGRAD_EXPERIMENTS_DIR ").\n\n"
     "options:\n"
     "  --set SEC.KEY=VAL  override a key of the experiment file (repeatable)\n"
     "  --out DIR          run directory (default runs/<name>-<timestamp>, -2, -3... when taken)\n"
     "  --force            replace the run --out DIR holds (only the files a run writes are removed;\n"
     "                     never while another run holds the directory)\n"
     "  --init-from DIR    start from the .npy tensors in DIR (e.g. another run's weights/final)\n"
     "  --save-data        also write the train and test arrays under DIR/data/\n"
     "  --quiet            no progress output on stderr (errors and warnings only)\n" OPEN_HELP
     "\nexit status: 0 completed or diverged, 1 failed, 2 bad experiment or options, 130 interrupted\n"},
    {"selfcheck", OPEN_OPTS "|no-timing|json|quiet|help", "clgrad selfcheck [options]",
     "Build every kernel program on the chosen device and check each kernel family against a\n"
     "float64 host reference; print a pass/fail table and the numerics fingerprint.\n\n"
     "options:\n"
     "  --json             one JSON object on stdout instead of the table\n"
     "  --no-timing        skip the compile-from-source / warm-cache timing\n"
     "  --quiet            do not report kernel programs as they are compiled\n" OPEN_HELP
     "\nexit status: 0 all checks pass, 1 a check failed or the device could not be opened\n"},
    {"devices", "device=|json|help", "clgrad devices [--json] [--device SPEC]",
     "List every OpenCL platform and device, with the default (or --device's) choice marked.\n\n"
     "options:\n"
     "  --json             machine-readable output\n"
     "  --device SPEC      mark this device as selected\n"},
    {"keys", "help", "clgrad keys", "Print every experiment-file key: type, allowed values, default.\n"},
    {"version", "help", "clgrad version", "Print the version.\n"},
    {"help", "help", "clgrad help [COMMAND]", "Print the usage, or one command's options.\n"},
    {"compare", "json|rtol=|atol=|help", NULL, NULL},
    {"plot", "out=|sweep=|x=|y=|smooth=|help", NULL, NULL},
    {"bench",
     "device=|gemm=|sizes=|reps=|warmup=|budget=|models=|json=|cl-dir=|cache-dir=|only=|no-cache|quick|no-limits|"
     "no-gemm|no-train|no-startup|compare|startup-child|help",
     NULL, NULL},
    {"tune", "device=|cl-dir=|cache-dir=|quick|sizes=|budget=|clblast|show|reset|help",
     "clgrad tune [--device SPEC] [--quick] [--sizes N,...] [--budget S] [--clblast] [--show] [--reset]",
     "Search the GEMM's parameters on the device and store the fastest in the device's tune file\n"
     "(<cache dir>/tune-<fingerprint>.ini), which every later context on that device loads.\n"
     "Own GEMM: every candidate (CPU micro-kernel rows x columns and packing thresholds, or the\n"
     "tiled kernel's work-group and register tiles) is first checked bit for bit against the\n"
     "built-in defaults' results, then timed on squares and the bench models' shapes.\n"
     "$CLGRAD_TUNE=off ignores the file (built-in defaults); CLGRAD_TUNE=key=value,... sets them.\n\n"
     "options:\n"
     "  --quick            three candidates, small shapes (CI)\n"
     "  --sizes N,...      square sizes to time (default 256,512,1024,2048)\n"
     "  --budget S         stop trying candidates after S seconds\n"
     "  --clblast          tune CLBlast's Xgemm parameters instead (CLBlastOverrideParameters;\n"
     "                     the own GEMM's stay); `clgrad bench` then compares with those\n"
     "  --show             print the parameters in use and the tune file's path\n"
     "  --reset            remove the device's tune file\n"
     "  --device SPEC      P:D, cpu|gpu|accelerator, or part of the device/platform name\n"
     "  --cl-dir DIR       load kernel sources from DIR ($CLGRAD_CL_DIR)\n"
     "  --cache-dir DIR    kernel cache and tune file directory ($CLGRAD_CACHE_DIR)\n"},
    {"sweep",
     "grid=|set=|out=|jobs=|device=|shard=|merge=|runner=|cl-dir=|cache-dir=|gemm=|init-from=|no-cache|save-data|"
     "quiet|force|dry-run|emit|help",
     NULL, NULL},
};
#define NCOMMANDS ((int)(sizeof commands_ / sizeof commands_[0]))
/* The options before the command is known (`clgrad --device 0:0 run ...`): those of run, selfcheck and devices. */
static const clgrad_cli_command global_ = {"", OPEN_OPTS "|set=|out=|init-from=|save-data|quiet|no-timing|json|force|help", NULL,
                                 NULL};

const clgrad_cli_command *clgrad_cli_command_find(const char *name)
{
    for (int i = 0; name && i < NCOMMANDS; i++)
        if (strcmp(commands_[i].name, name) == 0) return &commands_[i];
    return NULL;
}

const char *clgrad_cli_command_options(const char *command)
{
    if (command && !*command) return global_.options;
    const clgrad_cli_command *c = clgrad_cli_command_find(command);
    return c ? c->options : NULL;
}

int clgrad_cli_option_kind(const clgrad_cli_command *c, const char *name, size_t n)
{
    for (const char *p = c->options; *p;) {
        size_t len = strcspn(p, "|");
        size_t base = len && p[len - 1] == '=' ? len - 1 : len;
        if (base == n && strncmp(p, name, n) == 0) return base < len ? 2 : 1;
        p += len + (p[len] == '|');
    }
    return 0;
}

void clgrad_cli_command_help(const clgrad_cli_command *c, FILE *f)
{
    fprintf(f, "usage: %s\n\n%s", c->synopsis, c->help);
}

const clgrad_cli_command *clgrad_cli_global_options(void) { return &global_; }
