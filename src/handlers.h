/*
 * handlers.h - every page handler, named after its route. Each returns
 * SL_OK with resp filled, or an error that app_serve turns into the one
 * error page. Handlers validate input, call the core and render a
 * template; they never talk SQL or curl directly.
 */
#ifndef STRIPELINK_HANDLERS_H
#define STRIPELINK_HANDLERS_H

#include "http.h"
#include "err.h"

struct view_dict;

/* page.c: shared rendering */

/* Renders templates/<page>.tpl in the layout into resp, with the common
 * layout values (user, CSRF token, active navigation item). Takes
 * ownership of d and frees it. */
sl_err page_render(struct http_request *r, struct http_response *resp,
		   const char *page, const char *nav, struct view_dict *d);

/* Sets resp to a JSON body (takes ownership of the json_object). */
struct json_object;
sl_err page_json(struct http_response *resp, int status, struct json_object *obj);

/* Parses the route's capture i as a positive id; SL_ERR_NOT_FOUND when it
 * is not one. */
sl_err page_id_param(const struct http_request *r, int i, long long *id);

/* Formats a unix time as "2026-11-27 16:17 UTC" in the request's arena. */
const char *page_time(struct http_request *r, long long t);

struct connection_row;
/* Loads the connection named by the route's first capture; SL_ERR_NOT_FOUND
 * for pending or unknown ones. */
sl_err page_load_connection(struct http_request *r, struct connection_row *c);

/* Adds the wizard's step indicator (1 Connect, 2 Resource, 3 Map fields). */
void page_wizard_steps(struct view_dict *d, int current);

#define HANDLER(name) sl_err name(struct http_request *r, struct http_response *resp)

/* page_health.c */
HANDLER(page_healthz);
HANDLER(page_metrics);
HANDLER(page_home);

/* page_auth.c */
HANDLER(page_setup_get);
HANDLER(page_setup_post);
HANDLER(page_login_get);
HANDLER(page_login_post);
HANDLER(page_logout_post);

/* page_contacts.c */
HANDLER(page_contacts_get);
HANDLER(page_contact_get);
HANDLER(page_contacts_csv);

/* page_segments.c */
HANDLER(page_segments_get);
HANDLER(page_segments_post);
HANDLER(page_segment_post);
HANDLER(page_segment_delete_post);

/* page_fields.c */
HANDLER(page_fields_get);
HANDLER(page_fields_post);
HANDLER(page_field_delete_post);

/* page_apps.c */
HANDLER(page_apps_get);

/* page_stripe.c: connecting, the Stripe app page, disconnecting */
HANDLER(page_stripe_connect_get);
HANDLER(page_stripe_connect_post);
HANDLER(page_stripe_app_get);
HANDLER(page_stripe_settings_post);
HANDLER(page_stripe_roll_post);
HANDLER(page_stripe_catchup_post);
HANDLER(page_stripe_endpoint_enable_post);
HANDLER(page_stripe_endpoint_recreate_post);
HANDLER(page_stripe_key_post);
HANDLER(page_stripe_disconnect_get);
HANDLER(page_stripe_disconnect_post);

/* page_wizard.c: steps 2 and 3, the confirmation */
HANDLER(page_wizard_resource_get);
HANDLER(page_wizard_resource_post);
HANDLER(page_wizard_mapping_get);
HANDLER(page_wizard_mapping_post);
HANDLER(page_wizard_done_get);

/* page_sync.c: historical sync controls */
HANDLER(page_sync_post);
HANDLER(page_sync_control_post);
/* Adds the connection's sync jobs (JOBS section, progress, controls): the
 * sync card of the Stripe app page. page_stripe.c calls it; page_sync.c
 * calls nothing of page_stripe.c's (the helpers both need are page.c's). */
void page_sync_jobs(struct http_request *r, struct view_dict *d, long long connection_id,
		    bool connected);

/* page_webhook.c: webhooks and the integration log */
HANDLER(page_webhook_post);
HANDLER(page_log_get);
HANDLER(page_log_replay_post);

/* page_automations.c */
HANDLER(page_automations_get);
HANDLER(page_automations_post);
HANDLER(page_automation_get);
HANDLER(page_automation_post);
HANDLER(page_automation_enable_post);
HANDLER(page_automation_delete_post);
HANDLER(page_automation_rotate_post);
HANDLER(page_automation_test_post);
HANDLER(page_automation_resend_post);

#endif
