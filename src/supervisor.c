/*
 * supervisor.c - the small process supervisor; see supervisor.h.
 */
#include "supervisor.h"
#include "store.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

enum child_kind { CHILD_APP, CHILD_SYNC, CHILD_NGINX, CHILD_DELIVER, CHILD__MAX };

struct child {
	const char *name;
	pid_t pid;
	time_t started;
	int restarts;
};

static struct child children[CHILD__MAX] = {
	[CHILD_APP] = {"fastcgi worker", 0, 0, 0},
	[CHILD_SYNC] = {"sync worker", 0, 0, 0},
	[CHILD_NGINX] = {"nginx", 0, 0, 0},
	[CHILD_DELIVER] = {"delivery worker", 0, 0, 0},
};

static volatile sig_atomic_t stop_signal;

/* The service user the workers drop to when the supervisor runs as root
 * (resolved once by supervisor_prepare_dirs; uid 0 = no switch). */
static struct {
	uid_t uid;
	gid_t gid;
	bool resolved;
} service;

/* The group nginx's workers run in; -1 when there is none. */
static gid_t web_group(void)
{
	struct group *g = getgrnam("www-data");
	return g ? g->gr_gid : (gid_t)-1;
}

static bool in_group(gid_t g)
{
	gid_t list[256];
	int n = getgroups(sizeof list / sizeof list[0], list);
	for (int i = 0; i < n; i++)
		if (list[i] == g)
			return true;
	return getegid() == g;
}

static void resolve_service_user(void)
{
	if (service.resolved)
		return;
	service.resolved = true;
	if (geteuid() != 0)
		return;
	const char *name = config_get()->user;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		fprintf(stderr, "stripelink: user \"%s\" does not exist (STRIPELINK_USER); "
				"the workers keep running as root\n", name);
		return;
	}
	service.uid = pw->pw_uid;
	service.gid = pw->pw_gid;
}

/* Gives path to the service user (and group, when not -1), if it exists. */
static void give(const char *path, gid_t group)
{
	if (service.uid == 0 && group == (gid_t)-1)
		return;
	if (chown(path, service.uid ? service.uid : (uid_t)-1, group) != 0 && errno != ENOENT)
		fprintf(stderr, "stripelink: chown %s: %s\n", path, strerror(errno));
}

static void on_stop(int sig)
{
	stop_signal = sig;
}

static bool system_nginx;

void supervisor_without_nginx(void)
{
	system_nginx = true;
}

/* Creates path with mode (*created: it is new); an existing one gets the
 * mode only when fix. */
static sl_err make_dir(const char *path, mode_t mode, bool fix, bool *created)
{
	*created = mkdir(path, mode) == 0;
	if (*created)
		fix = true;
	else if (errno != EEXIST) {
		fprintf(stderr, "stripelink: mkdir %s: %s\n", path, strerror(errno));
		return SL_ERR_IO;
	}
	if (fix && chmod(path, mode) != 0) {
		fprintf(stderr, "stripelink: chmod %s: %s\n", path, strerror(errno));
		return SL_ERR_IO;
	}
	return SL_OK;
}

sl_err supervisor_prepare_dirs(bool fix_modes)
{
	const struct config *c = config_get();
	resolve_service_user();
	/* nginx's workers need to reach the socket when they run as another
	 * user: ours switch to www-data when started as root, the system's
	 * always run as www-data. Everything else stays the owner's. */
	gid_t web = (geteuid() == 0 || system_nginx) ? web_group() : (gid_t)-1;
	if (web != (gid_t)-1 && geteuid() != 0 && !in_group(web)) {
		if (fix_modes)
			fprintf(stderr, "stripelink: not in the www-data group: nginx's workers "
					"cannot reach the socket\n");
		web = (gid_t)-1;
	}
	enum owner { OWNER, WEB, SERVICE, SERVICE_WEB };
	static const struct {
		const char *sub;
		mode_t mode;       /* without a web group */
		mode_t web_mode;   /* with one */
		enum owner owner;  /* OWNER: as created; WEB: www-data; SERVICE(_WEB): the service user (and the web group) */
	} dirs[] = {
		{"", 0700, 0710, SERVICE_WEB},
		/* setgid: the socket the worker creates there gets the web group */
		{"/run", 0700, 02750, SERVICE_WEB},
		{"/logs", 0700, 0700, SERVICE},
		{"/nginx", 0700, 0755, OWNER},
		{"/nginx/client_body", 0700, 0700, WEB},
		{"/nginx/fastcgi", 0700, 0700, WEB},
		{"/nginx/proxy", 0700, 0700, WEB},
		{"/nginx/uwsgi", 0700, 0700, WEB},
		{"/nginx/scgi", 0700, 0700, WEB},
	};
	bool shared = web != (gid_t)-1;
	char path[4096];
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", c->data_dir, dirs[i].sub);
		bool created;
		sl_err e = make_dir(path, shared ? dirs[i].web_mode : dirs[i].mode, fix_modes, &created);
		if (e)
			return e;
		if (!fix_modes && !created)
			continue;
		if (dirs[i].owner == WEB && shared && geteuid() == 0) {
			struct passwd *pw = getpwnam("www-data");
			if (pw && chown(path, pw->pw_uid, pw->pw_gid) != 0)
				fprintf(stderr, "stripelink: chown %s: %s\n", path, strerror(errno));
		} else if (dirs[i].owner == SERVICE || dirs[i].owner == SERVICE_WEB) {
			give(path, dirs[i].owner == SERVICE_WEB ? web : (gid_t)-1);
			chmod(path, shared ? dirs[i].web_mode : dirs[i].mode); /* chown clears setgid */
		}
	}
	return SL_OK;
}

void supervisor_own_files(void)
{
	const struct config *c = config_get();
	resolve_service_user();
	if (service.uid == 0)
		return;
	char path[4096];
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; store_is_file(c->db_path) && i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(path, sizeof path, "%s%s", c->db_path, suffixes[i]);
		give(path, (gid_t)-1);
	}
	give(c->key_path, (gid_t)-1);
}

/* Replaces every @NAME@ of the template with its value. */
static sl_err write_nginx_conf(const char *out_path)
{
	const struct config *c = config_get();
	char tpl_path[4096];
	snprintf(tpl_path, sizeof tpl_path, "%s/nginx/nginx.conf.in", c->root);
	FILE *in = fopen(tpl_path, "r");
	if (!in) {
		fprintf(stderr, "stripelink: cannot read %s: %s\n", tpl_path, strerror(errno));
		return SL_ERR_IO;
	}
	char port[16];
	snprintf(port, sizeof port, "%d", c->port);
	bool root = geteuid() == 0 && getpwnam("www-data");
	/* kept FastCGI connections per nginx worker (two workers): a quarter
	 * of the request threads each, see nginx.conf.in */
	char keepalive[64];
	if (c->threads >= 4)
		snprintf(keepalive, sizeof keepalive, "keepalive %d;", c->threads / 4);
	else
		snprintf(keepalive, sizeof keepalive, "# %d request threads: no kept connections", c->threads);
	const char *vars[][2] = {
		{"@PORT@", port},
		{"@DATA@", c->data_dir},
		{"@ROOT@", c->root},
		{"@SOCKET@", c->socket_path},
		{"@KEEPALIVE@", keepalive},
		{"@USER@", root ? "user www-data www-data;" : "# running unprivileged: no user switch"},
	};
	struct buf out = BUF_INIT;
	char line[4096];
	while (fgets(line, sizeof line, in)) {
		const char *p = line;
		while (*p) {
			size_t i, nvars = sizeof vars / sizeof vars[0];
			for (i = 0; i < nvars; i++)
				if (strncmp(p, vars[i][0], strlen(vars[i][0])) == 0)
					break;
			if (i < nvars) {
				buf_puts(&out, vars[i][1]);
				p += strlen(vars[i][0]);
			} else {
				buf_putc(&out, *p++);
			}
		}
	}
	fclose(in);
	FILE *f = fopen(out_path, "w");
	sl_err e = SL_OK;
	if (!f || fwrite(out.data, 1, out.len, f) != out.len)
		e = SL_ERR_IO;
	if (f && fclose(f) != 0)
		e = SL_ERR_IO;
	buf_free(&out);
	if (e)
		fprintf(stderr, "stripelink: cannot write %s\n", out_path);
	return e;
}

static pid_t spawn(char *const argv[], bool drop)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (drop && service.uid != 0 &&
		    (setgroups(0, NULL) != 0 || setgid(service.gid) != 0 ||
		     setuid(service.uid) != 0 || setuid(0) == 0)) {
			fprintf(stderr, "stripelink: cannot switch to user %s: %s\n",
				config_get()->user, strerror(errno));
			_exit(127);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv(argv[0], argv);
		fprintf(stderr, "stripelink: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static bool sync_worker_built(const char *self, char *path, size_t n)
{
	snprintf(path, n, "%s", self);
	char *slash = strrchr(path, '/');
	if (!slash)
		return false;
	snprintf(slash + 1, n - (size_t)(slash + 1 - path), "stripelink-sync");
	return access(path, X_OK) == 0;
}

static void start(enum child_kind k, const char *self, const char *conf)
{
	const struct config *c = config_get();
	char prefix[4096], sync_path[4096];
	snprintf(prefix, sizeof prefix, "%s/nginx/", c->data_dir);
	switch (k) {
	case CHILD_APP: {
		char *argv[] = {(char *)self, "serve", NULL};
		children[k].pid = spawn(argv, true);
		break;
	}
	case CHILD_SYNC: {
		if (!sync_worker_built(self, sync_path, sizeof sync_path))
			return;
		char *argv[] = {sync_path, NULL};
		children[k].pid = spawn(argv, true);
		break;
	}
	case CHILD_NGINX: {
		char *argv[] = {(char *)c->nginx, "-p", prefix, "-c", (char *)conf,
				"-e", "stderr", NULL};
		children[k].pid = spawn(argv, false);
		break;
	}
	case CHILD_DELIVER: {
		char *argv[] = {(char *)self, "deliver", NULL};
		children[k].pid = spawn(argv, true);   /* parses what receivers answer */
		break;
	}
	case CHILD__MAX:
		return;
	}
	children[k].started = time(NULL);
}

/* Waits (bounded) for the FastCGI socket to appear. */
static void wait_for_socket(void)
{
	struct stat st;
	if (config_get()->fastcgi_tcp)
		return;   /* host:port: nothing on disk to wait for */
	for (int i = 0; i < 100 && stat(config_get()->socket_path, &st) != 0; i++)
		usleep(50 * 1000);
}

sl_err supervisor_run(const char *self)
{
	const struct config *c = config_get();
	char conf[4096];
	snprintf(conf, sizeof conf, "%s/nginx/nginx.conf", c->data_dir);
	if (!system_nginx) {
		sl_err e = write_nginx_conf(conf);
		if (e)
			return e;
	}

	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	start(CHILD_APP, self, conf);
	wait_for_socket();
	start(CHILD_SYNC, self, conf);
	start(CHILD_DELIVER, self, conf);
	if (system_nginx)
		fprintf(stderr, "stripelink: FastCGI on %s for the system's nginx (data in %s)\n",
			c->socket_path, c->data_dir);
	else {
		start(CHILD_NGINX, self, conf);
		fprintf(stderr, "stripelink: listening on http://127.0.0.1:%d (data in %s)\n",
			c->port, c->data_dir);
	}

	while (!stop_signal) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
		}
		for (int k = 0; k < CHILD__MAX && !stop_signal; k++) {
			if (children[k].pid != pid)
				continue;
			children[k].pid = 0;
			fprintf(stderr, "stripelink: %s (pid %d) exited (%s %d); restarting\n",
				children[k].name, (int)pid,
				WIFSIGNALED(status) ? "signal" : "status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			/* back off when it keeps dying at once */
			if (time(NULL) - children[k].started < 2)
				sleep(children[k].restarts < 5 ? 1 : 5);
			children[k].restarts++;
			start((enum child_kind)k, self, conf);
		}
	}

	fprintf(stderr, "stripelink: stopping\n");
	for (int k = 0; k < CHILD__MAX; k++)
		if (children[k].pid > 0)
			kill(children[k].pid, k == CHILD_NGINX ? SIGQUIT : SIGTERM);
	for (int waited = 0; waited < 100; waited++) {
		bool any = false;
		for (int k = 0; k < CHILD__MAX; k++) {
			if (children[k].pid > 0 && waitpid(children[k].pid, NULL, WNOHANG) == children[k].pid)
				children[k].pid = 0;
			any |= children[k].pid > 0;
		}
		if (!any)
			return SL_OK;
		usleep(100 * 1000);
	}
	for (int k = 0; k < CHILD__MAX; k++)
		if (children[k].pid > 0) {
			kill(children[k].pid, SIGKILL);
			waitpid(children[k].pid, NULL, 0);
		}
	return SL_OK;
}
