/* fuzz_model_yaml.c - the YAML model loader on arbitrary bytes: either a
 * model or an error with a message, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>

#include "kefu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    int rc;
    if (!d)
        return 0;
    rc = kefu_model_load_buffer(&m, (const char *)data, size, "fuzz.yaml",
                                NULL, NULL, d);
    if (rc != KEFU_OK && (m != NULL || kefu_diag_status(d) != rc))
        abort();
    if (rc == KEFU_OK && !m)
        abort();
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}
