/*
 * routes.c - the route table. Adding a page is adding a row here and a
 * handler in its page_*.c file.
 */
#include "handlers.h"
#include "route.h"

enum route_id {
	ROUTE_HEALTHZ,
	ROUTE_HOME,
	ROUTE_SETUP_GET,
	ROUTE_SETUP_POST,
	ROUTE_LOGIN_GET,
	ROUTE_LOGIN_POST,
	ROUTE_LOGOUT,
	ROUTE_CONTACTS,
	ROUTE_CONTACTS_CSV,
	ROUTE_CONTACT,
	ROUTE_FIELDS,
	ROUTE_FIELDS_POST,
	ROUTE_FIELD_DELETE,
	ROUTE_APPS,
	ROUTE__MAX
};

static const struct form_key credential_keys[] = {
	{"username", KEY_LINE, 64},
	{"password", KEY_LINE, 1024},
	{"next", KEY_LINE, 2048},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key contact_query_keys[] = {
	{"q", KEY_LINE, 200},
	{"tag", KEY_LINE, 200},
	{"page", KEY_INT, 9},
	{NULL, 0, 0},
};

static const struct form_key field_keys[] = {
	{"label", KEY_LINE, 80},
	{"type", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

const struct route route_table[] = {
	[ROUTE_HEALTHZ] = {HTTP_GET, "/healthz", page_healthz, AUTH_PUBLIC, false, NULL},
	[ROUTE_HOME] = {HTTP_GET, "/", page_home, AUTH_ADMIN, false, NULL},
	[ROUTE_SETUP_GET] = {HTTP_GET, "/setup", page_setup_get, AUTH_SETUP, false, NULL},
	[ROUTE_SETUP_POST] = {HTTP_POST, "/setup", page_setup_post, AUTH_SETUP, true, credential_keys},
	[ROUTE_LOGIN_GET] = {HTTP_GET, "/login", page_login_get, AUTH_GUEST, false, credential_keys},
	[ROUTE_LOGIN_POST] = {HTTP_POST, "/login", page_login_post, AUTH_GUEST, true, credential_keys},
	[ROUTE_LOGOUT] = {HTTP_POST, "/logout", page_logout_post, AUTH_ADMIN, true, NULL},
	[ROUTE_CONTACTS] = {HTTP_GET, "/contacts", page_contacts_get, AUTH_ADMIN, false, contact_query_keys},
	[ROUTE_CONTACTS_CSV] = {HTTP_GET, "/contacts.csv", page_contacts_csv, AUTH_ADMIN, false, NULL},
	[ROUTE_CONTACT] = {HTTP_GET, "/contacts/:id", page_contact_get, AUTH_ADMIN, false, NULL},
	[ROUTE_FIELDS] = {HTTP_GET, "/fields", page_fields_get, AUTH_ADMIN, false, NULL},
	[ROUTE_FIELDS_POST] = {HTTP_POST, "/fields", page_fields_post, AUTH_ADMIN, true, field_keys},
	[ROUTE_FIELD_DELETE] = {HTTP_POST, "/fields/:id/delete", page_field_delete_post, AUTH_ADMIN, true, NULL},
	[ROUTE_APPS] = {HTTP_GET, "/apps", page_apps_get, AUTH_ADMIN, false, NULL},
};
_Static_assert(sizeof route_table / sizeof route_table[0] == ROUTE__MAX,
	       "every route id needs a row");

const size_t route_count = ROUTE__MAX;
