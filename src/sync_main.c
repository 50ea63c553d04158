/*
 * sync_main.c - stripelink-sync, the historical-sync worker process. The
 * supervisor (`stripelink run`) starts it beside the FastCGI worker and
 * restarts it if it dies; a running job is resumed from its committed
 * cursors.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "store.h"
#include "stripe.h"
#include "sync.h"
#include "writer.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	if (config_load() != SL_OK)
		return 2;
	const struct config *c = config_get();
	unsigned char key[CRYPTO_KEY_LEN];
	sl_err e = crypto_key_load(c->key_path, key);
	if (e) {
		fprintf(stderr, "stripelink-sync: cannot load %s: %s\n", c->key_path, err_name(e));
		return 1;
	}
	if (stripe_global_init()) {
		fprintf(stderr, "stripelink-sync: libcurl setup failed\n");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct writer *w = writer_start(c->db_path, &e);
	if (!w) {
		fprintf(stderr, "stripelink-sync: cannot open the database: %s\n", err_name(e));
		return 1;
	}
	struct sync_env env = {
		.db_path = c->db_path,
		.stripe_api = c->stripe_api,
		.secret_key = key,
		.writer = w,
		.rate_live = c->sync_rate_live,
		.rate_test = c->sync_rate_test,
		.windows = c->sync_windows,
		.stop = &stop,
	};
	fprintf(stderr, "stripelink-sync: ready (rate %d/s live, %d/s test, %d windows)\n",
		env.rate_live, env.rate_test, env.windows);
	sync_worker_loop(&env, 500);
	writer_stop(w);
	stripe_global_cleanup();
	memset(key, 0, sizeof key);
	return 0;
}
