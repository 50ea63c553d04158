/*
 * config.h - settings read once from the environment at start.
 *
 * Each setting is a row of a table (config.c): its environment variable,
 * its default and what it means. The README's settings table mirrors it.
 */
#ifndef STRIPELINK_CONFIG_H
#define STRIPELINK_CONFIG_H

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
	int catchup_overlap;     /* STRIPELINK_CATCHUP_OVERLAP: seconds a catch-up reaches back before its cursor */
	/* derived paths, owned by the config */
	const char *db_path;     /* <data>/stripelink.db */
	const char *key_path;    /* <data>/secret.key */
	const char *socket_path; /* <data>/run/stripelink.sock */
	const char *setup_token_path; /* <data>/setup-token: unlocks /setup until an admin exists */
};

/* Reads the environment into the process-wide configuration. Returns
 * SL_ERR_INVALID (after printing which variable is wrong to stderr) when a
 * value is out of range. Call once, from main, before any thread starts. */
sl_err config_load(void);

/* The process-wide configuration; valid after config_load(). */
const struct config *config_get(void);

#endif
