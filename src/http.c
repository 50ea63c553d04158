/*
 * http.c - request parsing and response serialization; see http.h.
 */
#include "http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const method_names[] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT", [HTTP_DELETE] = "DELETE", [HTTP_OTHER] = "OTHER",
};
_Static_assert(sizeof method_names / sizeof method_names[0] == HTTP_METHOD__MAX,
	       "every method needs a name");

enum http_method http_method_from(const char *name)
{
	for (int m = 0; m < HTTP_OTHER; m++)
		if (name && strcmp(name, method_names[m]) == 0)
			return (enum http_method)m;
	return HTTP_OTHER;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into an arena string; plus_space turns '+' into ' '. */
static sl_err decode(struct arena *a, const char *s, size_t n, bool plus_space,
		     const char **out)
{
	char *d = arena_alloc(a, n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return SL_ERR_INVALID;
			int hi = hexval((unsigned char)s[i + 1]);
			int lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return SL_ERR_INVALID;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return SL_ERR_INVALID;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		d[j++] = c;
	}
	d[j] = '\0';
	if (j > HTTP_MAX_FIELD_LEN)
		return SL_ERR_TOO_LARGE;
	*out = d;
	return SL_OK;
}

sl_err http_parse_urlencoded(struct arena *a, const char *s, size_t n,
			     struct http_pairs *out)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '&')
			count++;
	if (count + 1 > HTTP_MAX_FIELDS)
		return SL_ERR_TOO_LARGE;
	out->items = arena_alloc(a, (count + 1) * sizeof *out->items);
	out->n = 0;
	size_t start = 0;
	while (start <= n) {
		size_t end = start;
		while (end < n && s[end] != '&')
			end++;
		if (end > start) {
			size_t eq = start;
			while (eq < end && s[eq] != '=')
				eq++;
			struct http_pair *p = &out->items[out->n];
			sl_err e = decode(a, s + start, eq - start, true, &p->name);
			if (!e)
				e = eq < end ? decode(a, s + eq + 1, end - eq - 1, true, &p->value)
					     : decode(a, "", 0, true, &p->value);
			if (e)
				return e;
			if (*p->name)
				out->n++;
		}
		start = end + 1;
	}
	return SL_OK;
}

void http_parse_cookies(struct arena *a, const char *s, struct http_pairs *out)
{
	size_t count = 1;
	for (const char *p = s; *p; p++)
		if (*p == ';')
			count++;
	out->items = arena_alloc(a, count * sizeof *out->items);
	out->n = 0;
	while (*s) {
		while (*s == ' ' || *s == ';')
			s++;
		const char *name = s;
		while (*s && *s != '=' && *s != ';')
			s++;
		if (*s != '=') {
			continue;
		}
		size_t name_len = (size_t)(s - name);
		const char *value = ++s;
		while (*s && *s != ';')
			s++;
		size_t value_len = (size_t)(s - value);
		while (name_len && name[name_len - 1] == ' ')
			name_len--;
		if (name_len && out->n < count) {
			out->items[out->n].name = arena_strndup(a, name, name_len);
			out->items[out->n].value = arena_strndup(a, value, value_len);
			out->n++;
		}
	}
}

const char *http_get(const struct http_pairs *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return p->items[i].value;
	return NULL;
}

const char *http_param(const struct http_request *r, const char *name)
{
	/* a POST's values come from its validated form only */
	return http_get(r->method == HTTP_POST ? &r->form : &r->query, name);
}

bool http_wants_json(const struct http_request *r)
{
	return r->accept && strstr(r->accept, "application/json") &&
	       !strstr(r->accept, "text/html");
}

/* The CGI variables a request reads, read in one pass over the
 * environment (nginx passes a few dozen). */
enum env_var {
	ENV_REQUEST_METHOD, ENV_CONTENT_TYPE, ENV_HTTP_ACCEPT, ENV_REMOTE_ADDR, ENV_HTTP_HOST,
	ENV_HTTP_X_FORWARDED_FOR, ENV_HTTP_X_REAL_IP, ENV_HTTP_X_FORWARDED_PROTO,
	ENV_HTTP_STRIPE_SIGNATURE, ENV_HTTP_AUTHORIZATION, ENV_HTTPS, ENV_DOCUMENT_URI,
	ENV_REQUEST_URI, ENV_QUERY_STRING, ENV_HTTP_COOKIE, ENV__MAX
};

#define ENV_NAME(v) [ENV_##v] = {#v, sizeof #v - 1}
static const struct env_name {
	const char *name;
	size_t len;
} env_names[] = {
	ENV_NAME(REQUEST_METHOD), ENV_NAME(CONTENT_TYPE), ENV_NAME(HTTP_ACCEPT), ENV_NAME(REMOTE_ADDR),
	ENV_NAME(HTTP_HOST), ENV_NAME(HTTP_X_FORWARDED_FOR), ENV_NAME(HTTP_X_REAL_IP),
	ENV_NAME(HTTP_X_FORWARDED_PROTO), ENV_NAME(HTTP_STRIPE_SIGNATURE), ENV_NAME(HTTP_AUTHORIZATION),
	ENV_NAME(HTTPS), ENV_NAME(DOCUMENT_URI), ENV_NAME(REQUEST_URI), ENV_NAME(QUERY_STRING),
	ENV_NAME(HTTP_COOKIE),
};
_Static_assert(sizeof env_names / sizeof env_names[0] == ENV__MAX, "a name for every variable");

/* Fills out[] with the value of each variable (borrowed from envp; NULL
 * when absent; the first one when repeated). */
static void env_read(char *const *envp, const char *out[ENV__MAX])
{
	for (int k = 0; k < ENV__MAX; k++)
		out[k] = NULL;
	for (; envp && *envp; envp++) {
		const char *eq = strchr(*envp, '=');
		if (!eq)
			continue;
		size_t n = (size_t)(eq - *envp);
		for (int k = 0; k < ENV__MAX; k++)
			if (env_names[k].len == n && !out[k] && memcmp(*envp, env_names[k].name, n) == 0) {
				out[k] = eq + 1;
				break;
			}
	}
}

sl_err http_request_parse(struct http_request *r, struct arena *a,
			  char *const *envp, const unsigned char *body,
			  size_t body_len)
{
	const char *env[ENV__MAX];
	env_read(envp, env);
	memset(r, 0, sizeof *r);
	r->arena = a;
	r->now = (long long)time(NULL);
	r->method_name = arena_strdup(a, env[ENV_REQUEST_METHOD]);
	if (!r->method_name)
		r->method_name = "GET";
	r->method = http_method_from(r->method_name);
	const char *ct = env[ENV_CONTENT_TYPE];
	r->content_type = ct ? arena_strdup(a, ct) : "";
	r->accept = arena_strdup(a, env[ENV_HTTP_ACCEPT]);
	r->remote_addr = arena_strdup(a, env[ENV_REMOTE_ADDR]);
	r->peer_addr = r->remote_addr;
	r->host = arena_strdup(a, env[ENV_HTTP_HOST]);
	r->forwarded_for = arena_strdup(a, env[ENV_HTTP_X_FORWARDED_FOR]);
	r->real_ip = arena_strdup(a, env[ENV_HTTP_X_REAL_IP]);
	r->forwarded_proto = arena_strdup(a, env[ENV_HTTP_X_FORWARDED_PROTO]);
	r->stripe_signature = arena_strdup(a, env[ENV_HTTP_STRIPE_SIGNATURE]);
	r->authorization = arena_strdup(a, env[ENV_HTTP_AUTHORIZATION]);
	r->https = arena_strdup(a, env[ENV_HTTPS]);
	r->secure = r->https && strcmp(r->https, "on") == 0;
	r->path = "/";
	r->body = (const unsigned char *)"";

	/* DOCUMENT_URI is the decoded path (nginx); fall back to REQUEST_URI. */
	const char *uri = env[ENV_DOCUMENT_URI];
	const char *req_uri = env[ENV_REQUEST_URI];
	if (!uri && req_uri) {
		size_t n = strcspn(req_uri, "?");
		const char *decoded;
		sl_err e = decode(a, req_uri, n, false, &decoded);
		if (e)
			return e;
		uri = decoded;
	}
	if (uri) {
		if (strlen(uri) > HTTP_MAX_PATH)
			return SL_ERR_TOO_LARGE;
		r->path = arena_strdup(a, uri);
	}

	if (body_len > HTTP_MAX_BODY)
		return SL_ERR_TOO_LARGE;
	r->body = (const unsigned char *)arena_strndup(a, (const char *)body, body_len);
	r->body_len = body_len;

	const char *q = env[ENV_QUERY_STRING];
	if (q && *q) {
		if (strlen(q) > HTTP_MAX_QUERY)
			return SL_ERR_TOO_LARGE;
		sl_err e = http_parse_urlencoded(a, q, strlen(q), &r->query);
		if (e)
			return e;
	}
	const char *cookie = env[ENV_HTTP_COOKIE];
	if (cookie) {
		if (strlen(cookie) > HTTP_MAX_COOKIE)
			return SL_ERR_TOO_LARGE;
		http_parse_cookies(a, cookie, &r->cookies);
	}
	if (r->method == HTTP_POST &&
	    strncasecmp(r->content_type, "application/x-www-form-urlencoded", 33) == 0) {
		sl_err e = http_parse_urlencoded(a, (const char *)r->body, r->body_len, &r->form);
		if (e)
			return e;
	}
	return SL_OK;
}

void http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->content_type = "text/html; charset=utf-8";
}

void http_header(struct http_response *resp, const char *name, const char *value)
{
	if (resp->n_headers < HTTP_MAX_HEADERS) {
		resp->headers[resp->n_headers].name = name;
		resp->headers[resp->n_headers].value = value;
		resp->n_headers++;
	}
}

void http_redirect(struct http_response *resp, const char *location)
{
	resp->status = 303;
	http_header(resp, "Location", location);
}

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{200, "OK"}, {201, "Created"}, {204, "No Content"}, {302, "Found"},
	{303, "See Other"}, {304, "Not Modified"}, {400, "Bad Request"},
	{401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
	{405, "Method Not Allowed"}, {409, "Conflict"}, {410, "Gone"},
	{413, "Payload Too Large"}, {415, "Unsupported Media Type"},
	{421, "Misdirected Request"},
	{422, "Unprocessable Entity"}, {429, "Too Many Requests"},
	{500, "Internal Server Error"}, {502, "Bad Gateway"},
	{503, "Service Unavailable"}, {504, "Gateway Timeout"},
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

static const char *const security_headers[][2] = {
	{"Content-Security-Policy",
	 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	 "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
};

/* "name: value\r\n" (without printf: every response has a dozen) */
static void put_header(struct buf *out, const char *name, const char *value)
{
	buf_puts(out, name);
	buf_puts(out, ": ");
	buf_puts(out, value);
	buf_puts(out, "\r\n");
}

void http_response_head(const struct http_response *resp, struct buf *out)
{
	buf_printf(out, "Status: %d %s\r\n", resp->status, http_reason(resp->status));
	if (resp->content_type)
		put_header(out, "Content-Type", resp->content_type);
	for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
		put_header(out, security_headers[i][0], security_headers[i][1]);
	if (!resp->cacheable)
		buf_puts(out, "Cache-Control: no-store\r\n");
	for (size_t i = 0; i < resp->n_headers; i++)
		put_header(out, resp->headers[i].name, resp->headers[i].value);
	buf_puts(out, "\r\n");
}

void http_response_free(struct http_response *resp)
{
	buf_free(&resp->body);
}

bool http_is_local_path(const char *s)
{
	if (!s || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

char *http_url_encode(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = arena_alloc(a, n * 3 + 1);
	char *d = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.~", *p)) {
			*d++ = (char)*p;
		} else {
			*d++ = '%';
			*d++ = hex[*p >> 4];
			*d++ = hex[*p & 15];
		}
	}
	*d = '\0';
	return out;
}

/* ---- client address, TLS and Host behind a proxy ---- */

/* Parses "a.b.c.d" or an IPv6 address into 16 bytes (IPv4 as ::ffff:a.b.c.d
 * so one prefix comparison serves both); false when it is neither. */
static bool parse_ip(const char *s, size_t n, unsigned char out[16], bool *v4)
{
	char tmp[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/* Matches addr (16 bytes) against one "ip" or "ip/bits" entry s[0..n).
 * Returns -1 when the entry is malformed. */
static int entry_match(const char *s, size_t n, const unsigned char addr[16])
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	const char *slash = memchr(s, '/', n);
	size_t ip_len = slash ? (size_t)(slash - s) : n;
	unsigned char net[16];
	bool v4;
	if (!parse_ip(s, ip_len, net, &v4))
		return -1;
	int bits = 128;
	if (slash) {
		int b = 0;
		size_t digits = n - ip_len - 1;
		if (digits == 0 || digits > 3)
			return -1;
		for (size_t i = ip_len + 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			b = b * 10 + (s[i] - '0');
		}
		if (b > (v4 ? 32 : 128))
			return -1;
		bits = v4 ? 96 + b : b;
	}
	for (int i = 0; i < bits; i++) {
		int byte = i / 8, mask = 0x80 >> (i % 8);
		if ((net[byte] & mask) != (addr[byte] & mask))
			return 0;
	}
	return 1;
}

/* Calls entry_match for each comma-separated entry; -1 when any entry is
 * malformed (and so for an empty entry between commas). */
static int list_match(const char *list, const char *addr_s)
{
	unsigned char addr[16];
	bool v4;
	bool have_addr = addr_s && parse_ip(addr_s, strlen(addr_s), addr, &v4);
	int found = 0;
	if (!list || !*list)
		return 0;
	for (const char *p = list;;) {
		size_t n = strcspn(p, ",");
		int m = entry_match(p, n, have_addr ? addr : (const unsigned char[16]){0});
		if (m < 0)
			return -1;
		if (m > 0 && have_addr)
			found = 1;
		if (!p[n])
			break;
		p += n + 1;
	}
	return found;
}

bool http_addr_list_valid(const char *list)
{
	return list_match(list, NULL) >= 0;
}

bool http_addr_in_list(const char *addr, const char *list)
{
	return list_match(list, addr) > 0;
}

/* The client named by X-Forwarded-For: the rightmost address that is not
 * itself a trusted proxy (those further left could be made up by the
 * client). NULL when the header names no valid address. */
static const char *forwarded_client(struct arena *a, const char *xff, const char *trusted)
{
	const char *client = NULL;
	const char *end = xff + strlen(xff);
	while (end > xff) {
		const char *start = end;
		while (start > xff && start[-1] != ',')
			start--;
		const char *s = start, *e = end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		unsigned char ip[16];
		bool v4;
		if (!parse_ip(s, (size_t)(e - s), ip, &v4))
			return client;   /* garbage: stop at the last good hop */
		client = arena_strndup(a, s, (size_t)(e - s));
		if (!http_addr_in_list(client, trusted))
			return client;
		end = start > xff ? start - 1 : xff;
	}
	return client;
}

void http_apply_proxy(struct http_request *r, const char *trusted, bool public_https)
{
	r->secure = (r->https && strcmp(r->https, "on") == 0) || public_https;
	if (!r->peer_addr || !http_addr_in_list(r->peer_addr, trusted))
		return;
	const char *client = r->forwarded_for ? forwarded_client(r->arena, r->forwarded_for, trusted)
					      : NULL;
	if (!client && r->real_ip) {
		unsigned char ip[16];
		bool v4;
		if (parse_ip(r->real_ip, strlen(r->real_ip), ip, &v4))
			client = r->real_ip;
	}
	if (client)
		r->remote_addr = client;
	if (r->forwarded_proto && strcasecmp(r->forwarded_proto, "https") == 0)
		r->secure = true;
}

/* The host part of a Host header or URL authority s[0..n): without
 * userinfo, port or IPv6 brackets, into buf (lower case). */
static bool host_part(const char *s, size_t n, char *buf, size_t size)
{
	const char *at = memchr(s, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	size_t len;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		s++;
		len = (size_t)(close - s);
	} else {
		const char *colon = memchr(s, ':', n);
		len = colon ? (size_t)(colon - s) : n;
	}
	while (len && s[len - 1] == '.')
		len--;   /* "example.com." is the same host */
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	buf[len] = '\0';
	return true;
}

bool http_host_allowed(const char *host, const char *public_url)
{
	char want[256], got[256];
	if (!host || !host_part(host, strlen(host), got, sizeof got))
		return false;
	static const char *const local[] = {"127.0.0.1", "localhost", "::1"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		if (strcmp(got, local[i]) == 0)
			return true;
	const char *p = public_url ? strstr(public_url, "://") : NULL;
	if (!p)
		return false;
	p += 3;
	return host_part(p, strcspn(p, "/?#"), want, sizeof want) && strcmp(got, want) == 0;
}

