/* cli.h - the `kefu` command line: one file per subcommand. */
#ifndef KEFU_CLI_H
#define KEFU_CLI_H

#include <stdio.h>

#include "kefu.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
} cli_command;

/* Subcommands (each in cmd_<name>.c). */
int cmd_text(int argc, char **argv);
int cmd_erlang(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_triage(int argc, char **argv);
int cmd_emotion(int argc, char **argv);
int cmd_redact(int argc, char **argv);

/* Shared helpers (util.c). */
void cli_json_string(FILE *out, const char *s, size_t len);
/* x with four decimals, as printf("%.4f") writes it (but null when not
 * finite, and no minus sign on a zero), without printf's cost, which
 * showed in classify throughput. */
void cli_json_fixed4(FILE *out, double x);
/* Prints "kefu: file:line:col: message" for a failed load/call. */
void cli_report(const char *what, int status, const kefu_diag *diag);
/* Loads a model, reporting a failure (file:line:column) on stderr. */
kefu_model *cli_load_model(const char *path);
/* Prints {"error": "file:line:col: message", "status": N} and a newline. */
void cli_error_json(int status, const kefu_diag *diag);
/* Prints ,"entities":[...] for the scratch's last extraction. */
void cli_entities_json(const kefu_scratch *s);
/* Reads one line (without the newline or a CR before it) into *buf;
 * returns its length, or -1 at end of input (after a message on stderr
 * when reading failed). */
long cli_getline(char **buf, size_t *cap, FILE *in);
/* Whether cli_getline has met a read error (the command then exits 1). */
int cli_read_failed(void);

#endif
