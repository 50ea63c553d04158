/*
 * config.h - settings read once from the environment at start.
 *
 * Each setting is a row of a table (config.c): its environment variable,
 * its default and what it means. The README's settings table mirrors it.
 */
#ifndef STRIPELINK_CONFIG_H
#define STRIPELINK_CONFIG_H

#include <stdbool.h>

#include "err.h"

struct config {
	int port;                /* STRIPELINK_PORT: nginx's TCP port */
	const char *data_dir;    /* STRIPELINK_DATA: database, keys, socket, logs */
	const char *stripe_api;  /* STRIPELINK_STRIPE_API: Stripe API base URL */
	const char *public_url;  /* STRIPELINK_PUBLIC_URL: where Stripe reaches us */
	const char *root;        /* STRIPELINK_ROOT: checkout holding templates/, static/, nginx/ */
	int threads;             /* STRIPELINK_THREADS: FastCGI request threads */
	const char *nginx;       /* STRIPELINK_NGINX: nginx binary */
	int sync_rate_live;      /* STRIPELINK_SYNC_RATE_LIVE: sync requests/s, live keys */
	int sync_rate_test;      /* STRIPELINK_SYNC_RATE_TEST: sync requests/s, test keys */
	int template_reload;     /* STRIPELINK_TEMPLATE_RELOAD: 1 = reload changed templates */
	int sync_windows;        /* STRIPELINK_SYNC_WINDOWS: created-time windows per sync job */
	int catchup_interval;    /* STRIPELINK_CATCHUP_INTERVAL: seconds between catch-ups and endpoint
				    checks; 0: only when asked (Catch up now, a mended endpoint) */
	int webhook_wait;        /* STRIPELINK_WEBHOOK_WAIT: seconds an event naming a customer not linked
				    yet waits for the customer's own event before the sync worker looks it up */
	int charge_wait;         /* STRIPELINK_CHARGE_WAIT: seconds a refund or dispute whose charge is not
				    here yet waits for it (nothing shows it before: its order is missing) */
	int catchup_overlap;     /* STRIPELINK_CATCHUP_OVERLAP: seconds a catch-up reaches back before its cursor */
	const char *trusted_proxies; /* STRIPELINK_TRUSTED_PROXIES: proxies whose X-Forwarded-For is believed */
	int keep_rejected_days;  /* STRIPELINK_KEEP_REJECTED_DAYS: rejected deliveries in the log */
	int keep_log_days;       /* STRIPELINK_KEEP_LOG_DAYS: integration log entries */
	int keep_payload_days;   /* STRIPELINK_KEEP_PAYLOAD_DAYS: stored event payloads (replay) */
	int keep_login_days;     /* STRIPELINK_KEEP_LOGIN_DAYS: login attempt counters */
	int prune_interval;      /* STRIPELINK_PRUNE_INTERVAL: seconds between pruning rounds */
	int outbound_allow_private; /* STRIPELINK_OUTBOUND_ALLOW_PRIVATE: 1 = webhooks may reach private addresses */
	int outbound_allow_http; /* STRIPELINK_OUTBOUND_ALLOW_HTTP: 1 = webhooks may use plain http */
	int outbound_backoff_ms; /* STRIPELINK_OUTBOUND_BACKOFF_MS: first retry delay, doubled each time */
	int outbound_give_up_s;  /* STRIPELINK_OUTBOUND_GIVE_UP_S: retry for this long (3 days) */
	const char *user;        /* STRIPELINK_USER: the service user the workers run as when started as root */
	int roll_grace;          /* STRIPELINK_ROLL_GRACE_SECONDS: old signing secret kept after a roll */
	/* derived paths, owned by the config */
	const char *db_path;     /* <data>/stripelink.db, or STRIPELINK_DATABASE_URL */
	const char *key_path;    /* STRIPELINK_KEY_FILE, or <data>/secret.key */
	const char *socket_path; /* <data>/run/stripelink.sock, or STRIPELINK_FASTCGI_LISTEN (host:port) */
	bool fastcgi_tcp;        /* socket_path is host:port */
	const char *node_id;     /* STRIPELINK_NODE_ID, or host:data dir: who holds a lease */
	int lease_seconds;       /* STRIPELINK_LEASE_SECONDS: a node that dies hands its work over after this */
	int writers;             /* STRIPELINK_WRITERS: writer threads on PostgreSQL (SQLite: one) */
	const char *sync_metrics_path; /* <data>/run/sync.metrics: the sync worker's counters */
	const char *metrics_token; /* STRIPELINK_METRICS_TOKEN: bearer token for /metrics off loopback ("": none) */
};

/* Reads the environment into the process-wide configuration. Returns
 * SL_ERR_INVALID (after printing which variable is wrong to stderr) when a
 * value is out of range. Call once, from main, before any thread starts. */
sl_err config_load(void);

/* The process-wide configuration; valid after config_load(). */
const struct config *config_get(void);

#endif
