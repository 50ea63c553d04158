/*
 * httpdate.c - HTTP dates; see httpdate.h.
 */
#include "httpdate.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const day_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_day_names[7] = {"Monday", "Tuesday", "Wednesday", "Thursday",
					      "Friday", "Saturday", "Sunday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Takes text at *s (any case); false leaves *s alone. */
static bool take(const char **s, const char *text)
{
	size_t n = strlen(text);
	if (strncasecmp(*s, text, n) != 0)
		return false;
	*s += n;
	return true;
}

/* Takes one of names at *s; its index, or -1. */
static int take_name(const char **s, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (take(s, names[i]))
			return i;
	return -1;
}

/* Takes exactly n digits at *s. */
static bool take_digits(const char **s, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		x = x * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*v = x;
	return true;
}

/* "08:49:37" (a leap second 60 is allowed) into seconds of the day. */
static bool take_time(const char **s, int *secs)
{
	int h, m, sec;
	if (!take_digits(s, 2, &h) || !take(s, ":") || !take_digits(s, 2, &m) || !take(s, ":") ||
	    !take_digits(s, 2, &sec) || h > 23 || m > 59 || sec > 60)
		return false;
	*secs = h * 3600 + m * 60 + sec;
	return true;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool valid_day(int y, int m, int d)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d >= 1 && d <= days[m] + (m == 1 && leap);
}

/* The RFC 850 form's two-digit year: no more than 50 years ahead. */
static int full_year(int yy)
{
	time_t now = time(NULL);
	struct tm tm;
	int this_year = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 2000;
	int y = this_year - this_year % 100 + yy;
	return y > this_year + 50 ? y - 100 : y;
}

bool http_date_parse(const char *s, long long *out)
{
	int day, month, year, secs;
	if (!s)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	const char *p = s;
	if (take_name(&p, long_day_names, 7) >= 0 && take(&p, ", ")) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		int yy;
		if (!take_digits(&p, 2, &day) || !take(&p, "-") ||
		    (month = take_name(&p, month_names, 12)) < 0 || !take(&p, "-") ||
		    !take_digits(&p, 2, &yy) || !take(&p, " ") || !take_time(&p, &secs) ||
		    !take(&p, " GMT"))
			return false;
		year = full_year(yy);
	} else if (p = s, take_name(&p, day_names, 7) >= 0 && take(&p, ", ")) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!take_digits(&p, 2, &day) || !take(&p, " ") ||
		    (month = take_name(&p, month_names, 12)) < 0 || !take(&p, " ") ||
		    !take_digits(&p, 4, &year) || !take(&p, " ") || !take_time(&p, &secs) ||
		    !take(&p, " GMT"))
			return false;
	} else if (p = s, take_name(&p, day_names, 7) >= 0 && take(&p, " ")) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if ((month = take_name(&p, month_names, 12)) < 0 || !take(&p, " "))
			return false;
		if (*p == ' ')
			p++;
		if (!take_digits(&p, p[1] == ' ' ? 1 : 2, &day) || !take(&p, " ") ||
		    !take_time(&p, &secs) || !take(&p, " ") || !take_digits(&p, 4, &year))
			return false;
	} else {
		return false;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p || year < 1 || !valid_day(year, month, day))
		return false;
	*out = days_from_civil(year, month + 1, day) * 86400 + secs;
	return true;
}
