/*
 * test_signature.c - runs Stripe-Signature case files through
 * stripe_sig_verify(), one cmocka test per file.
 *
 *   test_signature DIR...            (or SIGNATURE_CASE_DIRS=DIR:DIR...)
 *
 * Every *.case file in each directory is a test; the format is described
 * in tests/signature/README.md. A directory without cases, or one that
 * cannot be read, fails the run: an empty generator output must not pass.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stripe_sig.h"

enum case_key {
	KEY_SECRET,
	KEY_PREVIOUS_SECRET,
	KEY_NOW,
	KEY_TOLERANCE,
	KEY_HEADER,
	KEY_BODY,
	KEY_BODY_HEX,
	KEY_EXPECT,
	KEY_REASON,
	KEY_CHECK_BUILDER,
	KEY__MAX
};

static const struct {
	const char *name;
	bool repeatable;
} case_keys[] = {
	[KEY_SECRET] = { "secret", true },
	[KEY_PREVIOUS_SECRET] = { "previous_secret", true }, /* appended after "secret" lines in file order */
	[KEY_NOW] = { "now", false },
	[KEY_TOLERANCE] = { "tolerance", false },            /* default 300 */
	[KEY_HEADER] = { "header", false },
	[KEY_BODY] = { "body", false },                      /* one line of text */
	[KEY_BODY_HEX] = { "body_hex", true },               /* concatenated */
	[KEY_EXPECT] = { "expect", false },
	[KEY_REASON] = { "reason", false },
	[KEY_CHECK_BUILDER] = { "check_builder", false },    /* "yes": stripe_sig_header() must rebuild header */
};
_Static_assert(sizeof case_keys / sizeof case_keys[0] == KEY__MAX,
	       "every case key needs a row");

static const struct {
	const char *word;
	sl_err err;
} expectations[] = {
	{ "ok", SL_OK },
	{ "invalid", SL_ERR_INVALID },
	{ "auth", SL_ERR_AUTH },
};

struct sig_case {
	const char *path;            /* borrowed from the test table */
	FILE *file;                  /* open while loading; teardown closes it */
	char *line;                  /* getline() buffer */
	unsigned seen[KEY__MAX];     /* how many lines of each key */
	char **secrets;
	size_t n_secrets;
	long long now;
	long long tolerance;
	char *header;
	unsigned char *body;
	size_t body_len;
	sl_err expect;
	char *reason;
	bool check_builder;
};

static int case_setup(void **state)
{
	struct sig_case *c = calloc(1, sizeof *c);

	if (!c)
		return -1;
	c->path = *state;
	c->tolerance = STRIPE_SIG_DEFAULT_TOLERANCE;
	*state = c;
	return 0;
}

static int case_teardown(void **state)
{
	struct sig_case *c = *state;

	if (c->file)
		fclose(c->file);
	free(c->line);
	for (size_t i = 0; i < c->n_secrets; i++)
		free(c->secrets[i]);
	free(c->secrets);
	free(c->header);
	free(c->body);
	free(c->reason);
	free(c);
	return 0;
}

static char *dup_or_fail(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static long long number_or_fail(const struct sig_case *c, unsigned line,
				const char *value)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno || end == value || *end)
		fail_msg("%s:%u: not a number: \"%s\"", c->path, line, value);
	return v;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Appends the bytes of a hex value (whitespace between digits allowed). */
static void body_hex_append(struct sig_case *c, unsigned line, const char *hex)
{
	size_t cap = c->body_len + strlen(hex) / 2 + 1;
	unsigned char *body = realloc(c->body, cap);
	int high = -1;

	assert_non_null(body);
	c->body = body;
	for (const char *p = hex; *p; p++) {
		int d;

		if (*p == ' ' || *p == '\t')
			continue;
		d = hex_digit(*p);
		if (d < 0)
			fail_msg("%s:%u: not hex: '%c'", c->path, line, *p);
		if (high < 0) {
			high = d;
		} else {
			c->body[c->body_len++] = (unsigned char)(high << 4 | d);
			high = -1;
		}
	}
	if (high >= 0)
		fail_msg("%s:%u: odd number of hex digits", c->path, line);
}

static void secret_add(struct sig_case *c, const char *value)
{
	char **secrets = realloc(c->secrets, (c->n_secrets + 1) * sizeof *secrets);

	assert_non_null(secrets);
	c->secrets = secrets;
	c->secrets[c->n_secrets++] = dup_or_fail(value);
}

static void case_set(struct sig_case *c, unsigned line, enum case_key key,
		     const char *value)
{
	switch (key) {
	case KEY_SECRET:
	case KEY_PREVIOUS_SECRET:
		secret_add(c, value);
		break;
	case KEY_NOW:
		c->now = number_or_fail(c, line, value);
		break;
	case KEY_TOLERANCE:
		c->tolerance = number_or_fail(c, line, value);
		break;
	case KEY_HEADER:
		c->header = dup_or_fail(value);
		break;
	case KEY_BODY:
		c->body_len = strlen(value);
		c->body = (unsigned char *)dup_or_fail(value);
		break;
	case KEY_BODY_HEX:
		body_hex_append(c, line, value);
		break;
	case KEY_EXPECT:
		for (size_t i = 0; i < sizeof expectations / sizeof expectations[0]; i++) {
			if (strcmp(value, expectations[i].word) == 0) {
				c->expect = expectations[i].err;
				return;
			}
		}
		fail_msg("%s:%u: expect must be ok, invalid or auth, not \"%s\"",
			 c->path, line, value);
		break;
	case KEY_REASON:
		c->reason = dup_or_fail(value);
		break;
	case KEY_CHECK_BUILDER:
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			fail_msg("%s:%u: check_builder must be yes or no", c->path, line);
		c->check_builder = strcmp(value, "yes") == 0;
		break;
	case KEY__MAX:
		break;
	}
}

/* Reads the case file into c; any problem with the file fails the test
 * (the file and line buffer stay in c for the teardown to release). */
static void case_load(struct sig_case *c)
{
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	char *line;

	c->file = fopen(c->path, "r");
	if (!c->file)
		fail_msg("%s: %s", c->path, strerror(errno));
	while ((len = getline(&c->line, &cap, c->file)) >= 0) {
		char *colon, *value;
		size_t k;

		line = c->line;
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon)
			fail_msg("%s:%u: expected \"key: value\"", c->path, lineno);
		*colon = '\0';
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		for (k = 0; k < KEY__MAX; k++)
			if (strcmp(line, case_keys[k].name) == 0)
				break;
		if (k == KEY__MAX || (c->seen[k] && !case_keys[k].repeatable))
			fail_msg("%s:%u: %s key \"%s\"", c->path, lineno,
				 k == KEY__MAX ? "unknown" : "repeated",
				 k == KEY__MAX ? line : case_keys[k].name);
		c->seen[k]++;
		case_set(c, lineno, (enum case_key)k, value);
	}
	if (ferror(c->file))
		fail_msg("%s: read error", c->path);
	fclose(c->file);
	c->file = NULL;
	if (c->n_secrets == 0 || !c->seen[KEY_NOW] || !c->seen[KEY_HEADER] ||
	    !c->seen[KEY_EXPECT])
		fail_msg("%s: needs secret, now, header and expect", c->path);
	if (!c->seen[KEY_BODY] == !c->seen[KEY_BODY_HEX])
		fail_msg("%s: needs exactly one of body or body_hex", c->path);
}

/* The t of a header made by stripe_sig_header(): "t=<digits>,...". */
static long long header_timestamp(const struct sig_case *c)
{
	char *end;
	long long t;

	if (strncmp(c->header, "t=", 2) != 0)
		fail_msg("%s: check_builder needs a header starting with t=", c->path);
	t = strtoll(c->header + 2, &end, 10);
	if (*end != ',')
		fail_msg("%s: check_builder needs \"t=<digits>,\"", c->path);
	return t;
}

static void run_case(void **state)
{
	struct sig_case *c = *state;
	const char *reason = NULL;
	sl_err got;

	case_load(c);
	got = stripe_sig_verify(c->header, c->body, c->body_len,
				(const char *const *)c->secrets, c->n_secrets,
				c->now, c->tolerance, &reason);
	assert_non_null(reason);
	if (got != c->expect)
		fail_msg("%s: expected %s, got %s (\"%s\")", c->path,
			 err_name(c->expect), err_name(got), reason);
	if (c->reason && strcmp(c->reason, reason) != 0)
		fail_msg("%s: expected reason \"%s\", got \"%s\"", c->path,
			 c->reason, reason);
	assert_int_equal(stripe_sig_verify(c->header, c->body, c->body_len,
					   (const char *const *)c->secrets,
					   c->n_secrets, c->now, c->tolerance,
					   NULL), got);
	if (c->check_builder) {
		char *built = stripe_sig_header(c->secrets[0], header_timestamp(c),
						c->body, c->body_len);

		assert_non_null(built);
		if (strcmp(built, c->header) != 0) {
			print_error("built: %s\n", built);
			free(built);
			fail_msg("%s: stripe_sig_header() does not rebuild header",
				 c->path);
		}
		free(built);
	}
}

static int is_case_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > strlen(".case") &&
	       strcmp(e->d_name + n - strlen(".case"), ".case") == 0;
}

/* Runs every case of dir as one cmocka group; returns failures, counting
 * an unreadable or empty directory as one. */
static int run_dir(const char *dir)
{
	struct dirent **names = NULL;
	struct CMUnitTest *tests = NULL;
	int n, failed = 1;

	n = scandir(dir, &names, is_case_file, alphasort);
	if (n < 0) {
		fprintf(stderr, "test_signature: cannot read %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "test_signature: no *.case files in %s\n", dir);
		goto out;
	}
	tests = calloc((size_t)n, sizeof *tests);
	if (!tests)
		goto out;
	for (int i = 0; i < n; i++) {
		size_t size = strlen(dir) + 1 + strlen(names[i]->d_name) + 1;
		char *path = malloc(size);

		if (!path)
			goto out;
		snprintf(path, size, "%s/%s", dir, names[i]->d_name);
		tests[i] = (struct CMUnitTest){
			.name = path,
			.test_func = run_case,
			.setup_func = case_setup,
			.teardown_func = case_teardown,
			.initial_state = path,
		};
	}
	failed = _cmocka_run_group_tests(dir, tests, (size_t)n, NULL, NULL);
out:
	for (int i = 0; i < n; i++) {
		if (tests)
			free((char *)tests[i].name);
		free(names[i]);
	}
	free(names);
	free(tests);
	return failed;
}

int main(int argc, char **argv)
{
	char *env_dirs = NULL;
	int failed = 0, dirs = 0;

	for (int i = 1; i < argc; i++, dirs++)
		failed += run_dir(argv[i]);
	if (argc < 2 && getenv("SIGNATURE_CASE_DIRS")) {
		char *save = NULL;

		env_dirs = strdup(getenv("SIGNATURE_CASE_DIRS"));
		if (!env_dirs)
			return 1;
		for (char *d = strtok_r(env_dirs, ":", &save); d;
		     d = strtok_r(NULL, ":", &save), dirs++)
			failed += run_dir(d);
		free(env_dirs);
	}
	if (dirs == 0) {
		fprintf(stderr, "usage: %s CASE_DIR... "
			"(or SIGNATURE_CASE_DIRS=DIR:DIR...)\n", argv[0]);
		return 2;
	}
	return failed ? 1 : 0;
}
