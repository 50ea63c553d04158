/*
 * csv.c - CSV cells; see csv.h.
 */
#include "csv.h"

#include <string.h>

void csv_cell(struct buf *out, const char *value, bool first)
{
	if (!first)
		buf_putc(out, ',');
	if (!value || !*value)
		return;
	bool formula = strchr("=+-@\t\r", value[0]) != NULL;
	bool quote = formula || strpbrk(value, ",\"\r\n") != NULL;
	if (quote)
		buf_putc(out, '"');
	if (formula)
		buf_putc(out, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '"')
			buf_putc(out, '"');
		buf_putc(out, *p);
	}
	if (quote)
		buf_putc(out, '"');
}

void csv_end_row(struct buf *out)
{
	buf_puts(out, "\r\n");
}
