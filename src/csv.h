/*
 * csv.h - writing CSV cells (RFC 4180) that spreadsheets will not run.
 */
#ifndef STRIPELINK_CSV_H
#define STRIPELINK_CSV_H

#include <stdbool.h>
#include "buf.h"

/* Appends one cell to out, preceded by a comma unless first. Cells that
 * contain a comma, quote, CR or LF are quoted with quotes doubled. A cell
 * that a spreadsheet would read as a formula (starting with =, +, -, @,
 * tab or CR) gets a leading apostrophe. NULL is an empty cell. */
void csv_cell(struct buf *out, const char *value, bool first);

/* Ends a row with CRLF. */
void csv_end_row(struct buf *out);

#endif
