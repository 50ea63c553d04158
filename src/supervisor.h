/*
 * supervisor.h - `stripelink run`: prepares the data directory, writes the
 * nginx config, starts nginx (unless told not to) and the FastCGI worker (and, where built, the
 * sync worker), restarts a child that dies, and stops them all on SIGINT
 * or SIGTERM. Started as root, the workers run as the service user.
 */
#ifndef STRIPELINK_SUPERVISOR_H
#define STRIPELINK_SUPERVISOR_H

#include <stdbool.h>

#include "err.h"

/* Runs until a stop signal; returns SL_OK after a clean stop. self is the
 * path of this executable (used to start the workers). */
sl_err supervisor_run(const char *self);

/* Creates the data directory layout: 0700, or 0710 with the www-data group
 * where nginx's workers run as another user and need the socket (started
 * as root, or without our own nginx); run/ holds the socket. When
 * fix_modes (`run`), existing directories get these modes and, when
 * started as root, the service user (STRIPELINK_USER) as owner; otherwise
 * only new ones do. Says once when the service user does not exist. */
sl_err supervisor_prepare_dirs(bool fix_modes);

/* Gives the database, its -wal and -shm and the secret key to the service
 * user when started as root and that user exists; otherwise does nothing. */
void supervisor_own_files(void);

/* Makes supervisor_run start no nginx of its own: the system's nginx
 * (running as www-data) serves the site from the socket. Call first. */
void supervisor_without_nginx(void);

#endif
