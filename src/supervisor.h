/*
 * supervisor.h - `stripelink run`: prepares the data directory, writes the
 * nginx config, starts nginx and the FastCGI worker (and, where built, the
 * sync worker), restarts a child that dies, and stops them all on SIGINT
 * or SIGTERM.
 */
#ifndef STRIPELINK_SUPERVISOR_H
#define STRIPELINK_SUPERVISOR_H

#include "err.h"

/* Runs until a stop signal; returns SL_OK after a clean stop. self is the
 * path of this executable (used to start the workers). */
sl_err supervisor_run(const char *self);

/* Creates the data directory layout (0700 data, run/ and nginx/ temp
 * directories the web server can use). */
sl_err supervisor_prepare_dirs(void);

#endif
