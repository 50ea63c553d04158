/*
 * test_metrics.c - who may read /metrics without a token (loopback only),
 * and the text the counters render to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

static const struct {
	const char *addr;
	bool loopback;
} addresses[] = {
	{"127.0.0.1", true},
	{"127.1.2.3", true},
	{"::1", true},
	{"::ffff:127.0.0.1", true},
	{"10.0.0.1", false},
	{"128.0.0.1", false},
	{"127.0.0.1.example.com", false},
	{"127.0.0.256", false},
	{"::2", false},
	{"203.0.113.9", false},
	{"", false},
	{NULL, false},
};

static void test_loopback(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
		bool got = metrics_loopback(addresses[i].addr);
		if (got != addresses[i].loopback)
			fail_msg("%s: expected %s", addresses[i].addr ? addresses[i].addr : "(null)",
				 addresses[i].loopback ? "loopback" : "not loopback");
	}
}

/* Counting moves the rendered series: deliveries by result, the
 * histogram's count and +Inf bucket, a Stripe status, a connection's pages. */
static void test_render_moves(void **state)
{
	(void)state;
	metrics_delivery("processed", 0.002);
	metrics_delivery("processed", 0.0001);
	metrics_delivery("something else", 20);
	metrics_stripe_status(429);
	metrics_sync_page(7, 100);
	struct buf out = BUF_INIT;
	metrics_render(&out, NULL, NULL);
	buf_putc(&out, '\0');
	const char *text = out.data;
	assert_non_null(strstr(text, "stripelink_webhook_deliveries_total{result=\"processed\"} 2\n"));
	assert_non_null(strstr(text, "stripelink_webhook_deliveries_total{result=\"other\"} 1\n"));
	assert_non_null(strstr(text, "stripelink_webhook_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(text, "stripelink_webhook_duration_seconds_bucket{le=\"0.0025\"} 2\n"));
	assert_non_null(strstr(text, "stripelink_webhook_duration_seconds_bucket{le=\"10\"} 2\n"));
	assert_non_null(strstr(text, "stripelink_webhook_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "stripelink_webhook_duration_seconds_count 3\n"));
	assert_non_null(strstr(text, "stripelink_stripe_requests_total{process=\"web\",status=\"429\"} 1\n"));
	assert_non_null(strstr(text, "stripelink_sync_pages_total{process=\"web\",connection=\"7\"} 1\n"));
	assert_non_null(strstr(text, "stripelink_sync_objects_total{process=\"web\",connection=\"7\"} 100\n"));
	assert_null(strstr(text, "process=\"sync\""));   /* no snapshot file: no sync series */
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_render_moves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
