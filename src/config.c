/*
 * config.c - settings from the environment; see config.h.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

enum setting {
	SET_PORT,
	SET_DATA,
	SET_STRIPE_API,
	SET_PUBLIC_URL,
	SET_ROOT,
	SET_THREADS,
	SET_NGINX,
	SET_SYNC_RATE_LIVE,
	SET_SYNC_RATE_TEST,
	SET_TEMPLATE_RELOAD,
	SET_SYNC_WINDOWS,
	SET_CATCHUP_INTERVAL,
	SET_CATCHUP_OVERLAP,
	SET_TRUSTED_PROXIES,
	SET_KEEP_REJECTED_DAYS,
	SET_KEEP_LOG_DAYS,
	SET_KEEP_PAYLOAD_DAYS,
	SET_KEEP_LOGIN_DAYS,
	SET_PRUNE_INTERVAL,
	SET_METRICS_TOKEN,
	SET_OUTBOUND_ALLOW_PRIVATE,
	SET_OUTBOUND_ALLOW_HTTP,
	SET_OUTBOUND_BACKOFF_MS,
	SET_OUTBOUND_GIVE_UP_S,
	SET_USER,
	SET_ROLL_GRACE,
	SET_WEBHOOK_WAIT,
	SET_DATABASE_URL,
	SET_NODE_ID,
	SET_KEY_FILE,
	SET_FASTCGI_LISTEN,
	SET_LEASE,
	SET_WRITERS,
	SET_CHARGE_WAIT,
	SET__MAX
};

struct setting_row {
	const char *env;
	const char *fallback;  /* NULL: computed (see config_load) */
	int min, max;          /* for integers; 0,0 for strings */
};

static const struct setting_row settings[] = {
	[SET_PORT] = {"STRIPELINK_PORT", "8080", 1, 65535},
	[SET_DATA] = {"STRIPELINK_DATA", "./var", 0, 0},
	[SET_STRIPE_API] = {"STRIPELINK_STRIPE_API", "https://api.stripe.com", 0, 0},
	[SET_PUBLIC_URL] = {"STRIPELINK_PUBLIC_URL", NULL, 0, 0},
	[SET_ROOT] = {"STRIPELINK_ROOT", NULL, 0, 0},   /* default: the checkout holding cgi-bin/ */
	[SET_THREADS] = {"STRIPELINK_THREADS", "16", 1, 256},
	[SET_NGINX] = {"STRIPELINK_NGINX", "/usr/sbin/nginx", 0, 0},
	[SET_SYNC_RATE_LIVE] = {"STRIPELINK_SYNC_RATE_LIVE", "20", 0, 100000},
	[SET_SYNC_RATE_TEST] = {"STRIPELINK_SYNC_RATE_TEST", "10", 0, 100000},
	[SET_TEMPLATE_RELOAD] = {"STRIPELINK_TEMPLATE_RELOAD", "0", 0, 1},
	[SET_SYNC_WINDOWS] = {"STRIPELINK_SYNC_WINDOWS", "4", 1, 16},
	[SET_CATCHUP_INTERVAL] = {"STRIPELINK_CATCHUP_INTERVAL", "600", 0, 86400},
	[SET_CATCHUP_OVERLAP] = {"STRIPELINK_CATCHUP_OVERLAP", "600", 0, 86400},
	[SET_TRUSTED_PROXIES] = {"STRIPELINK_TRUSTED_PROXIES", "", 0, 0},
	[SET_KEEP_REJECTED_DAYS] = {"STRIPELINK_KEEP_REJECTED_DAYS", "30", 1, 36500},
	[SET_KEEP_LOG_DAYS] = {"STRIPELINK_KEEP_LOG_DAYS", "90", 1, 36500},
	[SET_KEEP_PAYLOAD_DAYS] = {"STRIPELINK_KEEP_PAYLOAD_DAYS", "30", 1, 36500},
	[SET_KEEP_LOGIN_DAYS] = {"STRIPELINK_KEEP_LOGIN_DAYS", "7", 1, 36500},
	[SET_PRUNE_INTERVAL] = {"STRIPELINK_PRUNE_INTERVAL", "3600", 1, 86400},
	[SET_METRICS_TOKEN] = {"STRIPELINK_METRICS_TOKEN", "", 0, 0},
	[SET_OUTBOUND_ALLOW_PRIVATE] = {"STRIPELINK_OUTBOUND_ALLOW_PRIVATE", "0", 0, 1},
	[SET_OUTBOUND_ALLOW_HTTP] = {"STRIPELINK_OUTBOUND_ALLOW_HTTP", "0", 0, 1},
	[SET_OUTBOUND_BACKOFF_MS] = {"STRIPELINK_OUTBOUND_BACKOFF_MS", "30000", 10, 3600000},
	[SET_OUTBOUND_GIVE_UP_S] = {"STRIPELINK_OUTBOUND_GIVE_UP_S", "259200", 1, 2592000},
	[SET_USER] = {"STRIPELINK_USER", "stripelink", 0, 0},  /* workers drop to it when started as root */
	[SET_ROLL_GRACE] = {"STRIPELINK_ROLL_GRACE_SECONDS", "300", 0, 86400},
	[SET_WEBHOOK_WAIT] = {"STRIPELINK_WEBHOOK_WAIT", "10", 0, 86400},
	[SET_DATABASE_URL] = {"STRIPELINK_DATABASE_URL", "", 0, 0},   /* postgresql://…: the store on PostgreSQL */
	[SET_NODE_ID] = {"STRIPELINK_NODE_ID", NULL, 0, 0},   /* default: host name and data directory */
	[SET_KEY_FILE] = {"STRIPELINK_KEY_FILE", NULL, 0, 0},   /* default: <data>/secret.key; nodes share one */
	[SET_FASTCGI_LISTEN] = {"STRIPELINK_FASTCGI_LISTEN", NULL, 0, 0},   /* host:port instead of the socket */
	[SET_LEASE] = {"STRIPELINK_LEASE_SECONDS", "30", 2, 3600},   /* sync windows, catch-ups, deliveries */
	[SET_WRITERS] = {"STRIPELINK_WRITERS", "4", 1, 32},   /* PostgreSQL: writer threads per node */
	/* a refund or dispute before its charge: Stripe retries a delivery for 3 days */
	[SET_CHARGE_WAIT] = {"STRIPELINK_CHARGE_WAIT", "259200", 0, 2592000},
};
_Static_assert(sizeof settings / sizeof settings[0] == SET__MAX,
	       "every setting needs a row");

static struct config cfg;

static const char *raw(enum setting s)
{
	const char *v = getenv(settings[s].env);
	return v && *v ? v : settings[s].fallback;
}

static sl_err integer(enum setting s, int *out)
{
	const char *v = raw(s);
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || end == v || n < settings[s].min || n > settings[s].max) {
		fprintf(stderr, "stripelink: %s=%s is not a number from %d to %d\n",
			settings[s].env, v, settings[s].min, settings[s].max);
		return SL_ERR_INVALID;
	}
	*out = (int)n;
	return SL_OK;
}

/* Returns an absolute, malloc'd copy of path (kept for the process). */
static const char *absolute(const char *path)
{
	char *full;
	if (path[0] == '/') {
		full = strdup(path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			return strdup(path);
		size_t n = strlen(cwd) + strlen(path) + 2;
		full = malloc(n);
		if (full)
			snprintf(full, n, "%s/%s", cwd, strncmp(path, "./", 2) ? path : path + 2);
	}
	size_t len = full ? strlen(full) : 0;
	while (len > 1 && full[len - 1] == '/')
		full[--len] = '\0';
	return full;
}

static const char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* The directory above the one holding this executable (cgi-bin/..). */
static const char *checkout_of_executable(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return absolute(".");
	exe[n] = '\0';
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
	}
	return strdup(exe[0] ? exe : "/");
}

sl_err config_load(void)
{
	sl_err e;
	if ((e = integer(SET_PORT, &cfg.port)) ||
	    (e = integer(SET_THREADS, &cfg.threads)) ||
	    (e = integer(SET_LEASE, &cfg.lease_seconds)) ||
	    (e = integer(SET_WRITERS, &cfg.writers)) ||
	    (e = integer(SET_SYNC_RATE_LIVE, &cfg.sync_rate_live)) ||
	    (e = integer(SET_SYNC_RATE_TEST, &cfg.sync_rate_test)) ||
	    (e = integer(SET_TEMPLATE_RELOAD, &cfg.template_reload)) ||
	    (e = integer(SET_SYNC_WINDOWS, &cfg.sync_windows)) ||
	    (e = integer(SET_CATCHUP_INTERVAL, &cfg.catchup_interval)) ||
	    (e = integer(SET_CATCHUP_OVERLAP, &cfg.catchup_overlap)) ||
	    (e = integer(SET_KEEP_REJECTED_DAYS, &cfg.keep_rejected_days)) ||
	    (e = integer(SET_KEEP_LOG_DAYS, &cfg.keep_log_days)) ||
	    (e = integer(SET_KEEP_PAYLOAD_DAYS, &cfg.keep_payload_days)) ||
	    (e = integer(SET_KEEP_LOGIN_DAYS, &cfg.keep_login_days)) ||
	    (e = integer(SET_PRUNE_INTERVAL, &cfg.prune_interval)) ||
	    (e = integer(SET_OUTBOUND_ALLOW_PRIVATE, &cfg.outbound_allow_private)) ||
	    (e = integer(SET_OUTBOUND_ALLOW_HTTP, &cfg.outbound_allow_http)) ||
	    (e = integer(SET_OUTBOUND_BACKOFF_MS, &cfg.outbound_backoff_ms)) ||
	    (e = integer(SET_OUTBOUND_GIVE_UP_S, &cfg.outbound_give_up_s)) ||
	    (e = integer(SET_ROLL_GRACE, &cfg.roll_grace)) ||
	    (e = integer(SET_WEBHOOK_WAIT, &cfg.webhook_wait)) ||
	    (e = integer(SET_CHARGE_WAIT, &cfg.charge_wait)))
		return e;
	cfg.data_dir = absolute(raw(SET_DATA));
	const char *root = raw(SET_ROOT);
	cfg.root = root ? absolute(root) : checkout_of_executable();
	cfg.stripe_api = raw(SET_STRIPE_API);
	cfg.nginx = raw(SET_NGINX);
	cfg.trusted_proxies = raw(SET_TRUSTED_PROXIES);
	if (!http_addr_list_valid(cfg.trusted_proxies)) {
		fprintf(stderr, "stripelink: STRIPELINK_TRUSTED_PROXIES=%s: give comma-separated "
				"IP addresses or CIDR blocks\n", cfg.trusted_proxies);
		return SL_ERR_INVALID;
	}
	cfg.user = raw(SET_USER);
	const char *pub = raw(SET_PUBLIC_URL);
	if (pub) {
		cfg.public_url = pub;
	} else {
		char *p = malloc(40);
		if (p)
			snprintf(p, 40, "http://127.0.0.1:%d", cfg.port);
		cfg.public_url = p;
	}
	if (strncmp(cfg.stripe_api, "http://", 7) && strncmp(cfg.stripe_api, "https://", 8)) {
		fprintf(stderr, "stripelink: STRIPELINK_STRIPE_API must be an http(s) URL\n");
		return SL_ERR_INVALID;
	}
	/* a postgresql:// URL puts the store on PostgreSQL; unset, the SQLite
	 * file in the data directory */
	const char *url = raw(SET_DATABASE_URL);
	if (url && *url && strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11)) {
		fprintf(stderr, "stripelink: STRIPELINK_DATABASE_URL must be a postgresql:// URL\n");
		return SL_ERR_INVALID;
	}
	cfg.db_path = url && *url ? url : join(cfg.data_dir, "stripelink.db");
	const char *key_file = raw(SET_KEY_FILE);
	cfg.key_path = key_file ? key_file : join(cfg.data_dir, "secret.key");
	const char *listen = raw(SET_FASTCGI_LISTEN);
	cfg.fastcgi_tcp = listen != NULL;
	cfg.socket_path = listen ? listen : join(cfg.data_dir, "run/stripelink.sock");
	/* who holds a lease: unique per node, the same across its restarts */
	const char *node = raw(SET_NODE_ID);
	if (!node) {
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		size_t n = strlen(host) + strlen(cfg.data_dir) + 2;
		char *p = malloc(n);
		if (p)
			snprintf(p, n, "%s:%s", host, cfg.data_dir);
		node = p;
	}
	cfg.node_id = node;
	cfg.sync_metrics_path = join(cfg.data_dir, "run/sync.metrics");
	cfg.metrics_token = raw(SET_METRICS_TOKEN);
	if (!cfg.data_dir || !cfg.root || !cfg.public_url || !cfg.db_path ||
	    !cfg.key_path || !cfg.socket_path || !cfg.sync_metrics_path)
		return SL_ERR_NOMEM;
	return SL_OK;
}

const struct config *config_get(void)
{
	return &cfg;
}
