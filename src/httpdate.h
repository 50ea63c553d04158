/*
 * httpdate.h - HTTP dates (pure; used by the Stripe client for Stripe's
 * clock and by nothing of the web layer's).
 */
#ifndef STRIPELINK_HTTPDATE_H
#define STRIPELINK_HTTPDATE_H

#include <stdbool.h>

/* Parses an HTTP date (RFC 7231 section 7.1.1.1: the IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
 * forms every recipient must accept) into Unix seconds. Names match
 * without regard to case; spaces around the date are allowed; the day name
 * is not checked against the date. A two-digit year more than 50 years
 * ahead of this year is taken from the century before. False, *out
 * unchanged, for anything else. */
bool http_date_parse(const char *s, long long *out);

#endif
