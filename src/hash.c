/*
 * hash.c - stable hashes.  Feature ids are stored in binary models, so these
 * functions must give the same values on every platform and in every
 * version: they read bytes, never words, and never depend on endianness.
 */
#include "core.h"

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* A byte-wise variant of a multiply-rotate hash, finalised with fmix64. */
uint64_t kefu_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(len + 1));
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t k = (uint64_t)p[i] | (uint64_t)p[i + 1] << 8 |
                     (uint64_t)p[i + 2] << 16 | (uint64_t)p[i + 3] << 24 |
                     (uint64_t)p[i + 4] << 32 | (uint64_t)p[i + 5] << 40 |
                     (uint64_t)p[i + 6] << 48 | (uint64_t)p[i + 7] << 56;
        k *= 0x87c37b91114253d5ULL;
        k = rotl64(k, 31);
        k *= 0x4cf5ad432745937fULL;
        h ^= k;
        h = rotl64(h, 27) * 5 + 0x52dce729;
        i += 8;
    }
    if (i < len) {
        uint64_t k = 0;
        int s = 0;
        for (; i < len; i++, s += 8)
            k |= (uint64_t)p[i] << s;
        k *= 0x87c37b91114253d5ULL;
        k = rotl64(k, 31);
        k *= 0x4cf5ad432745937fULL;
        h ^= k;
    }
    return fmix64(h);
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bitwise by nibble. */
uint32_t kefu_crc32(uint32_t crc, const void *data, size_t len)
{
    static const uint32_t tab[16] = {
        0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
        0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
        0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    const unsigned char *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ tab[crc & 15];
        crc = (crc >> 4) ^ tab[crc & 15];
    }
    return ~crc;
}
