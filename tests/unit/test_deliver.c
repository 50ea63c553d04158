/*
 * test_deliver.c - unit tests for the outbound webhook rules: the SSRF
 * guard's address table (IPv4, IPv6, mapped forms, the allow-private
 * switch), the URL text check, the Stripe-style signature, the backoff
 * schedule and which answers are retried. Cases are tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "automation.h"
#include "config.h"
#include "deliver.h"

static const struct {
	const char *addr;
	bool allowed;   /* with private targets not allowed */
} addresses[] = {
	{"127.0.0.1", false},
	{"127.255.255.254", false},
	{"10.0.0.1", false},
	{"10.255.255.255", false},
	{"172.16.0.1", false},
	{"172.31.255.255", false},
	{"172.32.0.1", true},
	{"172.15.255.255", true},
	{"192.168.0.1", false},
	{"192.169.0.1", true},
	{"169.254.169.254", false},
	{"169.254.1.1", false},
	{"0.0.0.0", false},
	{"100.64.0.1", false},
	{"224.0.0.1", false},
	{"255.255.255.255", false},
	{"8.8.8.8", true},
	{"93.184.216.34", true},
	{"::1", false},
	{"::", false},
	{"fc00::1", false},
	{"fdff:ffff::1", false},
	{"fe80::1", false},
	{"febf::1", false},
	{"fec0::1", true},
	{"ff02::1", false},
	{"::ffff:127.0.0.1", false},
	{"::ffff:169.254.169.254", false},
	{"::ffff:10.1.2.3", false},
	{"::ffff:8.8.8.8", true},
	{"2001:4860:4860::8888", true},
};

static void test_guard_addresses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		bool got, got_allowing;
		bool no = false, yes = true;
		if (strchr(addresses[i].addr, ':')) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, addresses[i].addr, &s6->sin6_addr), 1);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, addresses[i].addr, &s4->sin_addr), 1);
		}
		got = deliver_sockaddr_allowed((struct sockaddr *)&ss, &no);
		got_allowing = deliver_sockaddr_allowed((struct sockaddr *)&ss, &yes);
		if (got != addresses[i].allowed)
			fail_msg("%s: allowed=%d, want %d", addresses[i].addr, got, addresses[i].allowed);
		assert_true(got_allowing);
	}
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	bool no = false;
	assert_false(deliver_sockaddr_allowed(&unix_sa, &no));
}

static const struct {
	const char *url;
	bool allow_http, allow_private;
	bool ok;
} urls[] = {
	{"https://hooks.example.com/x", false, false, true},
	{"https://hooks.example.com:8443/x?a=1", false, false, true},
	{"http://hooks.example.com/x", false, false, false},
	{"http://hooks.example.com/x", true, false, true},
	{"ftp://hooks.example.com/x", true, true, false},
	{"hooks.example.com", true, true, false},
	{"https:///x", false, false, false},
	{"https://user:pw@hooks.example.com/", false, false, false},
	{"https://127.0.0.1/x", false, false, false},
	{"https://127.0.0.1:9000/x", false, true, true},
	{"https://10.0.0.1/", false, false, false},
	{"https://169.254.169.254/latest/meta-data", false, false, false},
	{"https://[::1]:8080/", false, false, false},
	{"https://[::1]:8080/", false, true, true},
	{"https://[fe80::1]/", false, false, false},
	{"https://[2001:db8::1]/", false, false, true},
	{"https://[::1/", false, false, false},
	{"https://localhost/", false, false, true},   /* names are checked at connect time */
};

static void test_url_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		const char *problem = automation_url_problem(urls[i].url, urls[i].allow_http,
							     urls[i].allow_private);
		if ((problem == NULL) != urls[i].ok)
			fail_msg("%s: %s", urls[i].url, problem ? problem : "accepted");
	}
}

static void test_sign(void **state)
{
	(void)state;
	char out[128];
	assert_int_equal(deliver_sign("sl_secret", 1700000000, "{\"a\":1}", out, sizeof out), SL_OK);
	/* HMAC-SHA256("sl_secret", "1700000000.{\"a\":1}") computed with node:crypto */
	assert_string_equal(out, "t=1700000000,v1=ee2b1d9a49f35535f3eb67818b6be0ca9fbf8ac567810d01aee42b66352ced8b");
	assert_int_equal(deliver_sign("sl_secret", 1700000000, "{}", out, 20), SL_ERR_INVALID);
}

static void test_backoff(void **state)
{
	(void)state;
	const long long base = 30000, cap = 6LL * 3600 * 1000;
	for (long long attempt = 1; attempt <= 40; attempt++) {
		long long want = base;
		for (long long i = 1; i < attempt && want < cap; i++)
			want *= 2;
		if (want > cap)
			want = cap;
		for (unsigned rnd = 0; rnd < 2000; rnd += 97) {
			long long d = deliver_backoff_ms(attempt, base, rnd * 7919u);
			if (d < want - want / 5 || d > want + want / 5)
				fail_msg("attempt %lld: %lld outside %lld ±20%%", attempt, d, want);
		}
	}
	/* jitter really varies */
	assert_true(deliver_backoff_ms(3, base, 1) != deliver_backoff_ms(3, base, 12345));
	assert_true(deliver_backoff_ms(1, 10, 0) >= 1);
}

static void test_retryable(void **state)
{
	(void)state;
	static const struct {
		long status;
		bool retry;
	} cases[] = {
		{0, true}, {408, true}, {429, true}, {500, true}, {502, true}, {503, true},
		{400, false}, {401, false}, {403, false}, {404, false}, {410, false}, {422, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (deliver_retryable(cases[i].status) != cases[i].retry)
			fail_msg("status %ld", cases[i].status);
}

static void test_catalogues(void **state)
{
	(void)state;
	for (int i = 0; i < TRIG__MAX; i++) {
		assert_non_null(automation_triggers[i].slug);
		assert_int_equal(automation_trigger_find(automation_triggers[i].slug), i);
	}
	for (int i = 0; i < ACT__MAX; i++)
		assert_int_equal(automation_action_find(automation_actions[i].slug), i);
	assert_int_equal(automation_trigger_find("nope"), -1);
	assert_int_equal(automation_trigger_find(NULL), -1);
	assert_int_equal(automation_action_find("nope"), -1);
	assert_true(automation_triggers[TRIG_TAG_ADDED].needs_tag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guard_addresses),
		cmocka_unit_test(test_url_text),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_catalogues),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
