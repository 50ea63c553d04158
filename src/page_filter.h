/*
 * page_filter.h - the contacts filter builder's form (page_filter.c),
 * shared by the contacts page and the Segments pages: numbered rows
 * c<i>_kind, c<i>_value, c<i>_extra, "add" and "remove=<i>". The Segments
 * pages also show the contacts list (page_contacts_filtered, below); the
 * contacts page calls nothing of page_segments.c's.
 */
#ifndef STRIPELINK_PAGE_FILTER_H
#define STRIPELINK_PAGE_FILTER_H

#include "handlers.h"
#include "segment.h"

struct page_filter_row {
	const char *kind_name;   /* as submitted */
	const char *value, *extra;
	const char *error;       /* why this row is bad; NULL when good */
};

struct page_filter {
	struct page_filter_row rows[SEG_MAX_CONDS];
	size_t n;
	bool add_row;            /* "Add condition" was pressed: show an empty row */
	bool invalid;            /* some row has an error */
	struct segment_def def;  /* the good rows, compiled by the store */
};

/* Reads the rows from the request and checks them (rows with an empty
 * kind are dropped). Strings are request-owned. */
sl_err page_filter_read(struct http_request *r, struct page_filter *f);
/* Fills f from a saved definition and checks it. */
sl_err page_filter_from_def(struct http_request *r, const struct segment_def *def,
			    struct page_filter *f);
/* (Re)checks f's rows into f->def; sets row errors and f->invalid. */
sl_err page_filter_check(struct http_request *r, struct page_filter *f);
/* Adds the builder's sections (COND_ROWS, TAG_LIST, FIELD_LIST,
 * SAVE_ROWS, CAN_SAVE, FILTER_INVALID) to d. */
sl_err page_filter_show(struct http_request *r, const struct page_filter *f, struct view_dict *d);
/* "&c0_kind=..&c0_value=..." for the pager's links (request arena). */
const char *page_filter_query(struct http_request *r, const struct page_filter *f);

/* page_contacts.c: the contacts list for f (segment_id: the saved segment
 * being edited, 0 for none) with a save error shown (422), or 200. */
sl_err page_contacts_filtered(struct http_request *r, struct http_response *resp,
			      const struct page_filter *f, long long segment_id, const char *error);

#endif
