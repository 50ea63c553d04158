/*
 * backup.c - backup files of the database and its key; see backup.h.
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

static const char magic[] = "STRIPELINK BACKUP 1\n";
#define MAGIC_LEN (sizeof magic - 1)
#define PAGES_PER_STEP 256   /* 1 MiB of 4 KiB pages between pauses */

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
		size_t n = len < sizeof chunk ? (size_t)len : sizeof chunk;
		if (!read_all(in, chunk, n) || !write_all(out, chunk, n))
			return false;
		len -= n;
	}
	return true;
}

/* path + suffix, malloc'd. */
static char *with_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s", path, suffix);
	return p;
}

sl_err backup_create(const char *path)
{
	const struct config *c = config_get();
	unsigned char key[CRYPTO_KEY_LEN];
	char *copy = with_suffix(path, ".db-copy");
	int out = -1, in = -1;
	sl_err e = copy ? SL_OK : SL_ERR_NOMEM;
	if (e)
		goto out;
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "stripelink: %s already exists; choose a new file name\n", path);
		e = SL_ERR_EXISTS;
		goto out;
	}
	if ((e = crypto_key_load(c->key_path, key))) {
		fprintf(stderr, "stripelink: cannot read the key %s: %s\n", c->key_path, err_name(e));
		goto out;
	}
	remove(copy);
	mode_t old = umask(077);
	e = store_backup(c->db_path, copy, PAGES_PER_STEP);
	umask(old);
	if (e) {
		fprintf(stderr, "stripelink: copying %s failed: %s\n", c->db_path, err_name(e));
		goto out;
	}
	struct stat st;
	e = SL_ERR_IO;
	in = open(copy, O_RDONLY | O_CLOEXEC);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (in < 0 || out < 0 || fstat(in, &st) != 0) {
		fprintf(stderr, "stripelink: cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	unsigned char len[8];
	uint64_t size = (uint64_t)st.st_size;
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(size >> (56 - 8 * i));
	if (!write_all(out, magic, MAGIC_LEN) || !write_all(out, key, sizeof key) ||
	    !write_all(out, len, sizeof len) || !copy_bytes(in, out, size) || fsync(out) != 0) {
		fprintf(stderr, "stripelink: writing %s failed: %s\n", path, strerror(errno));
		unlink(path);
		goto out;
	}
	e = SL_OK;
out:
	crypto_wipe(key, sizeof key);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (copy)
		remove(copy);
	free(copy);
	return e;
}

/* True when something answers on the service's FastCGI socket. */
static bool service_running(const char *socket_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof sa.sun_path)
		return false;
	strcpy(sa.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool up = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return up;
}

sl_err backup_restore(const char *path, bool force)
{
	const struct config *c = config_get();
	unsigned char key[CRYPTO_KEY_LEN];
	char head[MAGIC_LEN];
	unsigned char len[8];
	char *tmp = with_suffix(c->db_path, ".restoring");
	char *wal = with_suffix(c->db_path, "-wal");
	char *shm = with_suffix(c->db_path, "-shm");
	int in = -1, out = -1;
	sl_err e = tmp && wal && shm ? SL_OK : SL_ERR_NOMEM;
	if (e)
		goto out;
	if (service_running(c->socket_path)) {
		fprintf(stderr, "stripelink: the service is running on %s; stop it first "
				"(systemctl stop stripelink)\n", c->socket_path);
		e = SL_ERR_BUSY;
		goto out;
	}
	if (access(c->db_path, F_OK) == 0 && !force) {
		fprintf(stderr, "stripelink: %s already holds a database; restore with --force "
				"to replace it\n", c->data_dir);
		e = SL_ERR_EXISTS;
		goto out;
	}
	e = SL_ERR_INVALID;
	in = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) != 0) {
		fprintf(stderr, "stripelink: cannot read %s: %s\n", path, strerror(errno));
		e = SL_ERR_IO;
		goto out;
	}
	uint64_t size = 0;
	if (!read_all(in, head, sizeof head) || memcmp(head, magic, MAGIC_LEN) != 0 ||
	    !read_all(in, key, sizeof key) || !read_all(in, len, sizeof len)) {
		fprintf(stderr, "stripelink: %s is not a stripelink backup\n", path);
		goto out;
	}
	for (int i = 0; i < 8; i++)
		size = size << 8 | len[i];
	if ((uint64_t)st.st_size != MAGIC_LEN + sizeof key + sizeof len + size) {
		fprintf(stderr, "stripelink: %s is incomplete or has extra bytes\n", path);
		goto out;
	}
	remove(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || !copy_bytes(in, out, size) || fsync(out) != 0) {
		fprintf(stderr, "stripelink: cannot write %s: %s\n", tmp, strerror(errno));
		e = SL_ERR_IO;
		goto out;
	}
	close(out);
	out = -1;
	if (store_verify(tmp)) {
		fprintf(stderr, "stripelink: the database in %s fails SQLite's integrity check\n", path);
		goto out;
	}
	if ((e = crypto_key_store(c->key_path, key))) {
		fprintf(stderr, "stripelink: cannot write the key %s\n", c->key_path);
		goto out;
	}
	remove(wal);
	remove(shm);
	if (rename(tmp, c->db_path) != 0) {
		fprintf(stderr, "stripelink: cannot put the database in place: %s\n", strerror(errno));
		e = SL_ERR_IO;
		goto out;
	}
	e = SL_OK;
out:
	crypto_wipe(key, sizeof key);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (tmp)
		remove(tmp);
	free(tmp);
	free(wal);
	free(shm);
	return e;
}
