/*
 * backup.h - `stripelink backup FILE` and `stripelink restore FILE`.
 *
 * A backup is ONE file, mode 0600, holding the secret key that opens the
 * sealed Stripe secrets and a consistent copy of the database:
 *
 *   offset  size  what
 *   0       16    magic "stripelink-bak1\n" (format version 1)
 *   16      8     key length K, unsigned big-endian (32)
 *   24      K     the secret key (the bytes of $STRIPELINK_DATA/secret.key)
 *   24+K    8     database length N, unsigned big-endian
 *   32+K    N     the SQLite database file (rollback-journal mode, no -wal)
 *
 * The file ends exactly there; anything else is refused on restore.
 */
#ifndef STRIPELINK_BACKUP_H
#define STRIPELINK_BACKUP_H

#include <stdbool.h>

#include "err.h"

/* Writes a backup of the configured data directory to path while the
 * service runs: the database through SQLite's online backup API, then the
 * key, assembled in path.partial (0600) and renamed to path. Prints what
 * failed to stderr. */
sl_err backup_write(const char *path);

/* Puts the database and key of the backup at path into the configured
 * data directory. Refuses (SL_ERR_FORBIDDEN, said on stderr) while the
 * service answers on its socket, and (SL_ERR_EXISTS) when the directory
 * already has a database or a key, unless force. SL_ERR_INVALID for a file
 * that is not a complete backup. */
sl_err backup_restore(const char *path, bool force);

#endif
