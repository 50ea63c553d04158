/*
 * page_automations.c - the Automations page: list, create/edit,
 * enable/disable, delete, the signing secret (shown once, rotatable),
 * Send test, run history and the delivery log with Resend.
 */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "automation.h"
#include "config.h"
#include "crypto.h"
#include "store.h"
#include "view.h"
#include "writer.h"

#define MAX_ACTIONS 5

static void trigger_options(struct view_dict *d, const char *selected)
{
	for (int i = 0; i < TRIG__MAX; i++) {
		struct view_dict *o = view_section(d, "TRIGGERS");
		view_set(o, "SLUG", automation_triggers[i].slug);
		view_set(o, "LABEL", automation_triggers[i].label);
		if (selected && strcmp(selected, automation_triggers[i].slug) == 0)
			view_show(o, "SELECTED");
	}
}

/* The action rows of the form: the saved ones, then empty ones. */
static void action_rows(struct view_dict *d, const struct automation_action *acts, size_t n)
{
	for (size_t i = 0; i < MAX_ACTIONS; i++) {
		struct view_dict *row = view_section(d, "ACTIONS");
		view_set_int(row, "N", (long long)i);
		const char *kind = i < n ? acts[i].kind : "";
		struct view_dict *none = view_section(row, "KINDS");
		view_set(none, "SLUG", "");
		view_set(none, "LABEL", "(none)");
		for (int k = 0; k < ACT__MAX; k++) {
			struct view_dict *o = view_section(row, "KINDS");
			view_set(o, "SLUG", automation_actions[k].slug);
			view_set(o, "LABEL", automation_actions[k].label);
			if (strcmp(kind, automation_actions[k].slug) == 0)
				view_show(o, "SELECTED");
		}
		view_set(row, "NAME", i < n ? acts[i].name : "");
		view_set(row, "VALUE", i < n ? acts[i].value : "");
	}
}

/* The saved segments as options; selected is the automation's (0: none). */
static void segment_options(struct http_request *r, struct view_dict *d, long long selected)
{
	struct segment_row *list;
	size_t n;
	if (store_segments_list(r->thread->db, r->arena, &list, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		struct view_dict *o = view_section(d, "SEGMENTS");
		view_set_int(o, "SEGMENT_ID", list[i].id);
		view_set(o, "SEGMENT_NAME", list[i].name);
		if (list[i].id == selected)
			view_show(o, "SELECTED");
	}
}

static const char *trigger_label(const char *slug)
{
	int t = automation_trigger_find(slug);
	return t < 0 ? slug : automation_triggers[t].label;
}

static sl_err list_page(struct http_request *r, struct http_response *resp, int status,
			const char *error)
{
	struct automation_row *list;
	size_t n;
	sl_err e = store_automations_list(r->thread->db, r->arena, &list, &n);
	if (e)
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Automations");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "AUTOMATIONS");
		view_set_int(row, "ID", list[i].id);
		view_set(row, "NAME", list[i].name);
		view_set(row, "TRIGGER", trigger_label(list[i].trigger));
		view_set(row, "TRIGGER_TAG", list[i].trigger_tag);
		view_set(row, "ENABLED", list[i].enabled ? "yes" : "no");
		view_set(row, "LAST_RUN", list[i].last_run_at ? page_time(r, list[i].last_run_at) : "never");
		view_set_int(row, "RUNS", list[i].runs);
		view_set_int(row, "FAILURES", list[i].failures);
	}
	if (!n)
		view_show(d, "NONE");
	trigger_options(d, http_param(r, "trigger"));
	const char *seg = http_param(r, "segment");
	segment_options(r, d, seg ? atoll(seg) : 0);
	action_rows(d, NULL, 0);
	view_set(d, "NAME_VALUE", error ? http_param(r, "name") : "");
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
	}
	e = page_render(r, resp, "automations", "AUTOMATIONS", d);
	resp->status = status;
	return e;
}

HANDLER(page_automations_get)
{
	return list_page(r, resp, 200, NULL);
}

/* The automation and its actions read from the form; a message when bad. */
static const char *read_form(struct http_request *r, struct automation_row *au,
			     struct automation_action *acts, size_t *n)
{
	const struct config *c = config_get();
	au->name = http_param(r, "name");
	au->trigger = http_param(r, "trigger");
	au->trigger_tag = http_param(r, "trigger_tag");
	au->history = http_param(r, "history") != NULL;
	au->enabled = true;
	if (!au->name || !*au->name)
		return "Give the automation a name.";
	int t = automation_trigger_find(au->trigger);
	if (t < 0)
		return "Choose a trigger.";
	if (automation_triggers[t].needs_tag && (!au->trigger_tag || !*au->trigger_tag))
		return "Choose the tag whose addition triggers this automation.";
	if (!automation_triggers[t].needs_tag)
		au->trigger_tag = "";
	const char *segment = http_param(r, "segment");
	au->segment_id = segment && *segment ? atoll(segment) : 0;
	if (au->segment_id) {
		struct segment_row s;
		if (au->segment_id < 0 ||
		    store_segment_get(r->thread->db, r->arena, au->segment_id, &s) != SL_OK)
			return "Choose a segment from the list (that one does not exist).";
	}
	*n = 0;
	for (int i = 0; i < MAX_ACTIONS; i++) {
		const char *kind = http_param(r, arena_printf(r->arena, "action_%d", i));
		if (!kind || !*kind)
			continue;
		int k = automation_action_find(kind);
		const char *name = http_param(r, arena_printf(r->arena, "name_%d", i));
		const char *value = http_param(r, arena_printf(r->arena, "value_%d", i));
		if (k < 0)
			return "Choose an action.";
		if ((name && strlen(name) > 2000) || (value && strlen(value) > 1000))
			return arena_printf(r->arena, "Action %d is too long.", i + 1);
		if (!name || !*name)
			return arena_printf(r->arena, "Action %d needs a %s.", i + 1,
					    automation_actions[k].name_label);
		if (k == ACT_WEBHOOK) {
			const char *p = automation_url_problem(name, c->outbound_allow_http != 0,
							       c->outbound_allow_private != 0);
			if (p)
				return p;
		}
		if (k == ACT_SET_FIELD) {
			bool exists = false;
			sl_err e = store_field_exists(r->thread->db, name, &exists);
			if (e || !exists)
				return arena_printf(r->arena, "There is no field with the key \"%s\".", name);
		}
		acts[*n] = (struct automation_action){(int)*n, automation_actions[k].slug, name,
						      value ? value : ""};
		(*n)++;
	}
	if (!*n)
		return "Add at least one action.";
	return NULL;
}

struct save_job {
	struct automation_row au;
	struct automation_action acts[MAX_ACTIONS];
	size_t n;
	long long id;
};

static sl_err save_job(struct store *db, void *arg)
{
	struct save_job *j = arg;
	return store_automation_save(db, &j->au, j->acts, j->n, (long long)time(NULL), &j->id);
}

static sl_err detail_page(struct http_request *r, struct http_response *resp, long long id,
			  int status, const char *error, const char *secret);

HANDLER(page_automations_post)
{
	struct save_job j = {0};
	const char *problem = read_form(r, &j.au, j.acts, &j.n);
	if (problem)
		return list_page(r, resp, 422, problem);
	char secret[3 + 64 + 1] = "sl_";
	sl_err e = crypto_token_hex(secret + 3, 32);
	if (e)
		return e;
	char *sealed = crypto_seal(r->thread->secret_key, secret);
	if (!sealed)
		return SL_ERR_NOMEM;
	j.au.secret_sealed = arena_strdup(r->arena, sealed);
	free(sealed);
	if ((e = writer_run(r->thread->writer, save_job, &j)))
		return e;
	return detail_page(r, resp, j.id, 201, NULL, arena_strdup(r->arena, secret));
}

static sl_err detail_page(struct http_request *r, struct http_response *resp, long long id,
			  int status, const char *error, const char *secret)
{
	struct store *db = r->thread->db;
	struct automation_row au;
	struct automation_action *acts;
	struct automation_run *runs;
	struct outbox_row *out;
	struct outbox_attempt *att;
	size_t n_acts, n_runs, n_out, n_att;
	sl_err e;
	if ((e = store_automation_get(db, r->arena, id, &au)) ||
	    (e = store_automation_actions(db, r->arena, id, &acts, &n_acts)) ||
	    (e = store_automation_runs(db, r->arena, id, &runs, &n_runs)) ||
	    (e = store_outbox_list(db, r->arena, id, &out, &n_out)) ||
	    (e = store_outbox_attempts(db, r->arena, id, &att, &n_att)))
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", au.name);
	view_set_int(d, "ID", au.id);
	view_set(d, "NAME", au.name);
	view_set(d, "TRIGGER_TAG", au.trigger_tag);
	view_set(d, "STATE", au.enabled ? "enabled" : "disabled");
	view_set(d, "TOGGLE", au.enabled ? "disable" : "enable");
	view_set(d, "TOGGLE_LABEL", au.enabled ? "Disable" : "Enable");
	if (au.history)
		view_show(d, "HISTORY");
	trigger_options(d, au.trigger);
	segment_options(r, d, au.segment_id);
	action_rows(d, acts, n_acts);
	if (secret) {
		view_show(d, "SECRET");
		view_set(d, "SECRET_VALUE", secret);
	}
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
	}
	const char *notice = http_get(&r->query, "notice");
	if (notice && !error) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", notice);
	}
	for (size_t i = 0; i < n_runs; i++) {
		struct view_dict *row = view_section(d, "RUNS");
		view_set(row, "AT", page_time(r, runs[i].at));
		view_set_int(row, "CONTACT", runs[i].contact_id);
		view_set(row, "SOURCE", runs[i].source);
		view_set(row, "DETAIL", runs[i].detail);
	}
	if (!n_runs)
		view_show(d, "NO_RUNS");
	for (size_t i = 0; i < n_out; i++) {
		struct view_dict *row = view_section(d, "DELIVERIES");
		view_set_int(row, "DID", out[i].id);
		view_set(row, "AT", page_time(r, out[i].created_at / 1000));
		view_set(row, "URL", out[i].url);
		view_set(row, "DSTATE", out[i].state);
		view_set(row, "KIND", out[i].test ? "test" : "event");
		view_set_int(row, "ATTEMPTS", out[i].attempts);
		view_set(row, "KEY", out[i].idempotency_key);
		view_set(row, "LAST", out[i].last_status < 0 ? "" :
			 arena_printf(r->arena, "%lld", out[i].last_status));
	}
	if (!n_out)
		view_show(d, "NO_DELIVERIES");
	for (size_t i = 0; i < n_att; i++) {
		struct view_dict *row = view_section(d, "ATTEMPTS_LOG");
		view_set_int(row, "DID", att[i].outbox_id);
		view_set(row, "AT", page_time(r, att[i].at / 1000));
		view_set_int(row, "STATUS", att[i].status);
		view_set_int(row, "MS", att[i].ms);
		view_set(row, "NOTE", *att[i].error ? att[i].error : att[i].excerpt);
	}
	e = page_render(r, resp, "automation", "AUTOMATIONS", d);
	resp->status = status;
	return e;
}

HANDLER(page_automation_get)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	return e ? e : detail_page(r, resp, id, 200, NULL, NULL);
}

static void redirect_notice(struct http_request *r, struct http_response *resp, long long id,
			    const char *notice)
{
	http_redirect(resp, arena_printf(r->arena, "/automations/%lld?notice=%s", id,
					 http_url_encode(r->arena, notice)));
}

HANDLER(page_automation_post)
{
	struct save_job j = {0};
	sl_err e = page_id_param(r, 0, &j.au.id);
	if (e)
		return e;
	struct automation_row cur;
	if ((e = store_automation_get(r->thread->db, r->arena, j.au.id, &cur)))
		return e;
	const char *problem = read_form(r, &j.au, j.acts, &j.n);
	if (problem)
		return detail_page(r, resp, j.au.id, 422, problem, NULL);
	j.au.enabled = cur.enabled;
	if ((e = writer_run(r->thread->writer, save_job, &j)))
		return e;
	redirect_notice(r, resp, j.au.id, "Saved.");
	return SL_OK;
}

struct id_job {
	long long id, other;
	bool flag;
	const char *text;
};

static sl_err enable_job(struct store *db, void *arg)
{
	struct id_job *j = arg;
	return store_automation_enable(db, j->id, j->flag);
}

HANDLER(page_automation_enable_post)
{
	struct id_job j = {0};
	sl_err e = page_id_param(r, 0, &j.id);
	if (e)
		return e;
	const char *action = http_param(r, "action");
	if (!action || (strcmp(action, "enable") && strcmp(action, "disable")))
		return SL_ERR_INVALID;
	j.flag = strcmp(action, "enable") == 0;
	if ((e = writer_run(r->thread->writer, enable_job, &j)))
		return e;
	redirect_notice(r, resp, j.id, j.flag ? "Enabled." : "Disabled.");
	return SL_OK;
}

static sl_err delete_job(struct store *db, void *arg)
{
	return store_automation_delete(db, ((struct id_job *)arg)->id);
}

HANDLER(page_automation_delete_post)
{
	struct id_job j = {0};
	sl_err e = page_id_param(r, 0, &j.id);
	if (e || (e = writer_run(r->thread->writer, delete_job, &j)))
		return e;
	http_redirect(resp, "/automations");
	return SL_OK;
}

static sl_err secret_job(struct store *db, void *arg)
{
	struct id_job *j = arg;
	return store_automation_secret(db, j->id, j->text);
}

HANDLER(page_automation_rotate_post)
{
	struct id_job j = {0};
	sl_err e = page_id_param(r, 0, &j.id);
	if (e)
		return e;
	char secret[3 + 64 + 1] = "sl_";
	if ((e = crypto_token_hex(secret + 3, 32)))
		return e;
	char *sealed = crypto_seal(r->thread->secret_key, secret);
	if (!sealed)
		return SL_ERR_NOMEM;
	j.text = sealed;
	e = writer_run(r->thread->writer, secret_job, &j);
	free(sealed);
	if (e)
		return e;
	return detail_page(r, resp, j.id, 200, NULL, arena_strdup(r->arena, secret));
}

static sl_err test_job(struct store *db, void *arg)
{
	return automation_send_test(db, ((struct id_job *)arg)->id, (long long)time(NULL));
}

HANDLER(page_automation_test_post)
{
	struct id_job j = {0};
	sl_err e = page_id_param(r, 0, &j.id);
	if (e)
		return e;
	e = writer_run(r->thread->writer, test_job, &j);
	if (e == SL_ERR_NOT_FOUND)
		return detail_page(r, resp, j.id, 422, "This automation has no webhook action to test.", NULL);
	if (e)
		return e;
	redirect_notice(r, resp, j.id, "Test queued: it appears in the delivery log below.");
	return SL_OK;
}

static sl_err resend_job(struct store *db, void *arg)
{
	struct id_job *j = arg;
	long long now_ms = (long long)time(NULL) * 1000;
	return store_outbox_resend(db, j->other, j->id, now_ms, automation_give_up_at(now_ms));
}

HANDLER(page_automation_resend_post)
{
	struct id_job j = {0};
	sl_err e = page_id_param(r, 0, &j.id);
	if (e || (e = page_id_param(r, 1, &j.other)))
		return e;
	if ((e = writer_run(r->thread->writer, resend_job, &j)))
		return e;
	redirect_notice(r, resp, j.id, "Delivery queued again (same Idempotency-Key).");
	return SL_OK;
}
