/*
 * fcgi.h - the FastCGI loop: the only file that knows libfcgi.
 */
#ifndef STRIPELINK_FCGI_H
#define STRIPELINK_FCGI_H

#include "err.h"

struct app_shared;

/* Listens on the unix socket at path (mode 0660, group of the web server
 * when it exists) and serves requests on `threads` threads until SIGTERM
 * or SIGINT, then lets in-flight requests finish and returns. FCGX_Init
 * must have been called first. */
sl_err fcgi_serve(const char *path, int threads, struct app_shared *shared);

#endif
