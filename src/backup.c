/*
 * backup.c - the backup file: writing it from a live data directory and
 * restoring it; see backup.h for the format.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "store.h"

#define MAGIC "stripelink-bak1\n"
#define MAGIC_LEN 16
#define HEADER_LEN (MAGIC_LEN + 8 + CRYPTO_KEY_LEN + 8)
#define PAGES_PER_STEP 256   /* 1 MiB at 4 KiB pages between pauses */
_Static_assert(sizeof MAGIC - 1 == MAGIC_LEN, "the magic is 16 bytes");

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copies len bytes from in to out. */
static bool copy_bytes(int in, int out, uint64_t len)
{
	static unsigned char chunk[1 << 16];
	while (len) {
		size_t want = len < sizeof chunk ? (size_t)len : sizeof chunk;
		if (!read_all(in, chunk, want) || !write_all(out, chunk, want))
			return false;
		len -= want;
	}
	return true;
}

static void sync_dir_of(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* SL_ERR_INVALID (said) when the store is on PostgreSQL: its own tools
 * back it up. */
static sl_err on_sqlite(const struct config *c)
{
	if (store_is_file(c->db_path))
		return SL_OK;
	fprintf(stderr, "stripelink: the database is on PostgreSQL (STRIPELINK_DATABASE_URL): back it up "
			"with pg_dump and keep %s beside it\n", c->key_path);
	return SL_ERR_INVALID;
}

sl_err backup_write(const char *path)
{
	const struct config *c = config_get();
	if (on_sqlite(c))
		return SL_ERR_INVALID;
	unsigned char header[HEADER_LEN];
	char copy[4096], partial[4096];
	int in = -1, out = -1;
	bool made_copy = false, made_partial = false;
	sl_err e;

	snprintf(copy, sizeof copy, "%s.db-copy", path);
	snprintf(partial, sizeof partial, "%s.partial", path);
	e = crypto_key_read(c->key_path, header + MAGIC_LEN + 8);
	if (e) {
		fprintf(stderr, "stripelink: cannot read the secret key %s: %s\n", c->key_path, err_name(e));
		goto out;
	}
	struct stat st;
	if (stat(c->db_path, &st) != 0) {
		fprintf(stderr, "stripelink: no database at %s\n", c->db_path);
		e = SL_ERR_NOT_FOUND;
		goto out;
	}
	unlink(copy);
	made_copy = true;
	e = store_backup(c->db_path, copy, PAGES_PER_STEP);
	if (e) {
		fprintf(stderr, "stripelink: copying the database failed: %s\n", err_name(e));
		goto out;
	}
	e = SL_ERR_IO;
	in = open(copy, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) != 0) {
		fprintf(stderr, "stripelink: %s: %s\n", copy, strerror(errno));
		goto out;
	}
	unlink(partial);
	out = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		fprintf(stderr, "stripelink: cannot create %s: %s\n", partial, strerror(errno));
		goto out;
	}
	made_partial = true;
	memcpy(header, MAGIC, MAGIC_LEN);
	put_be64(header + MAGIC_LEN, CRYPTO_KEY_LEN);
	put_be64(header + MAGIC_LEN + 8 + CRYPTO_KEY_LEN, (uint64_t)st.st_size);
	if (!write_all(out, header, sizeof header) || !copy_bytes(in, out, (uint64_t)st.st_size) ||
	    fsync(out) != 0) {
		fprintf(stderr, "stripelink: writing %s: %s\n", partial, strerror(errno));
		goto out;
	}
	if (close(out) != 0) {
		out = -1;
		fprintf(stderr, "stripelink: writing %s: %s\n", partial, strerror(errno));
		goto out;
	}
	out = -1;
	if (rename(partial, path) != 0) {
		fprintf(stderr, "stripelink: rename to %s: %s\n", path, strerror(errno));
		goto out;
	}
	made_partial = false;
	sync_dir_of(path);
	e = SL_OK;
out:
	explicit_bzero(header, sizeof header);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (made_partial)
		unlink(partial);
	if (made_copy)
		unlink(copy);
	return e;
}

/* True when something accepts connections on the FastCGI socket. */
static bool service_running(const char *socket_path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof addr.sun_path)
		return false;
	strcpy(addr.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool up = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
	close(fd);
	return up;
}

sl_err backup_restore(const char *path, bool force)
{
	const struct config *c = config_get();
	unsigned char header[HEADER_LEN];
	unsigned char sqlite_magic[16];
	char tmp[4096], side[4096];
	int in = -1, out = -1;
	bool made_tmp = false;
	sl_err e = SL_ERR_INVALID;
	if (on_sqlite(c))
		return SL_ERR_INVALID;
	struct stat st;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) != 0) {
		fprintf(stderr, "stripelink: cannot read %s: %s\n", path, strerror(errno));
		e = SL_ERR_IO;
		goto out;
	}
	if (!read_all(in, header, sizeof header) || memcmp(header, MAGIC, MAGIC_LEN) != 0 ||
	    get_be64(header + MAGIC_LEN) != CRYPTO_KEY_LEN) {
		fprintf(stderr, "stripelink: %s is not a stripelink backup\n", path);
		goto out;
	}
	uint64_t db_len = get_be64(header + MAGIC_LEN + 8 + CRYPTO_KEY_LEN);
	if ((uint64_t)st.st_size < HEADER_LEN || db_len != (uint64_t)st.st_size - HEADER_LEN ||
	    db_len < sizeof sqlite_magic || !read_all(in, sqlite_magic, sizeof sqlite_magic) ||
	    memcmp(sqlite_magic, "SQLite format 3", 16) != 0) {
		fprintf(stderr, "stripelink: %s is incomplete or damaged (%lld bytes, the header says %llu "
				"of database)\n", path, (long long)st.st_size, (unsigned long long)db_len);
		goto out;
	}
	if (service_running(c->socket_path)) {
		fprintf(stderr, "stripelink: the service is running on %s: stop it first "
				"(systemctl stop stripelink)\n", c->socket_path);
		e = SL_ERR_FORBIDDEN;
		goto out;
	}
	if (!force && (access(c->db_path, F_OK) == 0 || access(c->key_path, F_OK) == 0)) {
		fprintf(stderr, "stripelink: %s already has a database or a key; restore --force "
				"replaces them\n", c->data_dir);
		e = SL_ERR_EXISTS;
		goto out;
	}
	e = SL_ERR_IO;
	snprintf(tmp, sizeof tmp, "%s.restore", c->db_path);
	unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		fprintf(stderr, "stripelink: cannot create %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	made_tmp = true;
	if (!write_all(out, sqlite_magic, sizeof sqlite_magic) ||
	    !copy_bytes(in, out, db_len - sizeof sqlite_magic) || fsync(out) != 0) {
		fprintf(stderr, "stripelink: writing %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	close(out);
	out = -1;
	/* the old database's -wal and -shm belong to it, not to the copy */
	snprintf(side, sizeof side, "%s-wal", c->db_path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", c->db_path);
	unlink(side);
	if (rename(tmp, c->db_path) != 0) {
		fprintf(stderr, "stripelink: rename to %s: %s\n", c->db_path, strerror(errno));
		goto out;
	}
	made_tmp = false;
	sync_dir_of(c->db_path);
	e = crypto_key_store(c->key_path, header + MAGIC_LEN + 8);
	if (e)
		fprintf(stderr, "stripelink: cannot write the secret key %s: %s\n", c->key_path, err_name(e));
out:
	explicit_bzero(header, sizeof header);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (made_tmp)
		unlink(tmp);
	return e;
}
