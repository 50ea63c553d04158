/*
 * main.c - the stripelink command: `run` (supervisor, the default),
 * `serve` (the FastCGI worker), `deliver` (the webhook delivery worker),
 * `add-admin`, `migrate`, `backup` and `restore`.
 */
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "backup.h"
#include "config.h"
#include "crypto.h"
#include "deliver.h"
#include "event_cache.h"
#include "fcgi.h"
#include "retention.h"
#include "store.h"
#include "stripe.h"
#include "supervisor.h"
#include "view.h"
#include "writer.h"

/* Opens the database, applies migrations, closes it. */
static sl_err migrate(void)
{
	sl_err e;
	struct store *db = store_open(config_get()->db_path, &e);
	if (!db)
		return e;
	e = store_migrate(db);
	store_close(db);
	return e;
}

static int cmd_migrate(int argc, char **argv, const char *self)
{
	(void)argc, (void)argv, (void)self;
	sl_err e = supervisor_prepare_dirs(false);
	if (!e)
		e = migrate();
	if (e)
		fprintf(stderr, "stripelink: migrate failed: %s\n", err_name(e));
	return e ? 1 : 0;
}

/* Until an admin exists, /setup wants a one-time token: written to
 * <data>/setup-token and printed (with the setup URL) on stderr, which is
 * the console or the journal. */
static sl_err setup_token_announce(void)
{
	sl_err e;
	struct store *db = store_open(config_get()->db_path, &e);
	if (!db)
		return e;
	long long admins = 0;
	e = store_user_count(db, &admins);
	if (!e && admins > 0)
		e = store_setup_tokens_clear(db);
	if (e || admins > 0) {
		store_close(db);
		if (!e)
			auth_setup_token_remove();   /* a stale one from an earlier start */
		return e;
	}
	char token[2 * AUTH_SETUP_TOKEN_BYTES + 1];
	if (!(e = auth_setup_token_create(token)))
		e = auth_setup_token_share(db, token, (long long)time(NULL));   /* any node accepts it */
	store_close(db);
	if (e)
		return e;
	const char *url = config_get()->public_url;
	int url_len = (int)strlen(url);
	while (url_len > 0 && url[url_len - 1] == '/')
		url_len--;
	fprintf(stderr, "stripelink: no admin yet. Create it at %.*s/setup?token=%s\n"
			"stripelink: (the token is also in %s; or run: stripelink add-admin USERNAME)\n",
		url_len, url, token, auth_setup_token_path());
	return SL_OK;
}

/* run [--no-nginx]: without nginx of its own (also STRIPELINK_NGINX=off),
 * the system's nginx serves the site from the socket. */
static int cmd_run(int argc, char **argv, const char *self)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--no-nginx") != 0) {
			fprintf(stderr, "usage: stripelink run [--no-nginx]\n");
			return 2;
		}
		supervisor_without_nginx();
	}
	if (strcmp(config_get()->nginx, "off") == 0)
		supervisor_without_nginx();
	unsigned char key[CRYPTO_KEY_LEN];
	sl_err e = supervisor_prepare_dirs(true);
	if (!e)
		e = migrate();
	if (!e)
		e = setup_token_announce();
	if (!e)
		e = crypto_key_load(config_get()->key_path, key);
	explicit_bzero(key, sizeof key);
	if (!e)
		supervisor_own_files();
	if (!e)
		e = supervisor_run(self);
	if (e)
		fprintf(stderr, "stripelink: run failed: %s\n", err_name(e));
	return e ? 1 : 0;
}

static int cmd_serve(int argc, char **argv, const char *self)
{
	(void)argc, (void)argv, (void)self;
	/* no fastbins: a webhook's parse frees some 700 small blocks, and each
	 * larger allocation after that (libfcgi's stream buffers, SQLite's
	 * pages) first merged all of them back (malloc_consolidate); freed
	 * blocks now merge as they are freed, once */
	mallopt(M_MXFAST, 0);
	const struct config *c = config_get();
	struct app_shared shared;
	sl_err e = crypto_key_load(c->key_path, shared.secret_key);
	if (e) {
		fprintf(stderr, "stripelink: cannot load %s: %s\n", c->key_path, err_name(e));
		return 1;
	}
	if ((e = stripe_global_init())) {
		fprintf(stderr, "stripelink: libcurl setup failed\n");
		return 1;
	}
	char templates[4096];
	snprintf(templates, sizeof templates, "%s/templates/", c->root);
	view_init(templates, c->template_reload != 0);
	shared.writer = writer_start_n(c->db_path, c->writers, &e);
	if (!shared.writer) {
		fprintf(stderr, "stripelink: cannot open the database: %s\n", err_name(e));
		return 1;
	}
	struct retention *retention = retention_start(shared.writer, &e);
	if (!retention)
		fprintf(stderr, "stripelink: retention thread: %s (old rows are kept)\n", err_name(e));
	e = fcgi_serve(c->socket_path, c->threads, &shared);
	retention_stop(retention);
	writer_stop(shared.writer);
	event_cache_clear();
	stripe_global_cleanup();
	return e ? 1 : 0;
}

/* Adds an admin; the password is read from STRIPELINK_ADMIN_PASSWORD or
 * from the first line of standard input. */
static int cmd_add_admin(int argc, char **argv, const char *self)
{
	(void)self;
	if (argc < 3) {
		fprintf(stderr, "usage: stripelink add-admin USERNAME  (password on stdin "
				"or in STRIPELINK_ADMIN_PASSWORD)\n");
		return 2;
	}
	const char *username = argv[2];
	char line[1100];
	const char *password = getenv("STRIPELINK_ADMIN_PASSWORD");
	if (!password) {
		if (!fgets(line, sizeof line, stdin)) {
			fprintf(stderr, "stripelink: no password given on standard input\n");
			return 2;
		}
		line[strcspn(line, "\r\n")] = '\0';
		password = line;
	}
	const char *problem = auth_check_credentials(username, password);
	if (problem) {
		fprintf(stderr, "stripelink: %s\n", problem);
		return 2;
	}
	sl_err e = supervisor_prepare_dirs(false);
	if (!e)
		e = migrate();
	struct store *db = e ? NULL : store_open(config_get()->db_path, &e);
	if (db)
		e = auth_admin_create_direct(db, username, password, (long long)time(NULL));
	store_close(db);
	if (e == SL_ERR_EXISTS)
		fprintf(stderr, "stripelink: an admin named \"%s\" already exists\n", username);
	else if (e)
		fprintf(stderr, "stripelink: add-admin failed: %s\n", err_name(e));
	else {
		auth_setup_token_remove();   /* the web setup is no longer needed */
		printf("admin \"%s\" created\n", username);
	}
	return e ? 1 : 0;
}

static volatile sig_atomic_t deliver_stop;

static void on_deliver_stop(int sig)
{
	(void)sig;
	deliver_stop = 1;
}

/* The outbox's delivery worker (deliver.h), a child of `run`. */
static int cmd_deliver(int argc, char **argv, const char *self)
{
	(void)argc, (void)argv, (void)self;
	const struct config *c = config_get();
	unsigned char key[CRYPTO_KEY_LEN];
	sl_err e = crypto_key_load(c->key_path, key);
	if (e) {
		fprintf(stderr, "stripelink-deliver: cannot load %s: %s\n", c->key_path, err_name(e));
		return 1;
	}
	if (stripe_global_init()) {
		fprintf(stderr, "stripelink-deliver: libcurl setup failed\n");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_deliver_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* webhooks are asynchronous: under load, the CPU goes to answering
	 * Stripe first and the backlog drains when there is room */
	if (setpriority(PRIO_PROCESS, 0, 10) != 0)
		perror("stripelink-deliver: setpriority");
	struct store *db = store_open(c->db_path, &e);
	if (!db) {
		fprintf(stderr, "stripelink-deliver: cannot open the database: %s\n", err_name(e));
		return 1;
	}
	deliver_loop(db, key, &deliver_stop, 100);
	store_close(db);
	stripe_global_cleanup();
	memset(key, 0, sizeof key);
	return 0;
}

/* backup FILE: the database and the secret key, while the service runs. */
static int cmd_backup(int argc, char **argv, const char *self)
{
	(void)self;
	if (argc != 3) {
		fprintf(stderr, "usage: stripelink backup FILE\n");
		return 2;
	}
	sl_err e = backup_write(argv[2]);
	if (!e)
		printf("backup written to %s\n", argv[2]);
	return e ? 1 : 0;
}

/* restore [--force] FILE: puts a backup back, the service stopped. */
static int cmd_restore(int argc, char **argv, const char *self)
{
	(void)self;
	bool force = argc == 4 && strcmp(argv[2], "--force") == 0;
	if (argc != 3 + force) {
		fprintf(stderr, "usage: stripelink restore [--force] FILE\n");
		return 2;
	}
	sl_err e = supervisor_prepare_dirs(false);
	if (!e)
		e = backup_restore(argv[argc - 1], force);
	if (!e)
		e = migrate();
	if (!e)
		supervisor_own_files();
	if (e)
		fprintf(stderr, "stripelink: restore failed: %s\n", err_name(e));
	else
		printf("restored %s into %s\n", argv[argc - 1], config_get()->data_dir);
	return e ? 1 : 0;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, const char *self);
	const char *help;
} commands[] = {
	{"run", cmd_run, "start nginx, the FastCGI worker and the sync worker (default); --no-nginx: no nginx"},
	{"serve", cmd_serve, "the FastCGI worker alone (started by run)"},
	{"add-admin", cmd_add_admin, "add an admin: add-admin USERNAME, password on stdin"},
	{"deliver", cmd_deliver, "the webhook delivery worker alone (started by run)"},
	{"migrate", cmd_migrate, "create or migrate the database and exit"},
	{"backup", cmd_backup, "backup FILE: database and secret key in one 0600 file, while running"},
	{"restore", cmd_restore, "restore [--force] FILE: put a backup back (service stopped)"},
};

int main(int argc, char **argv)
{
	umask(077); /* the data are the owner's; shared paths get their modes explicitly */
	if (FCGX_Init() != 0) {
		fprintf(stderr, "stripelink: FCGX_Init failed\n");
		return 1;
	}
	if (config_load() != SL_OK)
		return 2;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		fprintf(stderr, "stripelink: cannot find my own executable\n");
		return 1;
	}
	self[n] = '\0';
	const char *name = argc > 1 ? argv[1] : "run";
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc, argv, self);
	fprintf(stderr, "usage: stripelink COMMAND\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(stderr, "  %-10s %s\n", commands[i].name, commands[i].help);
	return 2;
}
