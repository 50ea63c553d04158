/*
 * connection.c - connect and disconnect a Stripe account; see
 * connection.h.
 */
#include "connection.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "crypto.h"
#include "deps.h"
#include "store.h"
#include "webhook.h"
#include "writer.h"

#define ENDPOINT_DESCRIPTION "stripelink"

const char *connection_webhook_url(struct arena *a, long long id)
{
	return arena_printf(a, "%s/webhooks/stripe/%lld", config_get()->public_url, id);
}

char *connection_open_key(const unsigned char *secret_key, const char *sealed)
{
	return sealed ? crypto_open(secret_key, sealed) : NULL;
}

void connection_secret_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static const char *json_string(json_object *o, const char *key)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The account's name as the dashboard shows it. */
static const char *account_name(json_object *account)
{
	json_object *settings, *dashboard, *profile;
	const char *name = NULL;
	if (json_object_object_get_ex(account, "settings", &settings) &&
	    json_object_object_get_ex(settings, "dashboard", &dashboard))
		name = json_string(dashboard, "display_name");
	if ((!name || !*name) && json_object_object_get_ex(account, "business_profile", &profile))
		name = json_string(profile, "name");
	if (!name || !*name)
		name = json_string(account, "email");
	if (!name || !*name)
		name = json_string(account, "id");
	return name ? name : "Stripe account";
}

/* Maps a Stripe failure to the problem shown to the person. */
static enum connect_problem problem_for(sl_err e, const struct stripe_error *err)
{
	switch (e) {
	case SL_ERR_AUTH:
		return CONNECT_KEY_REJECTED;
	case SL_ERR_FORBIDDEN:
		return CONNECT_KEY_PERMISSION;
	case SL_ERR_NETWORK:
	case SL_ERR_TIMEOUT:
		return CONNECT_STRIPE_DOWN;
	case SL_ERR_REMOTE:
	case SL_ERR_RATE_LIMITED:
		return err->http_status ? CONNECT_STRIPE_ERROR : CONNECT_STRIPE_DOWN;
	default:
		if (err->http_status == 400 && strstr(err->message, "maximum of 16"))
			return CONNECT_ENDPOINT_LIMIT;
		if (strcmp(err->code, "secret_key_required") == 0 ||
		    strstr(err->message, "does not have the required permissions"))
			return CONNECT_KEY_PERMISSION;
		return CONNECT_STRIPE_ERROR;
	}
}

/* Deletes every endpoint of the account that points at url (there should
 * be at most one; Stripe allows duplicates). */
static sl_err delete_endpoints_for(struct stripe_client *c, const char *key, const char *url,
				   struct stripe_error *err)
{
	char path[256];
	const char *after = NULL;
	char after_buf[128];
	for (int page = 0; page < 10; page++) {
		struct stripe_params q = {BUF_INIT};
		stripe_params_add_int(&q, "limit", 100);
		if (after)
			stripe_params_add(&q, "starting_after", after);
		json_object *list = NULL;
		sl_err e = stripe_request(c, key, STRIPE_GET, "/v1/webhook_endpoints", &q, &list, err);
		stripe_params_free(&q);
		if (e)
			return e;
		json_object *data, *more;
		bool has_more = json_object_object_get_ex(list, "has_more", &more) &&
				json_object_get_boolean(more);
		after = NULL;
		if (json_object_object_get_ex(list, "data", &data) && json_object_is_type(data, json_type_array)) {
			size_t n = json_object_array_length(data);
			for (size_t i = 0; i < n; i++) {
				json_object *ep = json_object_array_get_idx(data, i);
				const char *id = json_string(ep, "id");
				const char *ep_url = json_string(ep, "url");
				if (!id)
					continue;
				snprintf(after_buf, sizeof after_buf, "%s", id);
				after = after_buf;
				if (!ep_url || strcmp(ep_url, url) != 0)
					continue;
				snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", id);
				json_object *gone = NULL;
				e = stripe_request(c, key, STRIPE_DELETE, path, NULL, &gone, err);
				json_object_put(gone);
				if (e && e != SL_ERR_NOT_FOUND) {
					json_object_put(list);
					return e;
				}
				fprintf(stderr, "stripelink: replaced webhook endpoint %s for %s\n", id, url);
			}
		}
		json_object_put(list);
		if (!has_more || !after)
			break;
	}
	return SL_OK;
}

/* Creates the endpoint; on SL_OK *endpoint is Stripe's answer (caller
 * puts it). */
static sl_err create_endpoint(struct stripe_client *c, const char *key, const char *url,
			      long long connection_id, json_object **endpoint,
			      struct stripe_error *err)
{
	struct stripe_params p = {BUF_INIT};
	stripe_params_add(&p, "url", url);
	for (int k = 0; k < EVENT__MAX; k++)
		stripe_params_add(&p, "enabled_events[]", catalog_event((enum event_kind)k)->type);
	stripe_params_add(&p, "api_version", STRIPE_API_VERSION);
	stripe_params_add(&p, "description", ENDPOINT_DESCRIPTION);
	stripe_params_add_int(&p, "metadata[stripelink_connection]", connection_id);
	sl_err e = stripe_request(c, key, STRIPE_POST, "/v1/webhook_endpoints", &p, endpoint, err);
	stripe_params_free(&p);
	return e;
}

struct begin_job {
	const char *account_id, *account_name;
	bool livemode;
	long long now, id;
};

static sl_err begin_job(struct store *db, void *arg)
{
	struct begin_job *j = arg;
	return store_connection_begin(db, j->account_id, j->account_name, j->livemode, j->now, &j->id);
}

struct activate_job {
	long long id, now;
	const char *key_sealed, *key_hint, *endpoint_id, *secret_sealed;
};

static sl_err activate_job(struct store *db, void *arg)
{
	struct activate_job *j = arg;
	return store_connection_activate(db, j->id, j->key_sealed, j->key_hint, j->endpoint_id,
					 j->secret_sealed, j->now);
}

struct abandon_job {
	long long id, now;
};

static sl_err abandon_job(struct store *db, void *arg)
{
	struct abandon_job *j = arg;
	return store_connection_abandon(db, j->id, j->now);
}

static sl_err disconnect_job(struct store *db, void *arg)
{
	struct abandon_job *j = arg;
	sl_err e = store_connection_disconnect(db, j->id, j->now);
	return e ? e : store_jobs_cancel_connection(db, j->id, j->now, "Stopped: the connection was disconnected.");
}

sl_err connection_connect(const struct deps *deps, const char *key, long long now,
			  struct connect_result *result)
{
	memset(result, 0, sizeof *result);
	struct stripe_client *c = deps->stripe;
	json_object *account = NULL, *endpoint = NULL;
	char *key_sealed = NULL, *secret_sealed = NULL;
	struct arena *a = arena_new();
	bool live = false, pending = false, endpoint_made = false;
	sl_err e = SL_OK;

	if (stripe_key_check(key, &live) == STRIPE_KEY_INVALID) {
		result->problem = CONNECT_KEY_SHAPE;
		goto out;
	}
	if (!c) {
		result->problem = CONNECT_STRIPE_DOWN;
		goto out;
	}
	if ((e = stripe_request(c, key, STRIPE_GET, "/v1/account", NULL, &account, &result->stripe))) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	const char *account_id = json_string(account, "id");
	struct begin_job begin = {account_id ? account_id : "unknown", account_name(account), live, now, 0};
	e = writer_run(deps->writer, begin_job, &begin);
	if (e == SL_ERR_EXISTS) {
		result->problem = CONNECT_ALREADY;
		e = SL_OK;
		goto out;
	}
	if (e) {
		fprintf(stderr, "stripelink: connect: saving the pending connection: %s\n", err_name(e));
		result->problem = CONNECT_SAVE_FAILED;
		e = SL_OK;
		goto out;
	}
	pending = true;
	result->connection_id = begin.id;
	const char *url = connection_webhook_url(a, begin.id);

	if ((e = delete_endpoints_for(c, key, url, &result->stripe)) ||
	    (e = create_endpoint(c, key, url, begin.id, &endpoint, &result->stripe))) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	endpoint_made = true;
	const char *endpoint_id = json_string(endpoint, "id");
	const char *secret = json_string(endpoint, "secret");
	char hint[64];
	stripe_key_mask(key, hint, sizeof hint);
	key_sealed = crypto_seal(deps->secret_key, key);
	secret_sealed = secret ? crypto_seal(deps->secret_key, secret) : NULL;
	if (!endpoint_id || !key_sealed || !secret_sealed) {
		snprintf(result->stripe.message, sizeof result->stripe.message,
			 "Stripe created the webhook endpoint without a signing secret");
		result->problem = secret ? CONNECT_SAVE_FAILED : CONNECT_STRIPE_ERROR;
		goto out;
	}
	struct activate_job act = {begin.id, now, key_sealed, hint, endpoint_id, secret_sealed};
	if ((e = writer_run(deps->writer, activate_job, &act))) {
		fprintf(stderr, "stripelink: connect: saving the connection: %s\n", err_name(e));
		result->problem = CONNECT_SAVE_FAILED;
		e = SL_OK;
		goto out;
	}
	pending = false;
	endpoint_made = false;
	fprintf(stderr, "stripelink: connected Stripe account %s (%s) as connection %lld\n",
		begin.account_id, live ? "live" : "test", begin.id);
out:
	/* a failed connect leaves nothing behind */
	if (endpoint_made) {
		char path[256];
		struct stripe_error ignored;
		json_object *gone = NULL;
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", json_string(endpoint, "id"));
		stripe_request(c, key, STRIPE_DELETE, path, NULL, &gone, &ignored);
		json_object_put(gone);
	}
	if (pending) {
		struct abandon_job ab = {result->connection_id, now};
		sl_err f = writer_run(deps->writer, abandon_job, &ab);
		if (f)
			fprintf(stderr, "stripelink: could not undo pending connection %lld: %s\n",
				result->connection_id, err_name(f));
		if (result->problem != CONNECT_ALREADY)
			result->connection_id = 0;
	}
	if (result->problem != CONNECT_OK)
		fprintf(stderr, "stripelink: connect failed: problem %d, Stripe said: %s\n",
			result->problem, result->stripe.message[0] ? result->stripe.message : "-");
	json_object_put(account);
	json_object_put(endpoint);
	free(key_sealed);
	free(secret_sealed);
	arena_free(a);
	return e;
}

sl_err connection_disconnect(const struct deps *deps, long long id, long long now,
			     bool *endpoint_left)
{
	struct arena *a = arena_new();
	struct connection_row row;
	char *key = NULL;
	*endpoint_left = false;
	sl_err e = store_connection_get(deps->db, a, id, &row);
	if (e)
		goto out;
	key = connection_open_key(deps->secret_key, row.key_sealed);
	if (row.endpoint_id) {
		if (!key || !deps->stripe) {
			*endpoint_left = true;
		} else {
			char path[256];
			struct stripe_error err;
			json_object *gone = NULL;
			snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
			sl_err se = stripe_request(deps->stripe, key, STRIPE_DELETE, path, NULL, &gone, &err);
			json_object_put(gone);
			if (se && se != SL_ERR_NOT_FOUND) {
				*endpoint_left = true;
				fprintf(stderr, "stripelink: disconnect %lld: could not delete endpoint %s: %s\n",
					id, row.endpoint_id, err.message);
			}
		}
	}
	struct abandon_job j = {id, now};
	e = writer_run(deps->writer, disconnect_job, &j);
	if (!e)
		fprintf(stderr, "stripelink: disconnected connection %lld\n", id);
out:
	connection_secret_free(key);
	arena_free(a);
	return e;
}

struct roll_job {
	long long id, until;
	const char *endpoint_id, *secret_sealed;
};

static sl_err roll_job(struct store *db, void *arg)
{
	struct roll_job *j = arg;
	return store_connection_roll(db, j->id, j->endpoint_id, j->secret_sealed, j->until);
}

sl_err connection_roll_secret(const struct deps *deps, long long id, long long now,
			      struct connect_result *result)
{
	memset(result, 0, sizeof *result);
	result->connection_id = id;
	struct arena *a = arena_new();
	struct connection_row row;
	char *key = NULL, *sealed = NULL;
	json_object *endpoint = NULL;
	sl_err e = store_connection_get(deps->db, a, id, &row);
	if (e)
		goto out;
	if (strcmp(row.status, "connected") != 0 ||
	    !(key = connection_open_key(deps->secret_key, row.key_sealed))) {
		e = SL_ERR_NOT_FOUND;
		goto out;
	}
	/* the new endpoint first, so no event goes undelivered in between */
	if ((e = create_endpoint(deps->stripe, key, connection_webhook_url(a, id), id, &endpoint,
				 &result->stripe))) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	const char *secret = json_string(endpoint, "secret");
	const char *endpoint_id = json_string(endpoint, "id");
	if (!secret || !endpoint_id || !(sealed = crypto_seal(deps->secret_key, secret))) {
		result->problem = CONNECT_STRIPE_ERROR;
		goto out;
	}
	struct roll_job j = {id, now + config_get()->roll_grace, endpoint_id, sealed};
	if ((e = writer_run(deps->writer, roll_job, &j))) {
		char path[256];
		struct stripe_error ignored;
		json_object *gone = NULL;
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", endpoint_id);
		stripe_request(deps->stripe, key, STRIPE_DELETE, path, NULL, &gone, &ignored);
		json_object_put(gone);
		result->problem = CONNECT_SAVE_FAILED;
		goto out;
	}
	if (row.endpoint_id) {
		char path[256];
		struct stripe_error err;
		json_object *gone = NULL;
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
		sl_err de = stripe_request(deps->stripe, key, STRIPE_DELETE, path, NULL, &gone, &err);
		json_object_put(gone);
		if (de && de != SL_ERR_NOT_FOUND)
			fprintf(stderr, "stripelink: roll %lld: old endpoint %s left at Stripe: %s\n", id,
				row.endpoint_id, err.message);
	}
	fprintf(stderr, "stripelink: connection %lld has a new webhook signing secret\n", id);
out:
	connection_secret_free(key);
	free(sealed);
	json_object_put(endpoint);
	arena_free(a);
	return e;
}

/* ---- endpoint repairs ---- */

struct mended_job {
	long long id, now;
	const char *state;                     /* the endpoint's state now */
	const char *key_sealed, *key_hint;     /* replace_key */
	const char *endpoint_id, *secret_sealed; /* recreate */
};

static sl_err mended_job(struct store *db, void *arg)
{
	struct mended_job *j = arg;
	sl_err e = SL_OK;
	if (j->key_sealed)
		e = store_connection_set_key(db, j->id, j->key_sealed, j->key_hint);
	if (!e && j->endpoint_id)
		e = store_connection_roll(db, j->id, j->endpoint_id, j->secret_sealed, j->now);
	if (!e)
		e = store_catchup_endpoint(db, j->id, j->state, "", j->now);
	if (!e)
		e = store_catchup_request(db, j->id, j->now);
	return e;
}

/* The connected connection and its open key (wipe with
 * connection_secret_free); SL_ERR_NOT_FOUND when it is not connected. */
static sl_err connected(const struct deps *deps, struct arena *a, long long id,
			struct connection_row *row, char **key)
{
	sl_err e = store_connection_get(deps->db, a, id, row);
	if (e)
		return e;
	if (strcmp(row->status, "connected") != 0 ||
	    !(*key = connection_open_key(deps->secret_key, row->key_sealed)))
		return SL_ERR_NOT_FOUND;
	return SL_OK;
}

sl_err connection_endpoint_enable(const struct deps *deps, long long id, long long now,
				  struct connect_result *result)
{
	memset(result, 0, sizeof *result);
	result->connection_id = id;
	struct arena *a = arena_new();
	struct connection_row row;
	char *key = NULL;
	json_object *ep = NULL;
	sl_err e = connected(deps, a, id, &row, &key);
	if (e)
		goto out;
	if (!row.endpoint_id) {
		e = SL_ERR_INVALID;   /* nothing to enable: recreate it */
		goto out;
	}
	char path[256];
	snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
	struct stripe_params p = {BUF_INIT};
	stripe_params_add(&p, "disabled", "false");
	e = stripe_request(deps->stripe, key, STRIPE_POST, path, &p, &ep, &result->stripe);
	stripe_params_free(&p);
	if (e) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	struct mended_job j = {.id = id, .now = now, .state = "enabled"};
	if ((e = writer_run(deps->writer, mended_job, &j)))
		goto out;
	fprintf(stderr, "stripelink: connection %lld: webhook endpoint %s enabled again\n", id, row.endpoint_id);
out:
	json_object_put(ep);
	connection_secret_free(key);
	arena_free(a);
	return e;
}

sl_err connection_endpoint_recreate(const struct deps *deps, long long id, long long now,
				    struct connect_result *result)
{
	memset(result, 0, sizeof *result);
	result->connection_id = id;
	struct arena *a = arena_new();
	struct connection_row row;
	char *key = NULL, *sealed = NULL;
	json_object *endpoint = NULL;
	sl_err e = connected(deps, a, id, &row, &key);
	if (e)
		goto out;
	const char *url = connection_webhook_url(a, id);
	if ((e = delete_endpoints_for(deps->stripe, key, url, &result->stripe)) ||
	    (e = create_endpoint(deps->stripe, key, url, id, &endpoint, &result->stripe))) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	const char *secret = json_string(endpoint, "secret");
	const char *endpoint_id = json_string(endpoint, "id");
	if (!secret || !endpoint_id || !(sealed = crypto_seal(deps->secret_key, secret))) {
		result->problem = CONNECT_STRIPE_ERROR;
		goto out;
	}
	struct mended_job j = {.id = id, .now = now, .state = "enabled", .endpoint_id = endpoint_id,
			       .secret_sealed = sealed};
	if ((e = writer_run(deps->writer, mended_job, &j))) {
		char path[256];
		struct stripe_error ignored;
		json_object *gone = NULL;
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", endpoint_id);
		stripe_request(deps->stripe, key, STRIPE_DELETE, path, NULL, &gone, &ignored);
		json_object_put(gone);
		goto out;
	}
	fprintf(stderr, "stripelink: connection %lld: webhook endpoint recreated as %s\n", id, endpoint_id);
out:
	json_object_put(endpoint);
	free(sealed);
	connection_secret_free(key);
	arena_free(a);
	return e;
}

sl_err connection_replace_key(const struct deps *deps, long long id, const char *key,
			      long long now, struct connect_result *result)
{
	memset(result, 0, sizeof *result);
	result->connection_id = id;
	struct arena *a = arena_new();
	struct connection_row row = {0};
	char *old_key = NULL, *sealed = NULL;
	json_object *account = NULL, *ep = NULL;
	bool live = false;
	sl_err e = connected(deps, a, id, &row, &old_key);
	if (e == SL_ERR_NOT_FOUND && row.status && strcmp(row.status, "connected") == 0)
		e = SL_OK;   /* the old key cannot even be opened: replacing it is the cure */
	if (e)
		goto out;
	if (stripe_key_check(key, &live) == STRIPE_KEY_INVALID) {
		result->problem = CONNECT_KEY_SHAPE;
		goto out;
	}
	if ((e = stripe_request(deps->stripe, key, STRIPE_GET, "/v1/account", NULL, &account, &result->stripe))) {
		result->problem = problem_for(e, &result->stripe);
		e = SL_OK;
		goto out;
	}
	const char *account_id = json_string(account, "id");
	if (!account_id || strcmp(account_id, row.account_id) != 0 || live != row.livemode) {
		result->problem = CONNECT_OTHER_ACCOUNT;
		goto out;
	}
	/* the new key must be able to look after the endpoint too */
	const char *state = "deleted";
	if (row.endpoint_id) {
		char path[256];
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
		e = stripe_request(deps->stripe, key, STRIPE_GET, path, NULL, &ep, &result->stripe);
		if (e && e != SL_ERR_NOT_FOUND) {
			result->problem = problem_for(e, &result->stripe);
			e = SL_OK;
			goto out;
		}
		const char *status = e ? NULL : json_string(ep, "status");
		state = e ? "deleted" : status && strcmp(status, "disabled") == 0 ? "disabled" : "enabled";
		e = SL_OK;
	}
	char hint[64];
	stripe_key_mask(key, hint, sizeof hint);
	if (!(sealed = crypto_seal(deps->secret_key, key))) {
		result->problem = CONNECT_SAVE_FAILED;
		goto out;
	}
	struct mended_job j = {.id = id, .now = now, .state = state, .key_sealed = sealed, .key_hint = hint};
	if ((e = writer_run(deps->writer, mended_job, &j))) {
		result->problem = CONNECT_SAVE_FAILED;
		e = SL_OK;
		goto out;
	}
	fprintf(stderr, "stripelink: connection %lld has a new secret key (%s)\n", id, hint);
out:
	json_object_put(account);
	json_object_put(ep);
	free(sealed);
	connection_secret_free(old_key);
	arena_free(a);
	return e;
}
