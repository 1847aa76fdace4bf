/*
 * checkdigit.h - check digits of numbers that identify people: bank cards
 * (Luhn) and Chinese resident ID numbers (GB 11643: birth date and the
 * ISO 7064 MOD 11-2 check character).  Redaction uses them to tell private
 * numbers from order numbers; the order_id entity uses them to refuse
 * bare card and ID numbers.  Needs only core.
 */
#ifndef KEFU_CHECKDIGIT_H
#define KEFU_CHECKDIGIT_H

#include "core.h"

/* n ASCII digits whose last one is a valid Luhn check digit. */
bool kefu_luhn_ok(const char *digits, size_t n);
/* 18 characters: 17 digits then a digit or x/X, a real birth date
 * (1800-2099) and the right MOD 11-2 check character. */
bool kefu_cn_id_ok(const char *id18);

#endif
