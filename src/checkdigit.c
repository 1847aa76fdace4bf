/* checkdigit.c - Luhn and resident ID check characters. */
#include "checkdigit.h"

bool kefu_luhn_ok(const char *d, size_t n)
{
    unsigned sum = 0;
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (v > 9)
            return false;
        if (i & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

bool kefu_cn_id_ok(const char *id)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int sum = 0, y, mo, d;
    for (int i = 0; i < 17; i++) {
        if (id[i] < '0' || id[i] > '9')
            return false;
        sum += (id[i] - '0') * w[i];
    }
    y = (id[6] - '0') * 1000 + (id[7] - '0') * 100 + (id[8] - '0') * 10 +
        (id[9] - '0');
    mo = (id[10] - '0') * 10 + (id[11] - '0');
    d = (id[12] - '0') * 10 + (id[13] - '0');
    if (y < 1800 || y > 2099 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return check[sum % 11] == (id[17] == 'x' ? 'X' : id[17]);
}

