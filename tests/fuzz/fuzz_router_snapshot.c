/*
 * fuzz_router_snapshot.c - the snapshot loader on arbitrary bytes: it
 * must refuse what is damaged without touching the router, and whatever
 * it accepts must be a consistent router that writes the same bytes back
 * and keeps working.  Inputs that look like snapshots are tried twice: as
 * they are, and with their length and CRC fields recomputed, so that
 * mutations reach the field checks behind the checksum.
 */
#include <stdlib.h>
#include <string.h>

#include "kefu.h"
#include "router.h" /* kefu_router_verify */

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static void one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size >= 28 && !memcmp(data, "KEFURTS", 8)) {
        uint8_t *fixed = malloc(size);
        uint64_t payload = size - 28;
        uint32_t crc;
        CHECK(fixed);
        memcpy(fixed, data, size);
        for (int i = 0; i < 8; i++)
            fixed[16 + i] = (uint8_t)(payload >> (8 * i));
        crc = kefu_crc32(0, fixed, size - 4);
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        one(fixed, size);
        free(fixed);
    }
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    kefu_router *r;
    size_t n1, n2;
    unsigned char *a, *b;
    int rc;
    if (kefu_router_new(&r, NULL, NULL))
        return;
    kefu_router_queue_add(r, 0, 1, KEFU_STRATEGY_LONGEST_IDLE);
    kefu_router_snapshot(r, NULL, 0, &n1);
    a = malloc(n1);
    CHECK(a && kefu_router_snapshot(r, a, n1, &n1) == KEFU_OK);
    rc = kefu_router_restore(r, data, size);
    kefu_router_snapshot(r, NULL, 0, &n2);
    b = malloc(n2);
    CHECK(b && kefu_router_snapshot(r, b, n2, &n2) == KEFU_OK);
    if (rc != KEFU_OK) {
        CHECK(rc == KEFU_E_CORRUPT || rc == KEFU_E_VERSION ||
              rc == KEFU_E_NOMEM || rc == KEFU_E_ARG);
        CHECK(n1 == n2 && !memcmp(a, b, n1));
    } else {
        kefu_route_event e;
        CHECK(kefu_router_verify(r) == KEFU_OK);
        CHECK(n2 == size && !memcmp(b, data, size));
        /* it goes on: a day of timers, then a conversation */
        CHECK(kefu_router_tick(r, r->now + 86400000) == KEFU_OK);
        CHECK(kefu_router_verify(r) == KEFU_OK);
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        while (kefu_router_poll(r, &e) == KEFU_OK)
            e.size = sizeof e;
    }
    free(a);
    free(b);
    kefu_router_free(r);
}
