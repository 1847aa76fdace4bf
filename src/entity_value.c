/*
 * entity_value.c - the value of an entity match: the normalisations a
 * model can ask for and the canonical forms of the built-in kinds (phone
 * numbers with their country code, amounts with an ISO currency, ISO
 * dates), with the checks that turn a pattern match down (a date that does
 * not exist, a bare card number taken for an order number).
 */
#include "entity_value.h"

#include <stdio.h>

#include "checkdigit.h"

static bool has(kefu_span m, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= m.len; i++)
        if (!memcmp(m.s + i, needle, n))
            return true;
    return false;
}

static int put(const kefu_mem *mem, kefu_buf *b, const char *s, size_t n)
{
    return kefu_buf_append(mem, b, s, n);
}

static int put_str(const kefu_mem *mem, kefu_buf *b, const char *s)
{
    return kefu_buf_append(mem, b, s, strlen(s));
}

/* Value of a run of Chinese numerals (三百五十, 两千, 一万二千); -1 if none */
static long long cjk_number(kefu_span m)
{
    static const char *const digits[] = {"零", "一", "二", "三", "四",
                                         "五", "六", "七", "八", "九"};
    long long total = 0, section = 0, num = 0;
    bool any = false;
    size_t i = 0;
    while (i + 3 <= m.len) {
        const char *c = m.s + i;
        int d = -1;
        for (int k = 0; k < 10; k++)
            if (!memcmp(c, digits[k], 3))
                d = k;
        if (!memcmp(c, "两", 3))
            d = 2;
        if (d >= 0) {
            num = d;
        } else if (!memcmp(c, "十", 3) || !memcmp(c, "百", 3) ||
                   !memcmp(c, "千", 3)) {
            long long unit = !memcmp(c, "十", 3)   ? 10
                             : !memcmp(c, "百", 3) ? 100
                                                   : 1000;
            section += (num ? num : 1) * unit;
            num = 0;
        } else if (!memcmp(c, "万", 3)) {
            total += (section + num) * 10000;
            section = num = 0;
        } else {
            break;
        }
        any = true;
        i += 3;
    }
    return any ? total + section + num : -1;
}

static const char *currency_of(kefu_span m)
{
    static const struct {
        const char *cue, *code;
    } cur[] = {
        {"us$", "USD"}, {"usd", "USD"}, {"美元", "USD"}, {"美金", "USD"},
        {"dollar", "USD"}, {"buck", "USD"}, {"hk$", "HKD"}, {"hkd", "HKD"},
        {"港币", "HKD"}, {"€", "EUR"}, {"eur", "EUR"}, {"欧元", "EUR"},
        {"£", "GBP"}, {"$", "USD"}, {"¥", "CNY"}, {"rmb", "CNY"},
        {"cny", "CNY"}, {"人民币", "CNY"}, {"元", "CNY"}, {"块", "CNY"},
        {"yuan", "CNY"}, {"kuai", "CNY"},
    };
    for (size_t i = 0; i < KEFU_ARRAY_LEN(cur); i++)
        if (has(m, cur[i].cue))
            return cur[i].code;
    return NULL;
}

/* "1,299.00 元" -> "1299.00 CNY"; "三百块" -> "300 CNY". */
static int canon_amount(const kefu_mem *mem, kefu_buf *b, kefu_span m)
{
    const char *cur = currency_of(m);
    size_t i = 0;
    char tmp[32];
    int rc = KEFU_OK;
    while (i < m.len && !(m.s[i] >= '0' && m.s[i] <= '9'))
        i++;
    if (i < m.len) {
        for (; i < m.len && !rc; i++) {
            char c = m.s[i];
            if (c >= '0' && c <= '9')
                rc = kefu_buf_putc(mem, b, c);
            else if (c == '.' && i + 1 < m.len && m.s[i + 1] >= '0' &&
                     m.s[i + 1] <= '9')
                rc = kefu_buf_putc(mem, b, c);
            else if (c != ',')
                break;
        }
    } else {
        long long v = -1;
        for (i = 0; i < m.len && v < 0; i++) {
            kefu_span rest = {m.s + i, m.len - i};
            v = cjk_number(rest);
        }
        if (v < 0)
            return 0;
        snprintf(tmp, sizeof tmp, "%lld", v);
        rc = put_str(mem, b, tmp);
    }
    if (!rc && cur) {
        rc = kefu_buf_putc(mem, b, ' ');
        rc = rc ? rc : put_str(mem, b, cur);
    }
    return rc ? rc : 1;
}

static int days_in(int y, int mo)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0 || y == 0))
        return 29;
    return d[mo - 1];
}

/* ISO forms: "2024-05-01", "--05-01" without a year, "today-1" for
 * relative days (the library has no clock: the host resolves them). */
static int canon_date(const kefu_mem *mem, kefu_buf *b, kefu_span m)
{
    static const struct {
        const char *word;
        const char *value;
    } rel[] = {
        {"大前天", "today-3"}, {"大后天", "today+3"}, {"前天", "today-2"},
        {"昨天", "today-1"}, {"昨日", "today-1"}, {"今天", "today"},
        {"今日", "today"}, {"明天", "today+1"}, {"明日", "today+1"},
        {"后天", "today+2"}, {"day before yesterday", "today-2"},
        {"day after tomorrow", "today+2"}, {"yesterday", "today-1"},
        {"today", "today"}, {"tomorrow", "today+1"},
    };
    static const char *const months[] = {"jan", "feb", "mar", "apr",
                                         "may", "jun", "jul", "aug",
                                         "sep", "oct", "nov", "dec"};
    int num[3], nn = 0, year = 0, month = 0, day = 0;
    char out[32];
    for (size_t i = 0; i < KEFU_ARRAY_LEN(rel); i++)
        if (has(m, rel[i].word))
            return put_str(mem, b, rel[i].value) ? KEFU_E_NOMEM : 1;
    for (size_t i = 0; i < m.len && nn < 3;) {
        if (m.s[i] >= '0' && m.s[i] <= '9') {
            int v = 0, digits = 0;
            while (i < m.len && m.s[i] >= '0' && m.s[i] <= '9' && digits < 5) {
                v = v * 10 + (m.s[i++] - '0');
                digits++;
            }
            num[nn++] = digits == 4 ? -v : v; /* mark 4-digit years */
        } else {
            i++;
        }
    }
    for (int k = 0; k < 12; k++)
        if (has(m, months[k]))
            month = k + 1;
    if (month) { /* "may 1st, 2024", "1 may" */
        for (int k = 0; k < nn; k++) {
            if (num[k] < 0)
                year = -num[k];
            else
                day = num[k];
        }
    } else if (nn == 3 && num[0] < 0) {
        year = -num[0];
        month = num[1];
        day = num[2];
    } else if (nn == 2 && num[0] >= 0) {
        month = num[0];
        day = num[1];
    } else {
        return 0;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in(year, month))
        return 0;
    if (year)
        snprintf(out, sizeof out, "%04d-%02d-%02d", year, month, day);
    else
        snprintf(out, sizeof out, "--%02d-%02d", month, day);
    return put_str(mem, b, out) ? KEFU_E_NOMEM : 1;
}

/* "+86 138-1234-5678" -> "+8613812345678"; 0086 becomes +86. */
static int canon_phone(const kefu_mem *mem, kefu_buf *b, kefu_span m, bool check)
{
    size_t digits = 0, start = b->len;
    bool plus = false;
    int rc = KEFU_OK;
    for (size_t i = 0; i < m.len && !rc; i++) {
        char c = m.s[i];
        if (c == '+' && digits == 0 && !plus) {
            plus = true;
            rc = kefu_buf_putc(mem, b, '+');
        } else if (c >= '0' && c <= '9') {
            rc = kefu_buf_putc(mem, b, c);
            digits++;
        }
    }
    if (rc)
        return rc;
    if (!plus && digits > 4 && !memcmp(b->data + start, "0086", 4)) {
        memmove(b->data + start + 1, b->data + start + 2, b->len - start - 2);
        b->data[start] = '+';
        b->len--;
        digits -= 2;
    }
    if (check && (digits < 7 || digits > 15))
        return 0;
    return 1;
}

/* A card number (16-19 digits, Luhn) or resident ID: a person's number,
 * which a bare digit run must not be taken for an order number. */
static bool private_number(kefu_span m)
{
    char d[24];
    size_t n = 0;
    for (size_t i = 0; i < m.len; i++) {
        if (n == sizeof d - 1)
            return false;
        if ((m.s[i] >= '0' && m.s[i] <= '9') || m.s[i] == 'x')
            d[n++] = m.s[i];
        else if (m.s[i] != '-')
            return false;
    }
    d[n] = '\0';
    return (n >= 16 && n <= 19 && kefu_luhn_ok(d, n)) ||
           (n == 18 && kefu_cn_id_ok(d));
}

int kefu_entity_value(const kefu_mem *mem, kefu_buf *b, int norm, int check,
                      kefu_span m, const char *orig, size_t olen, bool bare)
{
    size_t start = b->len;
    int rc = 1;
    if (check == KEFU_CHECK_DIGIT) {
        size_t i = 0;
        while (i < m.len && !(m.s[i] >= '0' && m.s[i] <= '9'))
            i++;
        if (i == m.len || (bare && private_number(m)))
            return 0;
    }
    switch (norm) {
    case KEFU_NORM_ORIGINAL:
        rc = put(mem, b, orig, olen) ? KEFU_E_NOMEM : 1;
        break;
    case KEFU_NORM_DIGITS:
        for (size_t i = 0; i < m.len && rc == 1; i++)
            if ((m.s[i] >= '0' && m.s[i] <= '9') || (m.s[i] == '+' && i == 0))
                rc = kefu_buf_putc(mem, b, m.s[i]) ? KEFU_E_NOMEM : 1;
        break;
    case KEFU_NORM_UPPER:
    case KEFU_NORM_COMPACT:
        for (size_t i = 0; i < m.len && rc == 1; i++) {
            char c = m.s[i];
            if (c == ' ')
                continue;
            if (norm == KEFU_NORM_UPPER && c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            rc = kefu_buf_putc(mem, b, c) ? KEFU_E_NOMEM : 1;
        }
        break;
    case KEFU_NORM_PHONE:
        rc = canon_phone(mem, b, m, check == KEFU_CHECK_PHONE);
        break;
    case KEFU_NORM_AMOUNT:
        rc = canon_amount(mem, b, m);
        break;
    case KEFU_NORM_DATE:
        rc = canon_date(mem, b, m);
        break;
    default:
        rc = put(mem, b, m.s, m.len) ? KEFU_E_NOMEM : 1;
        break;
    }
    if (rc == 1 && b->len == start)
        rc = 0; /* an empty value is no value */
    if (rc != 1)
        b->len = start;
    return rc == 1 ? 1 : rc == 0 ? 0 : KEFU_E_NOMEM;
}

