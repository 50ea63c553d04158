/*
 * routes.c - the route table. Adding a page is adding a row here and a
 * handler in its page_*.c file.
 */
#include "handlers.h"
#include "route.h"

enum route_id {
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
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
	ROUTE_STRIPE_CONNECT,
	ROUTE_STRIPE_CONNECT_POST,
	ROUTE_STRIPE_APP,
	ROUTE_STRIPE_SETTINGS,
	ROUTE_STRIPE_DISCONNECT,
	ROUTE_STRIPE_DISCONNECT_POST,
	ROUTE_WIZARD_RESOURCE,
	ROUTE_WIZARD_RESOURCE_POST,
	ROUTE_WIZARD_MAPPING,
	ROUTE_WIZARD_MAPPING_POST,
	ROUTE_WIZARD_DONE,
	ROUTE_WEBHOOK,
	ROUTE_LOG,
	ROUTE_LOG_REPLAY,
	ROUTE_SYNC,
	ROUTE_SYNC_CONTROL,
	ROUTE_STRIPE_ROLL,
	ROUTE_STRIPE_CATCHUP,
	ROUTE_STRIPE_ENDPOINT_ENABLE,
	ROUTE_STRIPE_ENDPOINT_RECREATE,
	ROUTE_STRIPE_KEY,
	ROUTE_SEGMENTS,
	ROUTE_SEGMENTS_POST,
	ROUTE_SEGMENT_POST,
	ROUTE_SEGMENT_DELETE,
	ROUTE_AUTOMATIONS,
	ROUTE_AUTOMATIONS_POST,
	ROUTE_AUTOMATION,
	ROUTE_AUTOMATION_POST,
	ROUTE_AUTOMATION_ENABLE,
	ROUTE_AUTOMATION_DELETE,
	ROUTE_AUTOMATION_ROTATE,
	ROUTE_AUTOMATION_TEST,
	ROUTE_AUTOMATION_RESEND,
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
	{"segment", KEY_INT, 18},
	{"add", KEY_SLUG, 8},
	{"remove", KEY_INT, 3},
	{NULL, 0, 0},
};

/* The filter rows (c0_kind, c0_value, c0_extra, ...) are read by name by
 * page_filter_read(), which checks each operand. */
static const struct form_key segment_keys[] = {
	{"name", KEY_LINE, 200},
	{"segment", KEY_INT, 18},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key field_keys[] = {
	{"label", KEY_LINE, 80},
	{"type", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key connect_keys[] = {
	{"secret_key", KEY_LINE, 512},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key switch_keys[] = {
	{"create_contact", KEY_SLUG, 8},
	{"create_order", KEY_SLUG, 8},
	{"create_recurring", KEY_SLUG, 8},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key resource_keys[] = {
	{"resource", KEY_SLUG, 32},
	{"sync_type", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

/* Step 3's row fields are numbered (path_0, target_0, ...): the handler
 * reads them by name; each is one short line. */
static const struct form_key mapping_keys[] = {
	{"email_path", KEY_LINE, 200},
	{"id_path", KEY_LINE, 200},
	{"id_target", KEY_SLUG, 64},
	{"rows", KEY_INT, 3},
	{"remove", KEY_INT, 3},
	{"action", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

static const struct form_key log_keys[] = {
	{"result", KEY_SLUG, 16},
	{"type", KEY_LINE, 100},
	{"page", KEY_INT, 9},
	{"replayed", KEY_SLUG, 16},
	{NULL, 0, 0},
};

static const struct form_key sync_keys[] = {
	{"resource", KEY_SLUG, 32},
	{"action", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

/* An automation's form: up to five numbered action rows (action_0,
 * name_0, value_0, ...), read by name in the handler. */
static const struct form_key automation_keys[] = {
	{"name", KEY_LINE, 120},
	{"trigger", KEY_SLUG, 32},
	{"trigger_tag", KEY_LINE, 200},
	{"segment", KEY_INT, 9},
	{"history", KEY_SLUG, 8},
	{"action", KEY_SLUG, 16},
	{"csrf", KEY_SLUG, 128},
	{NULL, 0, 0},
};

const struct route route_table[] = {
	[ROUTE_HEALTHZ] = {HTTP_GET, "/healthz", page_healthz, AUTH_PUBLIC, false, NULL},
	[ROUTE_METRICS] = {HTTP_GET, "/metrics", page_metrics, AUTH_PUBLIC, false, NULL},
	[ROUTE_HOME] = {HTTP_GET, "/", page_home, AUTH_ADMIN, false, NULL},
	[ROUTE_SETUP_GET] = {HTTP_GET, "/setup", page_setup_get, AUTH_SETUP, false, NULL},
	[ROUTE_SETUP_POST] = {HTTP_POST, "/setup", page_setup_post, AUTH_SETUP, true, credential_keys},
	[ROUTE_LOGIN_GET] = {HTTP_GET, "/login", page_login_get, AUTH_GUEST, false, credential_keys},
	[ROUTE_LOGIN_POST] = {HTTP_POST, "/login", page_login_post, AUTH_GUEST, true, credential_keys},
	[ROUTE_LOGOUT] = {HTTP_POST, "/logout", page_logout_post, AUTH_ADMIN, true, NULL},
	[ROUTE_CONTACTS] = {HTTP_GET, "/contacts", page_contacts_get, AUTH_ADMIN, false, contact_query_keys},
	[ROUTE_CONTACTS_CSV] = {HTTP_GET, "/contacts.csv", page_contacts_csv, AUTH_ADMIN, false, contact_query_keys},
	[ROUTE_CONTACT] = {HTTP_GET, "/contacts/:id", page_contact_get, AUTH_ADMIN, false, NULL},
	[ROUTE_FIELDS] = {HTTP_GET, "/fields", page_fields_get, AUTH_ADMIN, false, NULL},
	[ROUTE_FIELDS_POST] = {HTTP_POST, "/fields", page_fields_post, AUTH_ADMIN, true, field_keys},
	[ROUTE_FIELD_DELETE] = {HTTP_POST, "/fields/:id/delete", page_field_delete_post, AUTH_ADMIN, true, NULL},
	[ROUTE_APPS] = {HTTP_GET, "/apps", page_apps_get, AUTH_ADMIN, false, NULL},
	[ROUTE_STRIPE_CONNECT] = {HTTP_GET, "/apps/stripe/connect", page_stripe_connect_get, AUTH_ADMIN, false, NULL},
	[ROUTE_STRIPE_CONNECT_POST] = {HTTP_POST, "/apps/stripe/connect", page_stripe_connect_post, AUTH_ADMIN, true, connect_keys},
	[ROUTE_STRIPE_APP] = {HTTP_GET, "/apps/stripe/:id", page_stripe_app_get, AUTH_ADMIN, false, NULL},
	[ROUTE_STRIPE_SETTINGS] = {HTTP_POST, "/apps/stripe/:id/settings", page_stripe_settings_post, AUTH_ADMIN, true, switch_keys},
	[ROUTE_STRIPE_DISCONNECT] = {HTTP_GET, "/apps/stripe/:id/disconnect", page_stripe_disconnect_get, AUTH_ADMIN, false, NULL},
	[ROUTE_WIZARD_RESOURCE] = {HTTP_GET, "/apps/stripe/:id/resource", page_wizard_resource_get, AUTH_ADMIN, false, resource_keys},
	[ROUTE_WIZARD_RESOURCE_POST] = {HTTP_POST, "/apps/stripe/:id/resource", page_wizard_resource_post, AUTH_ADMIN, true, resource_keys},
	[ROUTE_WIZARD_MAPPING] = {HTTP_GET, "/apps/stripe/:id/mapping/:resource", page_wizard_mapping_get, AUTH_ADMIN, false, NULL},
	[ROUTE_WIZARD_MAPPING_POST] = {HTTP_POST, "/apps/stripe/:id/mapping/:resource", page_wizard_mapping_post, AUTH_ADMIN, true, mapping_keys},
	[ROUTE_WIZARD_DONE] = {HTTP_GET, "/apps/stripe/:id/done", page_wizard_done_get, AUTH_ADMIN, false, NULL},
	[ROUTE_WEBHOOK] = {HTTP_POST, "/webhooks/stripe/:id", page_webhook_post, AUTH_PUBLIC, false, NULL},
	[ROUTE_LOG] = {HTTP_GET, "/apps/stripe/:id/log", page_log_get, AUTH_ADMIN, false, log_keys},
	[ROUTE_LOG_REPLAY] = {HTTP_POST, "/apps/stripe/:id/log/:entry/replay", page_log_replay_post, AUTH_ADMIN, true, NULL},
	[ROUTE_SYNC] = {HTTP_POST, "/apps/stripe/:id/sync", page_sync_post, AUTH_ADMIN, true, sync_keys},
	[ROUTE_SYNC_CONTROL] = {HTTP_POST, "/apps/stripe/:id/jobs/:job", page_sync_control_post, AUTH_ADMIN, true, sync_keys},
	[ROUTE_STRIPE_ROLL] = {HTTP_POST, "/apps/stripe/:id/roll-secret", page_stripe_roll_post, AUTH_ADMIN, true, NULL},
	[ROUTE_STRIPE_CATCHUP] = {HTTP_POST, "/apps/stripe/:id/catchup", page_stripe_catchup_post, AUTH_ADMIN, true, NULL},
	[ROUTE_STRIPE_ENDPOINT_ENABLE] = {HTTP_POST, "/apps/stripe/:id/endpoint/enable", page_stripe_endpoint_enable_post, AUTH_ADMIN, true, NULL},
	[ROUTE_STRIPE_ENDPOINT_RECREATE] = {HTTP_POST, "/apps/stripe/:id/endpoint/recreate", page_stripe_endpoint_recreate_post, AUTH_ADMIN, true, NULL},
	[ROUTE_STRIPE_KEY] = {HTTP_POST, "/apps/stripe/:id/key", page_stripe_key_post, AUTH_ADMIN, true, connect_keys},
	[ROUTE_SEGMENTS] = {HTTP_GET, "/segments", page_segments_get, AUTH_ADMIN, false, NULL},
	[ROUTE_SEGMENTS_POST] = {HTTP_POST, "/segments", page_segments_post, AUTH_ADMIN, true, segment_keys},
	[ROUTE_SEGMENT_POST] = {HTTP_POST, "/segments/:id", page_segment_post, AUTH_ADMIN, true, segment_keys},
	[ROUTE_SEGMENT_DELETE] = {HTTP_POST, "/segments/:id/delete", page_segment_delete_post, AUTH_ADMIN, true, NULL},
	[ROUTE_STRIPE_DISCONNECT_POST] = {HTTP_POST, "/apps/stripe/:id/disconnect", page_stripe_disconnect_post, AUTH_ADMIN, true, NULL},
	[ROUTE_AUTOMATIONS] = {HTTP_GET, "/automations", page_automations_get, AUTH_ADMIN, false, NULL},
	[ROUTE_AUTOMATIONS_POST] = {HTTP_POST, "/automations", page_automations_post, AUTH_ADMIN, true, automation_keys},
	[ROUTE_AUTOMATION] = {HTTP_GET, "/automations/:id", page_automation_get, AUTH_ADMIN, false, NULL},
	[ROUTE_AUTOMATION_POST] = {HTTP_POST, "/automations/:id", page_automation_post, AUTH_ADMIN, true, automation_keys},
	[ROUTE_AUTOMATION_ENABLE] = {HTTP_POST, "/automations/:id/enable", page_automation_enable_post, AUTH_ADMIN, true, automation_keys},
	[ROUTE_AUTOMATION_DELETE] = {HTTP_POST, "/automations/:id/delete", page_automation_delete_post, AUTH_ADMIN, true, NULL},
	[ROUTE_AUTOMATION_ROTATE] = {HTTP_POST, "/automations/:id/rotate-secret", page_automation_rotate_post, AUTH_ADMIN, true, NULL},
	[ROUTE_AUTOMATION_TEST] = {HTTP_POST, "/automations/:id/test", page_automation_test_post, AUTH_ADMIN, true, NULL},
	[ROUTE_AUTOMATION_RESEND] = {HTTP_POST, "/automations/:id/deliveries/:delivery/resend", page_automation_resend_post, AUTH_ADMIN, true, NULL},
};
_Static_assert(sizeof route_table / sizeof route_table[0] == ROUTE__MAX,
	       "every route id needs a row");

const size_t route_count = ROUTE__MAX;
