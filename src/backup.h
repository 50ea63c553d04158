/*
 * backup.h - one file that holds everything needed to bring an install
 * back: the database and the key that opens its sealed Stripe secrets.
 *
 * Format (version 1), all written by backup_create():
 *   "STRIPELINK BACKUP 1\n"   20 bytes, the magic and version
 *   key                        CRYPTO_KEY_LEN (32) bytes
 *   database length            8 bytes, big-endian
 *   database                   that many bytes: an SQLite database file
 * The file is created with mode 0600: it holds the key in the clear.
 */
#ifndef STRIPELINK_BACKUP_H
#define STRIPELINK_BACKUP_H

#include <stdbool.h>
#include "err.h"

/* Writes a backup of the configured data directory to path (which must not
 * exist) while the service may be running and taking webhooks: the
 * database is copied with SQLite's online backup API, in steps. Prints
 * what went wrong to stderr. SL_ERR_EXISTS when path exists. */
sl_err backup_create(const char *path);

/* Puts the backup at path back into the configured data directory: the
 * database (checked with SQLite's integrity check before it replaces
 * anything) and the key. The service must be stopped (SL_ERR_BUSY when its
 * socket answers); a data directory that already holds a database is only
 * replaced with force (SL_ERR_EXISTS otherwise). SL_ERR_INVALID for a file
 * that is not a whole backup. Prints what went wrong to stderr. */
sl_err backup_restore(const char *path, bool force);

#endif
