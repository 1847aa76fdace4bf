/*
 * case_entities.c - area "entities": model.yaml with an entities: section,
 * input.txt with one message per line, expected.txt with one line per
 * message: the entities found as "name=value@char_start-char_end" joined
 * by " | ", or "-" when there are none.  A model that must fail uses
 * expected_error instead (see case_load_model).
 */
#include "case_runner.h"

#include <stdio.h>
#include <string.h>

static void describe(const kefu_scratch *s, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    if (kefu_entity_count(s) == 0)
        snprintf(buf, cap, "-");
    for (size_t i = 0; i < kefu_entity_count(s) && used < cap; i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        kefu_entity_get(s, i, &e);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s@%u-%u",
                                 i ? " | " : "", e.name, e.value, e.char_start,
                                 e.char_end);
    }
}

static int extract(kefu_scratch *s, const char *line, char *got, size_t cap)
{
    int rc = kefu_entities_extract(s, line, strlen(line));
    if (rc == KEFU_OK)
        describe(s, got, cap);
    return rc;
}

int case_entities(const char *dir, char *why, size_t why_cap)
{
    return case_lines(dir, why, why_cap, extract);
}
