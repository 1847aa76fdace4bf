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
int cmd_info(int argc, char **argv);

/* Shared helpers (util.c). */

/* A line of output built in memory and written with one call (a dozen
 * stdio calls per line showed in classify throughput).  Out of memory
 * ends the command with a message. */
typedef struct cli_buf {
    char *p;
    size_t len, cap;
} cli_buf;
void cli_buf_put(cli_buf *b, const char *s, size_t n);
void cli_buf_puts(cli_buf *b, const char *s);
/* s as a JSON string, quoted and escaped. */
void cli_buf_json_string(cli_buf *b, const char *s, size_t len);
/* x with four decimals, as printf("%.4f") writes it (but null when not
 * finite, and no minus sign on a zero), without printf's cost. */
void cli_buf_fixed4(cli_buf *b, double x);
/* Writes the buffer to out and empties it. */
void cli_buf_write(cli_buf *b, FILE *out);
void cli_buf_free(cli_buf *b);
/* The same two straight to a stream. */
void cli_json_string(FILE *out, const char *s, size_t len);
void cli_json_fixed4(FILE *out, double x);
/* Prints "kefu: file:line:col: message" for a failed load/call. */
void cli_report(const char *what, int status, const kefu_diag *diag);
/* An option's value as a whole decimal number in [lo, hi] (cli_count) or
 * a finite number in [lo, hi] (cli_number; hi may be INFINITY); anything else, a sign or
 * trailing characters included, prints "kefu CMD: bad value 'S' for OPT
 * (...)" on stderr and returns -1 (the command then exits 2). */
int cli_count(const char *cmd, const char *opt, const char *s, uint64_t lo,
              uint64_t hi, uint64_t *out);
int cli_number(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out);
/* Loads a model, reporting a failure (file:line:column) on stderr. */
kefu_model *cli_load_model(const char *path);
/* Prints {"error": "file:line:col: message", "status": N} and a newline. */
void cli_error_json(int status, const kefu_diag *diag);
/* Appends ,"entities":[...] for the scratch's last extraction. */
void cli_entities_json(cli_buf *b, const kefu_scratch *s);
/* Reads one line (without the newline or a CR before it) into *buf;
 * returns its length, or -1 at end of input (after a message on stderr
 * when reading failed). */
long cli_getline(char **buf, size_t *cap, FILE *in);
/* Whether cli_getline has met a read error (the command then exits 1). */
int cli_read_failed(void);

#endif
