/*
 * main.c - `kefu`, the command-line host.  Each subcommand lives in its own
 * file and uses the public header only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"train", "train a model from examples and write a binary model", cmd_train},
    {"classify", "classify lines of text (JSON lines out)", cmd_classify},
    {"eval", "evaluate a model on label<TAB>text lines", cmd_eval},
    {"triage", "the whole pipeline on JSON lines, sessions per conversation", cmd_triage},
    {"text", "normalise and tokenise lines of text (JSON lines out)", cmd_text},
    {"erlang", "Erlang C/A staffing arithmetic (--json for JSON)", cmd_erlang},
    {"emotion", "score emotions of lines of text (JSON lines out)", cmd_emotion},
    {"redact", "mask phone, ID and card numbers, e-mail in lines of text", cmd_redact},
    {"info", "what a model holds and what training chose (one JSON object)", cmd_info},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: kefu COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nkefu %s; `kefu COMMAND --help` for a command's options\n",
            kefu_version_string());
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kefu %s\n", kefu_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].run(argc - 1, argv + 1);
            return rc ? rc : cli_read_failed();
        }
    fprintf(stderr, "kefu: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
