/*
 * view.h - the C face of the template shim (view.cc, the only C++ file).
 *
 * A page is rendered from templates/<name>.tpl inside templates/layout.tpl.
 * Values are plain strings: every template auto-escapes them for their
 * context (AUTOESCAPE pragma), so C code never writes HTML.
 */
#ifndef STRIPELINK_VIEW_H
#define STRIPELINK_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct view_dict;

/* Sets the template directory and whether changed templates are reloaded.
 * Call once before any thread renders. */
void view_init(const char *template_dir, bool reload);

/* A new top-level dictionary; caller frees with view_dict_free(). Never
 * NULL (aborts on out-of-memory like the arena). */
struct view_dict *view_dict_new(void);

/* Frees a top-level dictionary and its sections. Accepts NULL; ignores
 * section dictionaries (their top-level one owns them). */
void view_dict_free(struct view_dict *d);

/* Sets a variable; value is copied. NULL sets the empty string. On a
 * top-level dictionary the value is seen by the layout, the page and every
 * section. */
void view_set(struct view_dict *d, const char *name, const char *value);

/* Sets a variable to a decimal integer. */
void view_set_int(struct view_dict *d, const char *name, long long value);

/* Shows a section once ({{#NAME}}...{{/NAME}}). */
void view_show(struct view_dict *d, const char *section);

/* Adds one repetition of a section and returns its dictionary, owned by d
 * (do not free it). */
struct view_dict *view_section(struct view_dict *d, const char *section);

/* Renders templates/<page>.tpl as the body of templates/<layout>.tpl (or
 * alone when layout is NULL). Returns a malloc'd string the caller frees,
 * or NULL (logged) when a template is missing or broken. */
char *view_render(const char *layout, const char *page, struct view_dict *d,
		  size_t *len);

#ifdef __cplusplus
}
#endif

#endif
