/*
 * fcgi.c - a pool of threads, each with its own FCGX_Request and its own
 * per-thread resources, accepting on one unix socket; see fcgi.h.
 */
#include "fcgi.h"

#include <errno.h>
#include <fcgiapp.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "http.h"

struct pool {
	int listen_fd;
	struct app_shared *shared;
	volatile int stopping;
	/* each thread's request, so a stop can end kept connections: nginx
	 * keeps FastCGI connections open (fastcgi_keep_conn), and a thread
	 * waiting for the next request on one would not see the listening
	 * socket close. Slots are owned by their threads; guarded by lock. */
	pthread_mutex_t lock;
	FCGX_Request **reqs;
	int nreqs;
};

/* Registers a thread's request (slot i) for stop_kept(). */
static void pool_register(struct pool *pool, int i, FCGX_Request *req)
{
	pthread_mutex_lock(&pool->lock);
	pool->reqs[i] = req;
	pthread_mutex_unlock(&pool->lock);
}

/* Ends the reading side of every kept connection: a thread waiting on one
 * sees end of input, closes it and finds the listening socket shut. A
 * thread in the middle of a request has read its whole body already and
 * still writes its answer. */
static void stop_kept(struct pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < pool->nreqs; i++)
		if (pool->reqs[i] && pool->reqs[i]->ipcFd >= 0)
			shutdown(pool->reqs[i]->ipcFd, SHUT_RD);
	pthread_mutex_unlock(&pool->lock);
}

/* A thread keeps buffers of up to this many bytes from one request to the
 * next (a webhook's body, a response's head); larger ones are freed. */
#define KEPT_BUFFER 65536

/* Reads up to limit bytes of body into *keep (the thread's buffer, grown
 * as needed); sets *too_large when more was announced. Returns the body
 * (in *keep; NULL when there is none) and its length. */
static unsigned char *read_body(FCGX_Request *req, struct buf *keep, size_t *len, bool *too_large)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	long long want = cl && *cl ? atoll(cl) : 0;
	*len = 0;
	*too_large = false;
	if (want <= 0)
		return NULL;
	if (want > HTTP_MAX_BODY) {
		*too_large = true;
		return NULL;
	}
	keep->len = 0;
	buf_reserve(keep, (size_t)want);
	unsigned char *body = (unsigned char *)keep->data;
	size_t got = 0;
	while (got < (size_t)want) {
		int n = FCGX_GetStr((char *)body + got, (int)((size_t)want - got), req->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return body;
}

/* Writes a body piece to the FastCGI stream, in pieces that fit an int. */
static sl_err put(void *sink, const void *data, size_t len)
{
	FCGX_Stream *out = sink;
	const char *p = data;
	while (len) {
		int n = len > 65536 ? 65536 : (int)len;
		if (FCGX_PutStr(p, n, out) != n)
			return SL_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return SL_OK;
}

/* Writes the response; head is the thread's buffer for its head. */
static void write_response(FCGX_Request *req, struct buf *head, const struct http_response *resp,
			   bool head_only)
{
	head->len = 0;
	http_response_head(resp, head);
	put(req->out, head->data, head->len);
	if (head_only)
		return;
	sl_err e = resp->stream ? resp->stream(resp->stream_ctx, put, req->out)
				: put(req->out, resp->body.data, resp->body.len);
	if (e)
		fprintf(stderr, "stripelink: response cut short: %s\n", err_name(e));
}

struct thread_arg {
	struct pool *pool;
	int slot;
};

static void *serve_thread(void *p)
{
	struct thread_arg *ta = p;
	struct pool *pool = ta->pool;
	sl_err e;
	pthread_setname_np(pthread_self(), "sl-request");   /* top -H, perf --sort comm */
	struct app_thread *t = app_thread_new(pool->shared, &e);
	if (!t) {
		fprintf(stderr, "stripelink: thread setup failed: %s\n", err_name(e));
		return NULL;
	}
	FCGX_Request req;
	FCGX_InitRequest(&req, pool->listen_fd, 0);
	pool_register(pool, ta->slot, &req);
	struct arena *arena = arena_new();
	struct buf body_buf = BUF_INIT, head_buf = BUF_INIT;   /* kept across requests */
	while (!pool->stopping) {
		if (FCGX_Accept_r(&req) < 0)
			break;
		size_t len;
		bool too_large;
		unsigned char *body = read_body(&req, &body_buf, &len, &too_large);
		struct http_response resp;
		app_serve(t, arena, req.envp, body ? body : (const unsigned char *)"", len,
			  too_large, &resp);
		const char *method = FCGX_GetParam("REQUEST_METHOD", req.envp);
		write_response(&req, &head_buf, &resp, method && strcmp(method, "HEAD") == 0);
		/* the one point where per-request memory is released (a large
		 * body's or head's buffer too; small ones are kept) */
		http_response_free(&resp);
		if (body_buf.cap > KEPT_BUFFER)
			buf_free(&body_buf);
		if (head_buf.cap > KEPT_BUFFER)
			buf_free(&head_buf);
		arena_reset(arena);
		FCGX_Finish_r(&req);
	}
	pool_register(pool, ta->slot, NULL);
	FCGX_Free(&req, 1);
	buf_free(&body_buf);
	buf_free(&head_buf);
	arena_free(arena);
	app_thread_free(t);
	return NULL;
}

/* Lets the web server's worker user reach the socket. */
static void share_socket(const char *path)
{
	struct group *g = getgrnam("www-data");
	if (g && chown(path, (uid_t)-1, g->gr_gid) != 0)
		fprintf(stderr, "stripelink: chown %s: %s\n", path, strerror(errno));
	chmod(path, g ? 0660 : 0600);
}

sl_err fcgi_serve(const char *path, int threads, struct app_shared *shared)
{
	/* a unix socket's path, or host:port (FCGX_OpenSocket's TCP form) */
	bool tcp = strchr(path, '/') == NULL && strchr(path, ':') != NULL;
	if (!tcp)
		unlink(path);
	struct pool pool = {.shared = shared, .lock = PTHREAD_MUTEX_INITIALIZER};
	pool.listen_fd = FCGX_OpenSocket(path, 1024);
	if (pool.listen_fd < 0) {
		fprintf(stderr, "stripelink: cannot listen on %s: %s\n", path, strerror(errno));
		return SL_ERR_IO;
	}
	if (!tcp)
		share_socket(path);

	/* Signals are taken by sigwait below; every thread blocks them.
	 * FCGX_Init installed its own handlers: these masks override them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	struct thread_arg *args = calloc((size_t)threads, sizeof *args);
	pool.reqs = calloc((size_t)threads, sizeof *pool.reqs);
	if (!tids || !args || !pool.reqs) {
		free(tids);
		free(args);
		free(pool.reqs);
		return SL_ERR_NOMEM;
	}
	pool.nreqs = threads;
	int started = 0;
	for (int i = 0; i < threads; i++) {
		args[started] = (struct thread_arg){&pool, started};
		if (pthread_create(&tids[started], NULL, serve_thread, &args[started]) == 0)
			started++;
	}
	fprintf(stderr, "stripelink: serving on %s with %d threads\n", path, started);

	int sig = 0;
	sigwait(&stop, &sig);
	fprintf(stderr, "stripelink: signal %d: finishing requests in flight\n", sig);
	pool.stopping = 1;
	FCGX_ShutdownPending();
	shutdown(pool.listen_fd, SHUT_RDWR);
	stop_kept(&pool);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	free(args);
	free(pool.reqs);
	close(pool.listen_fd);
	if (!tcp)
		unlink(path);
	return SL_OK;
}
