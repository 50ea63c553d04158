/*
 * store.c - SQLite schema, statements and queries; see store.h.
 */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- migrations: append only; each entry is one schema version ---- */

static const char *const migrations[] = {
	/* 1: users, sessions, fields, contacts, tags */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  password_hash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE sessions ("
	"  token_hash TEXT PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE TABLE login_attempts ("
	"  key TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL);"
	"CREATE TABLE fields ("
	"  id INTEGER PRIMARY KEY,"
	"  key TEXT NOT NULL UNIQUE,"
	"  label TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  type TEXT NOT NULL CHECK (type IN ('email','text','phone','number','date')),"
	"  builtin INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO fields (id, key, label, type, builtin) VALUES"
	"  (1, 'email', 'Email', 'email', 1),"
	"  (2, 'first_name', 'First name', 'text', 1),"
	"  (3, 'last_name', 'Last name', 'text', 1),"
	"  (4, 'phone', 'Phone', 'phone', 1);"
	"CREATE TABLE contacts ("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL,"
	"  email_key TEXT NOT NULL UNIQUE,"
	"  first_name TEXT NOT NULL DEFAULT '',"
	"  last_name TEXT NOT NULL DEFAULT '',"
	"  phone TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE contact_values ("
	"  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
	"  field_id INTEGER NOT NULL REFERENCES fields(id) ON DELETE CASCADE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (contact_id, field_id)) WITHOUT ROWID;"
	"CREATE TABLE tags ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE contact_tags ("
	"  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,"
	"  tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (contact_id, tag_id)) WITHOUT ROWID;"
	"CREATE INDEX contact_tags_by_tag ON contact_tags (tag_id, contact_id);",

	/* 2: Stripe connections and the resources each one syncs */
	"CREATE TABLE connections ("
	"  id INTEGER PRIMARY KEY,"
	"  status TEXT NOT NULL CHECK (status IN ('pending','connected','disconnected')),"
	"  account_id TEXT NOT NULL,"
	"  account_name TEXT NOT NULL DEFAULT '',"
	"  livemode INTEGER NOT NULL DEFAULT 0,"
	"  key_sealed TEXT,"                 /* AES-GCM under the key file; NULL once forgotten */
	"  key_hint TEXT NOT NULL DEFAULT '',"/* sk_live_…4242 */
	"  endpoint_id TEXT,"
	"  secret_sealed TEXT,"
	"  previous_secret_sealed TEXT,"     /* accepted until previous_secret_until */
	"  previous_secret_until INTEGER,"
	"  create_contact INTEGER NOT NULL DEFAULT 1,"
	"  create_order INTEGER NOT NULL DEFAULT 1,"
	"  create_recurring INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL,"
	"  connected_at INTEGER,"
	"  disconnected_at INTEGER);"
	"CREATE INDEX connections_by_account ON connections (account_id);"
	"CREATE TABLE connection_resources ("
	"  id INTEGER PRIMARY KEY,"
	"  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
	"  resource TEXT NOT NULL,"
	"  sync_type TEXT NOT NULL CHECK (sync_type IN ('historical','new')),"
	"  mapping TEXT,"                    /* mapping_to_json(); NULL until step 3 is saved */
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (connection_id, resource));",

	/* 3: webhook deliveries, the integration log, what Stripe objects became */
	"CREATE TABLE stripe_events ("          /* one row per event id: duplicates detected here */
	"  connection_id INTEGER NOT NULL,"
	"  event_id TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  PRIMARY KEY (connection_id, event_id)) WITHOUT ROWID;"
	"CREATE TABLE integration_log ("
	"  id INTEGER PRIMARY KEY,"
	"  connection_id INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  event_id TEXT,"                       /* NULL when it could not be read */
	"  type TEXT NOT NULL DEFAULT '',"
	"  result TEXT NOT NULL CHECK (result IN ('processed','duplicate','skipped','ignored',"
	"    'rejected','failed')),"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  contact_id INTEGER,"
	"  payload TEXT);"                        /* kept for skipped and failed events (replay) */
	"CREATE INDEX integration_log_by_connection ON integration_log (connection_id, id);"
	"CREATE TABLE object_versions ("        /* ordering guard per Stripe object */
	"  object_id TEXT PRIMARY KEY,"
	"  version INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE stripe_customers ("       /* a Stripe customer's contact */
	"  customer_id TEXT PRIMARY KEY,"
	"  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE) WITHOUT ROWID;"
	"CREATE TABLE orders ("
	"  id INTEGER PRIMARY KEY,"
	"  stripe_id TEXT NOT NULL UNIQUE,"
	"  connection_id INTEGER NOT NULL,"
	"  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
	"  amount INTEGER NOT NULL,"
	"  amount_refunded INTEGER NOT NULL DEFAULT 0,"
	"  currency TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  created TEXT,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX orders_by_contact ON orders (contact_id);"
	"CREATE TABLE recurring_payments ("
	"  id INTEGER PRIMARY KEY,"
	"  subscription_id TEXT NOT NULL UNIQUE,"
	"  connection_id INTEGER NOT NULL,"
	"  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,"
	"  status TEXT NOT NULL DEFAULT '',"
	"  price_id TEXT,"
	"  product TEXT,"
	"  amount INTEGER,"
	"  currency TEXT,"
	"  interval TEXT,"
	"  interval_count INTEGER,"
	"  current_period_end TEXT,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX recurring_by_contact ON recurring_payments (contact_id);",

	/* 4: historical sync jobs and their created-time windows */
	"CREATE TABLE sync_jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
	"  resource TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('queued','running','paused','done','failed','cancelled')),"
	"  error TEXT NOT NULL DEFAULT '',"
	"  objects INTEGER NOT NULL DEFAULT 0,"
	"  pages INTEGER NOT NULL DEFAULT 0,"
	"  contacts_created INTEGER NOT NULL DEFAULT 0,"
	"  contacts_updated INTEGER NOT NULL DEFAULT 0,"
	"  skipped INTEGER NOT NULL DEFAULT 0,"
	"  queued_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  elapsed_ms INTEGER NOT NULL DEFAULT 0);"   /* running time, summed over runs */
	"CREATE INDEX sync_jobs_by_connection ON sync_jobs (connection_id, id);"
	"CREATE TABLE sync_windows ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id INTEGER NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,"
	"  created_gte INTEGER NOT NULL,"
	"  created_lt INTEGER NOT NULL,"
	"  cursor TEXT,"                 /* starting_after of the next page; NULL: from the top */
	"  oldest_seen INTEGER,"         /* created of the last object synced (progress) */
	"  done INTEGER NOT NULL DEFAULT 0);",

	/* 5: when a connection became pending, so a connect that died midway
	 * does not block the account for good */
	"ALTER TABLE connections ADD COLUMN pending_since INTEGER;",

	/* 6: the catch-up from Stripe's event list and the webhook endpoint's
	 * health, one row per connection; where each log entry came from */
	"CREATE TABLE catchups ("
	"  connection_id INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,"
	"  cursor INTEGER NOT NULL DEFAULT 0,"          /* created of the newest event a finished sweep saw */
	"  requested_at INTEGER,"                       /* Catch up now, or the endpoint was mended */
	"  run_gte INTEGER,"                            /* the sweep in progress: created bounds; */
	"  run_lte INTEGER,"                            /* NULL when none is in progress */
	"  run_after TEXT,"                             /* starting_after of its next page */
	"  run_newest INTEGER NOT NULL DEFAULT 0,"
	"  run_found INTEGER NOT NULL DEFAULT 0,"
	"  run_new INTEGER NOT NULL DEFAULT 0,"
	"  run_skipped INTEGER NOT NULL DEFAULT 0,"
	"  last_at INTEGER,"                            /* the last sweep that finished or failed */
	"  last_found INTEGER NOT NULL DEFAULT 0,"
	"  last_new INTEGER NOT NULL DEFAULT 0,"
	"  last_skipped INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '',"
	"  undelivered INTEGER NOT NULL DEFAULT 0,"     /* events Stripe says it could not deliver */
	"  undelivered_more INTEGER NOT NULL DEFAULT 0,"/* there were more than were counted */
	"  undelivered_oldest INTEGER,"
	"  endpoint_state TEXT NOT NULL DEFAULT 'unknown' CHECK (endpoint_state IN"
	"    ('unknown','enabled','disabled','deleted','key_refused','key_permission','unreachable')),"
	"  endpoint_detail TEXT NOT NULL DEFAULT '',"   /* Stripe's words, or the missing permission */
	"  endpoint_checked_at INTEGER,"
	"  health_requested_at INTEGER);"
	"ALTER TABLE integration_log ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';",
	/* 7: retention prunes the integration log by age */
	"CREATE INDEX integration_log_by_at ON integration_log (at);",
	/* 8: saved segments, and the indexes their conditions use */
	"CREATE TABLE segments ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  definition TEXT NOT NULL,"          /* segment_to_json() */
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX orders_by_created ON orders (created, contact_id);"
	"CREATE INDEX orders_by_contact_currency ON orders (contact_id, currency, status, amount, amount_refunded);"
	"CREATE INDEX recurring_by_contact_status ON recurring_payments (contact_id, status);"
	"CREATE INDEX contact_values_by_field ON contact_values (field_id, value, contact_id);"
	"CREATE INDEX contacts_by_created ON contacts (created_at);",
	/* 9: automations (trigger, optional segment, ordered actions), their
	 * runs, and the outbox of signed webhooks with every delivery attempt */
	"CREATE TABLE automations ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  trigger TEXT NOT NULL,"            /* automation.c's trigger catalogue slug */
	"  trigger_tag TEXT NOT NULL DEFAULT '',"  /* tag_added: the tag */
	"  segment_id INTEGER,"               /* NULL: every contact; else segments(id) */
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  history INTEGER NOT NULL DEFAULT 0,"   /* also fire for historical sync */
	"  secret_sealed TEXT,"               /* webhook signing secret, AES-GCM */
	"  runs INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  last_run_at INTEGER,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX automations_by_trigger ON automations (trigger, enabled);"
	"CREATE TABLE automation_actions ("
	"  automation_id INTEGER NOT NULL REFERENCES automations(id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('add_tag','remove_tag','set_field','webhook')),"
	"  name TEXT NOT NULL DEFAULT '',"    /* the tag, the field key or the URL */
	"  value TEXT NOT NULL DEFAULT '',"   /* set_field: the value */
	"  PRIMARY KEY (automation_id, position)) WITHOUT ROWID;"
	"CREATE TABLE automation_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  automation_id INTEGER NOT NULL REFERENCES automations(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  contact_id INTEGER,"
	"  source TEXT NOT NULL,"             /* webhook, history */
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX automation_runs_by_automation ON automation_runs (automation_id, id);"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  automation_id INTEGER NOT NULL REFERENCES automations(id) ON DELETE CASCADE,"
	"  url TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  idempotency_key TEXT NOT NULL UNIQUE,"
	"  test INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"         /* unix ms */
	"  give_up_at INTEGER NOT NULL,"      /* unix ms */
	"  created_at INTEGER NOT NULL,"
	"  finished_at INTEGER);"
	"CREATE INDEX outbox_due ON outbox (state, next_at);"
	"CREATE INDEX outbox_by_automation ON outbox (automation_id, id);"
	"CREATE TABLE outbox_attempts ("
	"  id INTEGER PRIMARY KEY,"
	"  outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  status INTEGER NOT NULL,"          /* HTTP status; 0 when no answer */
	"  ms INTEGER NOT NULL,"
	"  excerpt TEXT NOT NULL DEFAULT '',"
	"  error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX outbox_attempts_by_outbox ON outbox_attempts (outbox_id, id);",

	/* 10: events that name a customer not linked yet, recorded as waiting (no
	 * Stripe call while answering); completed by the sync worker once the
	 * customer is linked, or after next_try with one lookup */
	"CREATE TABLE pending_events ("
	"  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,"
	"  event_id TEXT NOT NULL,"
	"  customer_id TEXT NOT NULL,"
	"  payload BLOB NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  next_try INTEGER NOT NULL,"
	"  UNIQUE (connection_id, event_id));"
	"CREATE INDEX pending_events_customer ON pending_events (customer_id);"
	/* the log learns the result 'waiting' (a CHECK is changed by a copy) */
	"CREATE TABLE integration_log_new ("
	"  id INTEGER PRIMARY KEY,"
	"  connection_id INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  event_id TEXT,"
	"  type TEXT NOT NULL DEFAULT '',"
	"  result TEXT NOT NULL CHECK (result IN ('processed','duplicate','skipped','ignored',"
	"    'rejected','failed','waiting')),"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  contact_id INTEGER,"
	"  payload TEXT,"
	"  source TEXT NOT NULL DEFAULT 'webhook');"
	"INSERT INTO integration_log_new (id, connection_id, at, event_id, type, result, reason, contact_id,"
	"  payload, source) SELECT id, connection_id, at, event_id, type, result, reason, contact_id,"
	"  payload, source FROM integration_log;"
	"DROP TABLE integration_log;"
	"ALTER TABLE integration_log_new RENAME TO integration_log;"
	"CREATE INDEX integration_log_by_connection ON integration_log (connection_id, id);"
	"CREATE INDEX integration_log_by_at ON integration_log (at);",   /* 7's, lost with the copy */

	/* 11: a waiting event may wait for its Stripe object's current state
	 * instead of its customer: two events of one object in one second (a
	 * same-second tie, refetch.h); fetch_object NULL: waiting for the customer */
	"ALTER TABLE pending_events ADD COLUMN fetch_object TEXT;",
	/* 12: refunds and disputes kept by their own ids: an order's refunded and
	 * lost amounts are derived from them (ledger.h); what a charge itself last
	 * said it refunded, and when; a Stripe customer deleted at Stripe; the date
	 * a recurring payment was canceled */
	"CREATE TABLE refunds ("
	"  refund_id TEXT PRIMARY KEY,"
	"  charge_id TEXT NOT NULL,"
	"  connection_id INTEGER NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  currency TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  counts INTEGER NOT NULL,"              /* 1: part of the refunded amount */
	"  status_rank INTEGER NOT NULL,"         /* breaks a tie of versions (ledger.c) */
	"  created INTEGER NOT NULL DEFAULT 0,"   /* the refund's own created */
	"  version INTEGER NOT NULL,"             /* event created (or fetch time) of its status */
	"  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX refunds_by_charge ON refunds (charge_id);"
	"CREATE TABLE disputes ("
	"  dispute_id TEXT PRIMARY KEY,"
	"  charge_id TEXT NOT NULL,"
	"  connection_id INTEGER NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  currency TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  lost INTEGER NOT NULL,"                /* 1: counts against revenue */
	"  status_rank INTEGER NOT NULL,"
	"  created INTEGER NOT NULL DEFAULT 0,"
	"  version INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX disputes_by_charge ON disputes (charge_id);"
	"ALTER TABLE orders ADD COLUMN refunded_reported INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE orders ADD COLUMN reported_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE orders ADD COLUMN amount_lost INTEGER NOT NULL DEFAULT 0;"
	"UPDATE orders SET refunded_reported = amount_refunded;"
	"ALTER TABLE stripe_customers ADD COLUMN deleted_at INTEGER;"
	"ALTER TABLE recurring_payments ADD COLUMN canceled_at TEXT;"
	"DROP INDEX orders_by_contact_currency;"
	"CREATE INDEX orders_by_contact_currency ON orders (contact_id, currency, status, amount,"
	"  amount_refunded, amount_lost);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- the statement table ---- */

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_PING,
	ST_USER_COUNT,
	ST_USER_INSERT,
	ST_USER_FIND,
	ST_SESSION_INSERT,
	ST_SESSION_FIND,
	ST_SESSION_DELETE,
	ST_SESSION_PURGE,
	ST_LOGIN_GET,
	ST_LOGIN_FAILED,
	ST_LOGIN_CLEAR,
	ST_FIELDS_LIST,
	ST_FIELD_INSERT,
	ST_FIELD_DELETE,
	ST_FIELD_EXISTS,
	ST_FIELD_ID,
	ST_CONTACTS_SEARCH,
	ST_CONTACTS_COUNT,
	ST_CONTACT_GET,
	ST_CONTACT_VALUES,
	ST_TAGS_LIST,
	ST_CONTACTS_ALL,
	ST_VALUES_ALL,
	ST_CONTACT_FIND_KEY,
	ST_CONTACT_INSERT,
	ST_CONTACT_SET_FIRST,
	ST_CONTACT_SET_LAST,
	ST_CONTACT_SET_PHONE,
	ST_CONTACT_SET_EMAIL,
	ST_CONTACT_SET_VALUE,
	ST_TAG_INSERT,
	ST_TAG_ID,
	ST_CONTACT_TAG_INSERT,
	ST_CONNECTION_GET,
	ST_CONNECTIONS_LIST,
	ST_CONNECTION_BY_ACCOUNT,
	ST_CONNECTION_INSERT,
	ST_CONNECTION_PENDING,
	ST_CONNECTION_ACTIVATE,
	ST_CONNECTION_DELETE_PENDING,
	ST_CONNECTION_DISCONNECT,
	ST_CONNECTION_SWITCHES,
	ST_RESOURCES_LIST,
	ST_RESOURCE_GET,
	ST_RESOURCE_UPSERT,
	ST_RESOURCE_SET_MAPPING,
	ST_RESOURCE_DELETE,
	ST_EVENT_GET,
	ST_EVENT_PUT,
	ST_LOG_ADD,
	ST_LOG_LIST,
	ST_LOG_COUNT,
	ST_LOG_GET,
	ST_LOG_TYPES,
	ST_VERSION_GET,
	ST_VERSION_PUT,
	ST_LINK_GET,
	ST_LINK_PUT,
	ST_ORDER_UPSERT,
	ST_ORDER_REFUND,
	ST_RECURRING_UPSERT,
	ST_COUNTS,
	ST_CONTACT_ORDERS,
	ST_CONTACT_RECURRING,
	ST_CONTACT_REVENUE,
	ST_CONTACT_ORDER_SPAN,
	ST_CONTACT_MONTHLY,
	ST_WINDOW_GTE,
	ST_JOB_INSERT,
	ST_JOB_ACTIVE_FOR,
	ST_JOB_GET,
	ST_JOBS_LIST,
	ST_JOB_NEXT,
	ST_JOB_STATE,
	ST_JOB_START,
	ST_JOB_FINISH,
	ST_JOB_PAGE,
	ST_JOBS_CANCEL_CONNECTION,
	ST_JOB_CONTROL,
	ST_WINDOW_INSERT,
	ST_WINDOWS_LIST,
	ST_WINDOW_ADVANCE,
	ST_JOB_PROGRESS,
	ST_WINDOW_SET_GTE,
	ST_CONNECTION_ROLL,
	ST_JOB_ANY,
	ST_CATCHUP_ENSURE,
	ST_CATCHUP_GET,
	ST_CATCHUP_REQUEST,
	ST_CATCHUP_REQUEST_HEALTH,
	ST_CATCHUP_BEGIN,
	ST_CATCHUP_PAGE,
	ST_CATCHUP_FINISH,
	ST_CATCHUP_FAIL,
	ST_CATCHUP_UNDELIVERED,
	ST_CATCHUP_ENDPOINT,
	ST_CONNECTION_SET_KEY,
	ST_PRUNE_REJECTED,
	ST_PRUNE_LOG,
	ST_PRUNE_PAYLOADS,
	ST_PRUNE_LOGINS,
	ST_SEGMENT_INSERT,
	ST_SEGMENT_UPDATE,
	ST_SEGMENT_DELETE,
	ST_SEGMENT_GET,
	ST_SEGMENTS_LIST,
	ST_CONTACT_UNTAG,
	ST_ORDER_STATUS,
	ST_RECURRING_STATUS,
	ST_AUTOMATION_INSERT,
	ST_AUTOMATION_UPDATE,
	ST_AUTOMATION_DELETE,
	ST_AUTOMATION_ENABLE,
	ST_AUTOMATION_SECRET,
	ST_AUTOMATION_GET,
	ST_AUTOMATIONS_LIST,
	ST_AUTOMATIONS_FOR,
	ST_ACTIONS_DELETE,
	ST_ACTION_INSERT,
	ST_ACTIONS_LIST,
	ST_RUN_INSERT,
	ST_RUN_COUNT,
	ST_RUNS_LIST,
	ST_OUTBOX_INSERT,
	ST_OUTBOX_NEXT,
	ST_OUTBOX_ATTEMPT,
	ST_OUTBOX_SETTLE,
	ST_AUTOMATION_FAILED,
	ST_OUTBOX_LIST,
	ST_OUTBOX_RESEND,
	ST_ATTEMPTS_LIST,
	ST_PENDING_PUT,
	ST_PENDING_DELETE,
	ST_PENDING_DUE,
	ST_PENDING_DEFER,
	ST_PENDING_FOR_CUSTOMER,
	ST_PENDING_PUT_FETCH,
	ST_REFUND_PUT,
	ST_DISPUTE_STATUS,
	ST_DISPUTE_PUT,
	ST_ORDER_REPORTED,
	ST_LEDGER_TOTALS,
	ST_ORDER_SETTLE,
	ST_ORDER_CONTACT,
	ST_CUSTOMER_DELETED,
	ST_CONTACT_LINKS,
	ST_CONTACT_DISPUTES,
	ST_RECURRING_CANCELED_AT,
	ST__MAX
};

/* tags of one contact, sorted and joined by ';' */
#define TAGS_OF(c) \
	"(SELECT coalesce(group_concat(name, ';'), '') FROM (SELECT t.name FROM contact_tags ct" \
	" JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = " c " ORDER BY t.name))"
#define CONTACT_MATCH \
	" WHERE (?1 IS NULL OR c.email_key LIKE ?1 ESCAPE '\\'" \
	"        OR (c.first_name || ' ' || c.last_name) LIKE ?1 ESCAPE '\\')" \
	"   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id" \
	"        WHERE ct.contact_id = c.id AND t.name = ?2))"

#define CONNECTION_COLUMNS \
	"id, status, account_id, account_name, livemode, key_sealed, key_hint, endpoint_id," \
	" secret_sealed, previous_secret_sealed, previous_secret_until, create_contact," \
	" create_order, create_recurring, created_at, connected_at, disconnected_at"

#define LOG_COLUMNS "id, connection_id, at, coalesce(event_id, ''), type, result, reason, coalesce(contact_id, 0)," \
	" payload IS NOT NULL, source"

#define JOB_COLUMNS \
	"id, connection_id, resource, state, error, objects, pages, contacts_created," \
	" contacts_updated, skipped, queued_at, coalesce(started_at, 0), coalesce(finished_at, 0), elapsed_ms"

#define AUTOMATION_COLUMNS "id, name, trigger, trigger_tag, coalesce(segment_id, 0), enabled, history," \
	" secret_sealed, runs, failures, coalesce(last_run_at, 0), created_at"
#define AUTOMATION_COLUMNS_OF(t) t ".id, " t ".name, " t ".trigger, " t ".trigger_tag," \
	" coalesce(" t ".segment_id, 0), " t ".enabled, " t ".history, " t ".secret_sealed, " t ".runs," \
	" " t ".failures, coalesce(" t ".last_run_at, 0), " t ".created_at"
#define OUTBOX_COLUMNS "o.id, o.automation_id, o.url, o.body, o.idempotency_key, o.test, o.state," \
	" o.attempts, o.next_at, o.give_up_at, o.created_at, coalesce(a.secret_sealed, '')," \
	" coalesce((SELECT status FROM outbox_attempts x WHERE x.outbox_id = o.id ORDER BY x.id DESC LIMIT 1), -1)," \
	" coalesce((SELECT ms FROM outbox_attempts x WHERE x.outbox_id = o.id ORDER BY x.id DESC LIMIT 1), 0)," \
	" coalesce((SELECT CASE WHEN error != '' THEN error ELSE excerpt END FROM outbox_attempts x" \
	" WHERE x.outbox_id = o.id ORDER BY x.id DESC LIMIT 1), '')"

static const char *const sql[] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT sp",
	[ST_RELEASE] = "RELEASE sp",
	[ST_ROLLBACK_TO] = "ROLLBACK TO sp",
	[ST_PING] = "SELECT 1",
	[ST_USER_COUNT] = "SELECT count(*) FROM users",
	[ST_USER_INSERT] = "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
	[ST_USER_FIND] = "SELECT id, username, password_hash FROM users WHERE username = ?1",
	[ST_SESSION_INSERT] = "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)"
			      " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_SESSION_FIND] = "SELECT s.user_id, u.username, s.csrf, s.expires_at FROM sessions s"
			    " JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2",
	[ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
	[ST_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
	[ST_LOGIN_GET] = "SELECT failures, last_at FROM login_attempts WHERE key = ?1",
	[ST_LOGIN_FAILED] = "INSERT INTO login_attempts (key, failures, last_at) VALUES (?1, 1, ?2)"
			    " ON CONFLICT (key) DO UPDATE SET failures = failures + 1, last_at = ?2",
	[ST_LOGIN_CLEAR] = "DELETE FROM login_attempts WHERE key = ?1",
	[ST_FIELDS_LIST] = "SELECT id, key, label, type, builtin FROM fields ORDER BY builtin DESC, id",
	[ST_FIELD_INSERT] = "INSERT INTO fields (key, label, type) VALUES (?1, ?2, ?3)",
	[ST_FIELD_DELETE] = "DELETE FROM fields WHERE id = ?1 AND builtin = 0",
	[ST_FIELD_EXISTS] = "SELECT 1 FROM fields WHERE key = ?1",
	[ST_FIELD_ID] = "SELECT id FROM fields WHERE key = ?1 AND builtin = 0",
	[ST_CONTACTS_SEARCH] = "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			       ", c.created_at, c.updated_at FROM contacts c" CONTACT_MATCH
			       " ORDER BY c.id DESC LIMIT ?3 OFFSET ?4",
	[ST_CONTACTS_COUNT] = "SELECT count(*) FROM contacts c" CONTACT_MATCH,
	[ST_CONTACT_GET] = "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			   ", c.created_at, c.updated_at FROM contacts c WHERE c.id = ?1",
	[ST_CONTACT_VALUES] = "SELECT f.id, f.key, f.label, v.value FROM contact_values v"
			      " JOIN fields f ON f.id = v.field_id WHERE v.contact_id = ?1 ORDER BY f.id",
	[ST_TAGS_LIST] = "SELECT name FROM tags t WHERE EXISTS (SELECT 1 FROM contact_tags ct"
			 " WHERE ct.tag_id = t.id) ORDER BY name",
	[ST_CONTACTS_ALL] = "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			    ", c.created_at, c.updated_at FROM contacts c ORDER BY c.id",
	[ST_VALUES_ALL] = "SELECT contact_id, field_id, value FROM contact_values ORDER BY contact_id",
	[ST_CONTACT_FIND_KEY] = "SELECT id FROM contacts WHERE email_key = ?1",
	[ST_CONTACT_INSERT] = "INSERT INTO contacts (email, email_key, created_at, updated_at)"
			      " VALUES (?1, ?2, ?3, ?3)",
	[ST_CONTACT_SET_FIRST] = "UPDATE contacts SET first_name = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_CONTACT_SET_LAST] = "UPDATE contacts SET last_name = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_CONTACT_SET_PHONE] = "UPDATE contacts SET phone = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_CONTACT_SET_EMAIL] = "UPDATE contacts SET email = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_CONTACT_SET_VALUE] = "INSERT INTO contact_values (contact_id, field_id, value)"
				 " SELECT ?1, id, ?3 FROM fields WHERE key = ?2 AND builtin = 0"
				 " ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value",
	[ST_TAG_INSERT] = "INSERT INTO tags (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
	[ST_TAG_ID] = "SELECT id FROM tags WHERE name = ?1",
	[ST_CONTACT_TAG_INSERT] = "INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?1, ?2)",
	[ST_CONNECTION_GET] = "SELECT " CONNECTION_COLUMNS " FROM connections WHERE id = ?1",
	[ST_CONNECTIONS_LIST] = "SELECT " CONNECTION_COLUMNS " FROM connections WHERE status != 'pending'"
				" ORDER BY id",
	[ST_CONNECTION_BY_ACCOUNT] = "SELECT id FROM connections WHERE account_id = ?1 AND livemode = ?2"
				     " ORDER BY id DESC LIMIT 1",
	[ST_CONNECTION_INSERT] = "INSERT INTO connections (status, account_id, account_name, livemode, created_at,"
				 " pending_since) VALUES ('pending', ?1, ?2, ?3, ?4, ?4)",
	/* a pending row older than ?5 was left by a connect that died midway */
	[ST_CONNECTION_PENDING] = "UPDATE connections SET status = 'pending', account_name = ?2, livemode = ?3,"
				  " pending_since = ?4 WHERE id = ?1 AND (status = 'disconnected'"
				  " OR (status = 'pending' AND coalesce(pending_since, 0) < ?5))",
	[ST_CONNECTION_ACTIVATE] = "UPDATE connections SET status = 'connected', key_sealed = ?2, key_hint = ?3,"
				   " endpoint_id = ?4, secret_sealed = ?5, previous_secret_sealed = NULL,"
				   " previous_secret_until = NULL, connected_at = ?6, disconnected_at = NULL"
				   " WHERE id = ?1 AND status = 'pending'",
	[ST_CONNECTION_DELETE_PENDING] = "DELETE FROM connections WHERE id = ?1 AND status = 'pending'"
					 " AND connected_at IS NULL",
	[ST_CONNECTION_DISCONNECT] = "UPDATE connections SET status = 'disconnected', key_sealed = NULL,"
				     " secret_sealed = NULL, previous_secret_sealed = NULL, previous_secret_until = NULL,"
				     " endpoint_id = NULL, disconnected_at = ?2 WHERE id = ?1",
	[ST_CONNECTION_SWITCHES] = "UPDATE connections SET create_contact = ?2, create_order = ?3,"
				   " create_recurring = ?4 WHERE id = ?1",
	[ST_RESOURCES_LIST] = "SELECT id, connection_id, resource, sync_type, mapping, created_at, updated_at"
			      " FROM connection_resources WHERE connection_id = ?1 ORDER BY id",
	[ST_RESOURCE_GET] = "SELECT id, connection_id, resource, sync_type, mapping, created_at, updated_at"
			    " FROM connection_resources WHERE connection_id = ?1 AND resource = ?2",
	[ST_RESOURCE_UPSERT] = "INSERT INTO connection_resources (connection_id, resource, sync_type, created_at, updated_at)"
			       " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (connection_id, resource)"
			       " DO UPDATE SET sync_type = excluded.sync_type, updated_at = excluded.updated_at",
	[ST_RESOURCE_SET_MAPPING] = "UPDATE connection_resources SET mapping = ?3, updated_at = ?4"
				    " WHERE connection_id = ?1 AND resource = ?2",
	[ST_RESOURCE_DELETE] = "DELETE FROM connection_resources WHERE connection_id = ?1 AND resource = ?2",
	[ST_EVENT_GET] = "SELECT result FROM stripe_events WHERE connection_id = ?1 AND event_id = ?2",
	[ST_EVENT_PUT] = "INSERT INTO stripe_events (connection_id, event_id, result) VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (connection_id, event_id) DO UPDATE SET result = excluded.result",
	[ST_LOG_ADD] = "INSERT INTO integration_log (connection_id, at, event_id, type, result, reason,"
		       " contact_id, payload, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, 'webhook'))",
	[ST_LOG_LIST] = "SELECT " LOG_COLUMNS " FROM integration_log WHERE connection_id = ?1"
			" AND (?2 IS NULL OR result = ?2) AND (?3 IS NULL OR type = ?3)"
			" ORDER BY id DESC LIMIT ?4 OFFSET ?5",
	[ST_LOG_COUNT] = "SELECT count(*) FROM integration_log WHERE connection_id = ?1"
			 " AND (?2 IS NULL OR result = ?2) AND (?3 IS NULL OR type = ?3)",
	[ST_LOG_GET] = "SELECT " LOG_COLUMNS ", payload FROM integration_log WHERE id = ?1 AND connection_id = ?2",
	[ST_LOG_TYPES] = "SELECT DISTINCT type FROM integration_log WHERE connection_id = ?1 AND type != ''"
			 " ORDER BY type",
	[ST_VERSION_GET] = "SELECT version FROM object_versions WHERE object_id = ?1",
	[ST_VERSION_PUT] = "INSERT INTO object_versions (object_id, version) VALUES (?1, ?2)"
			   " ON CONFLICT (object_id) DO UPDATE SET version = max(version, excluded.version)",
	[ST_LINK_GET] = "SELECT contact_id FROM stripe_customers WHERE customer_id = ?1",
	[ST_LINK_PUT] = "INSERT INTO stripe_customers (customer_id, contact_id) VALUES (?1, ?2)"
			" ON CONFLICT (customer_id) DO UPDATE SET contact_id = excluded.contact_id",
	[ST_ORDER_UPSERT] = "INSERT INTO orders (stripe_id, connection_id, contact_id, amount, amount_refunded,"
			    " currency, status, created, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
			    " ON CONFLICT (stripe_id) DO UPDATE SET contact_id = excluded.contact_id,"
			    " amount = excluded.amount, amount_refunded = excluded.amount_refunded,"
			    " currency = excluded.currency, status = excluded.status,"
			    " created = coalesce(excluded.created, created), updated_at = excluded.updated_at",
	[ST_ORDER_REFUND] = "UPDATE orders SET amount_refunded = ?2, status = ?3, updated_at = ?4 WHERE stripe_id = ?1",
	[ST_RECURRING_UPSERT] = "INSERT INTO recurring_payments (subscription_id, connection_id, contact_id, status,"
				" price_id, product, amount, currency, interval, interval_count, current_period_end,"
				" updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
				" ON CONFLICT (subscription_id) DO UPDATE SET contact_id = excluded.contact_id,"
				" status = excluded.status, price_id = coalesce(excluded.price_id, price_id),"
				" product = coalesce(excluded.product, product),"
				" amount = coalesce(excluded.amount, amount), currency = coalesce(excluded.currency, currency),"
				" interval = coalesce(excluded.interval, interval),"
				" interval_count = coalesce(excluded.interval_count, interval_count),"
				" current_period_end = coalesce(excluded.current_period_end, current_period_end),"
				" updated_at = excluded.updated_at",
	[ST_COUNTS] = "SELECT (SELECT count(*) FROM contacts c WHERE EXISTS (SELECT 1 FROM contact_tags ct"
		      "   JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.name = 'stripe-integration')),"
		      " (SELECT count(*) FROM orders WHERE connection_id = ?1),"
		      " (SELECT count(*) FROM recurring_payments WHERE connection_id = ?1),"
		      " (SELECT count(*) FROM integration_log WHERE connection_id = ?1)",
	[ST_JOB_INSERT] = "INSERT INTO sync_jobs (connection_id, resource, state, queued_at) VALUES (?1, ?2, 'queued', ?3)",
	[ST_JOB_ACTIVE_FOR] = "SELECT id FROM sync_jobs WHERE connection_id = ?1 AND resource = ?2"
			      " AND state IN ('queued','running','paused')",
	[ST_JOB_GET] = "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE id = ?1",
	[ST_JOBS_LIST] = "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE connection_id = ?1 ORDER BY id DESC LIMIT 20",
	[ST_JOB_NEXT] = "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE state IN ('running','queued')"
			" ORDER BY state = 'running' DESC, id LIMIT 1",
	[ST_JOB_STATE] = "SELECT state FROM sync_jobs WHERE id = ?1",
	[ST_JOB_START] = "UPDATE sync_jobs SET state = 'running', error = '',"
			 " started_at = coalesce(started_at, ?2) WHERE id = ?1 AND state IN ('queued','running')",
	[ST_JOB_FINISH] = "UPDATE sync_jobs SET state = ?2, error = ?3, finished_at = ?4,"
			  " elapsed_ms = elapsed_ms + ?5 WHERE id = ?1 AND state IN ('queued','running')",
	[ST_JOB_PAGE] = "UPDATE sync_jobs SET objects = objects + ?2, pages = pages + 1,"
			" contacts_created = contacts_created + ?3, contacts_updated = contacts_updated + ?4,"
			" skipped = skipped + ?5, elapsed_ms = elapsed_ms + ?6 WHERE id = ?1",
	[ST_JOBS_CANCEL_CONNECTION] = "UPDATE sync_jobs SET state = 'cancelled', error = ?3, finished_at = ?2"
				      " WHERE connection_id = ?1 AND state IN ('queued','running','paused','failed')",
	[ST_JOB_CONTROL] = "UPDATE sync_jobs SET state = ?3, finished_at = CASE WHEN ?3 = 'cancelled' THEN ?4"
			   " ELSE finished_at END WHERE id = ?1 AND connection_id = ?2 AND state IN"
			   " (SELECT value FROM json_each(?5))",
	[ST_WINDOW_INSERT] = "INSERT INTO sync_windows (job_id, created_gte, created_lt) VALUES (?1, ?2, ?3)",
	[ST_WINDOWS_LIST] = "SELECT id, job_id, created_gte, created_lt, coalesce(cursor, ''),"
			    " coalesce(oldest_seen, created_lt), done FROM sync_windows WHERE job_id = ?1 ORDER BY id",
	[ST_WINDOW_ADVANCE] = "UPDATE sync_windows SET cursor = ?2, oldest_seen = ?3, done = ?4 WHERE id = ?1",
	[ST_JOB_PROGRESS] = "SELECT coalesce(sum(CASE WHEN done THEN created_lt - created_gte"
			    " ELSE created_lt - coalesce(oldest_seen, created_lt) END), 0),"
			    " coalesce(sum(created_lt - created_gte), 0), count(*) FROM sync_windows WHERE job_id = ?1",
	[ST_WINDOW_SET_GTE] = "UPDATE sync_windows SET created_gte = ?2 WHERE id = ?1",
	[ST_CONNECTION_ROLL] = "UPDATE connections SET endpoint_id = ?2, secret_sealed = ?3,"
			       " previous_secret_sealed = secret_sealed, previous_secret_until = ?4"
			       " WHERE id = ?1 AND status = 'connected'",
	[ST_JOB_ANY] = "SELECT count(*) FROM sync_jobs WHERE connection_id = ?1 AND resource = ?2",
	[ST_CATCHUP_ENSURE] = "INSERT INTO catchups (connection_id) SELECT ?1 WHERE EXISTS"
			      " (SELECT 1 FROM connections WHERE id = ?1) ON CONFLICT (connection_id) DO NOTHING",
	[ST_CATCHUP_GET] = "SELECT connection_id, cursor, coalesce(requested_at, 0), run_lte IS NOT NULL,"
			   " coalesce(run_gte, 0), coalesce(run_lte, 0), coalesce(run_after, ''), run_newest, run_found,"
			   " run_new, run_skipped, coalesce(last_at, 0), last_found, last_new, last_skipped, last_error,"
			   " undelivered, undelivered_more, coalesce(undelivered_oldest, 0), endpoint_state,"
			   " endpoint_detail, coalesce(endpoint_checked_at, 0), coalesce(health_requested_at, 0)"
			   " FROM catchups WHERE connection_id = ?1",
	[ST_CATCHUP_REQUEST] = "UPDATE catchups SET requested_at = coalesce(requested_at, ?2) WHERE connection_id = ?1",
	[ST_CATCHUP_REQUEST_HEALTH] = "UPDATE catchups SET health_requested_at = coalesce(health_requested_at, ?2)"
				      " WHERE connection_id = ?1",
	[ST_CATCHUP_BEGIN] = "UPDATE catchups SET run_gte = ?2, run_lte = ?3, run_after = NULL, run_newest = 0,"
			     " run_found = 0, run_new = 0, run_skipped = 0, requested_at = NULL, last_error = ''"
			     " WHERE connection_id = ?1",
	[ST_CATCHUP_PAGE] = "UPDATE catchups SET run_after = ?2, run_newest = max(run_newest, ?3),"
			    " run_found = run_found + ?4, run_new = run_new + ?5, run_skipped = run_skipped + ?6"
			    " WHERE connection_id = ?1 AND run_lte IS NOT NULL",
	[ST_CATCHUP_FINISH] = "UPDATE catchups SET cursor = max(cursor, run_newest), last_at = ?2, last_found = run_found,"
			      " last_new = run_new, last_skipped = run_skipped, last_error = '', run_gte = NULL,"
			      " run_lte = NULL, run_after = NULL WHERE connection_id = ?1",
	[ST_CATCHUP_FAIL] = "UPDATE catchups SET last_at = ?2, last_error = ?3 WHERE connection_id = ?1",
	[ST_CATCHUP_UNDELIVERED] = "UPDATE catchups SET undelivered = ?2, undelivered_more = ?3,"
				   " undelivered_oldest = nullif(?4, 0) WHERE connection_id = ?1",
	[ST_CATCHUP_ENDPOINT] = "UPDATE catchups SET endpoint_state = ?2, endpoint_detail = ?3, endpoint_checked_at = ?4,"
				" health_requested_at = NULL WHERE connection_id = ?1",
	[ST_CONNECTION_SET_KEY] = "UPDATE connections SET key_sealed = ?2, key_hint = ?3 WHERE id = ?1"
				  " AND status = 'connected'",
	[ST_CONTACT_ORDERS] = "SELECT stripe_id, amount, amount_refunded, currency, status, coalesce(created, '')"
			      " FROM orders WHERE contact_id = ?1 ORDER BY id DESC LIMIT 100",
	[ST_CONTACT_RECURRING] = "SELECT subscription_id, status, coalesce(price_id, ''), coalesce(amount, 0),"
				 " coalesce(currency, ''), coalesce(interval, ''), coalesce(current_period_end, ''), amount IS NOT NULL,"
				 " coalesce(canceled_at, '')"
				 " FROM recurring_payments WHERE contact_id = ?1 ORDER BY id DESC LIMIT 100",
	/* retention: at most ?2 rows older than ?1 per call (small writer batches) */
	[ST_PRUNE_REJECTED] = "DELETE FROM integration_log WHERE id IN (SELECT id FROM integration_log"
			      " WHERE at < ?1 AND result = 'rejected' LIMIT ?2)",
	[ST_PRUNE_LOG] = "DELETE FROM integration_log WHERE id IN (SELECT id FROM integration_log"
			 " WHERE at < ?1 LIMIT ?2)",
	[ST_PRUNE_PAYLOADS] = "UPDATE integration_log SET payload = NULL WHERE id IN (SELECT id FROM"
			      " integration_log WHERE at < ?1 AND payload IS NOT NULL LIMIT ?2)",
	[ST_PRUNE_LOGINS] = "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts"
			    " WHERE last_at < ?1 LIMIT ?2)",
	[ST_SEGMENT_INSERT] = "INSERT INTO segments (name, definition, created_at) VALUES (?1, ?2, ?3)",
	[ST_SEGMENT_UPDATE] = "UPDATE segments SET name = ?2, definition = ?3 WHERE id = ?1",
	[ST_SEGMENT_DELETE] = "DELETE FROM segments WHERE id = ?1",
	[ST_SEGMENT_GET] = "SELECT id, name, definition, created_at FROM segments WHERE id = ?1",
	[ST_SEGMENTS_LIST] = "SELECT id, name, definition, created_at FROM segments ORDER BY name",
	[ST_CONTACT_UNTAG] = "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag_id ="
			     " (SELECT id FROM tags WHERE name = ?2)",
	[ST_ORDER_STATUS] = "SELECT status FROM orders WHERE stripe_id = ?1",
	[ST_RECURRING_STATUS] = "SELECT status FROM recurring_payments WHERE subscription_id = ?1",
	[ST_AUTOMATION_INSERT] = "INSERT INTO automations (name, trigger, trigger_tag, enabled, history,"
				 " secret_sealed, created_at, segment_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
				 " nullif(?8, 0))",
	[ST_AUTOMATION_UPDATE] = "UPDATE automations SET name = ?2, trigger = ?3, trigger_tag = ?4,"
				 " enabled = ?5, history = ?6, segment_id = nullif(?7, 0) WHERE id = ?1",
	[ST_AUTOMATION_DELETE] = "DELETE FROM automations WHERE id = ?1",
	[ST_AUTOMATION_ENABLE] = "UPDATE automations SET enabled = ?2 WHERE id = ?1",
	[ST_AUTOMATION_SECRET] = "UPDATE automations SET secret_sealed = ?2 WHERE id = ?1",
	[ST_AUTOMATION_GET] = "SELECT " AUTOMATION_COLUMNS " FROM automations WHERE id = ?1",
	[ST_AUTOMATIONS_LIST] = "SELECT " AUTOMATION_COLUMNS " FROM automations ORDER BY id",
	[ST_AUTOMATIONS_FOR] = "SELECT " AUTOMATION_COLUMNS_OF("a") ", x.position, x.kind, x.name, x.value"
			       " FROM automations a JOIN automation_actions x ON x.automation_id = a.id"
			       " WHERE a.trigger = ?1 AND a.enabled = 1 AND (?2 IS NULL OR a.trigger_tag = ?2)"
			       " ORDER BY a.id, x.position",
	[ST_ACTIONS_DELETE] = "DELETE FROM automation_actions WHERE automation_id = ?1",
	[ST_ACTION_INSERT] = "INSERT INTO automation_actions (automation_id, position, kind, name, value)"
			     " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_ACTIONS_LIST] = "SELECT automation_id, position, kind, name, value FROM automation_actions"
			    " WHERE automation_id = ?1 ORDER BY position",
	[ST_RUN_INSERT] = "INSERT INTO automation_runs (automation_id, at, contact_id, source, detail)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RUN_COUNT] = "UPDATE automations SET runs = runs + 1, last_run_at = ?2 WHERE id = ?1",
	[ST_RUNS_LIST] = "SELECT id, automation_id, at, coalesce(contact_id, 0), source, detail"
			 " FROM automation_runs WHERE automation_id = ?1 ORDER BY id DESC LIMIT 50",
	[ST_OUTBOX_INSERT] = "INSERT INTO outbox (automation_id, url, body, idempotency_key, test, state,"
			     " next_at, give_up_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?6)",
	[ST_OUTBOX_NEXT] = "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN automations a ON a.id = o.automation_id"
			   " WHERE o.state = 'pending' AND o.next_at <= ?1 ORDER BY o.next_at, o.id LIMIT ?2",
	[ST_OUTBOX_ATTEMPT] = "INSERT INTO outbox_attempts (outbox_id, at, status, ms, excerpt, error)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_OUTBOX_SETTLE] = "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_at = ?3,"
			     " finished_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?4 END WHERE id = ?1",
	[ST_AUTOMATION_FAILED] = "UPDATE automations SET failures = failures + 1 WHERE id ="
				 " (SELECT automation_id FROM outbox WHERE id = ?1 AND test = 0)",
	[ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN automations a ON a.id = o.automation_id"
			   " WHERE o.automation_id = ?1 ORDER BY o.id DESC LIMIT 50",
	[ST_OUTBOX_RESEND] = "UPDATE outbox SET state = 'pending', next_at = ?3, give_up_at = ?4,"
			     " finished_at = NULL WHERE id = ?1 AND automation_id = ?2",
	[ST_ATTEMPTS_LIST] = "SELECT x.id, x.outbox_id, x.at, x.status, x.ms, x.excerpt, x.error"
			     " FROM outbox_attempts x JOIN outbox o ON o.id = x.outbox_id"
			     " WHERE o.automation_id = ?1 ORDER BY x.id DESC LIMIT 200",
	/* money actually taken is a charge's: an invoice or checkout session is paid
	 * through a charge, so counting them too would count the money twice */
	[ST_CONTACT_REVENUE] = "SELECT currency, sum(amount - amount_refunded - amount_lost), count(*), 0 FROM orders"
			       " WHERE contact_id = ?1 AND substr(stripe_id, 1, 3) = 'ch_'"
			       " AND status IN ('paid', 'partially_refunded', 'refunded')"
			       " GROUP BY currency ORDER BY currency",
	[ST_CONTACT_ORDER_SPAN] = "SELECT count(*), coalesce(min(created), ''), coalesce(max(created), '')"
				  " FROM orders WHERE contact_id = ?1",
	/* monthly: yearly / 12, weekly * 52 / 12, daily * 365 / 12, per interval_count */
	[ST_CONTACT_MONTHLY] = "SELECT coalesce(currency, ''), CAST(round(coalesce(sum(amount * CASE interval"
			       " WHEN 'month' THEN 1.0 WHEN 'year' THEN 1.0 / 12 WHEN 'week' THEN 52.0 / 12"
			       " WHEN 'day' THEN 365.0 / 12 END / coalesce(interval_count, 1)), 0)) AS INTEGER),"
			       " count(*), sum(amount IS NULL OR interval NOT IN ('month', 'year', 'week', 'day')"
			       " OR interval IS NULL)"
			       " FROM recurring_payments WHERE contact_id = ?1 AND status = 'active'"
			       " GROUP BY currency ORDER BY currency",
	[ST_WINDOW_GTE] = "SELECT created_gte FROM sync_windows WHERE id = ?1",
	[ST_PENDING_PUT] = "INSERT INTO pending_events (connection_id, event_id, customer_id, payload, received_at, next_try)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (connection_id, event_id) DO NOTHING",
	[ST_PENDING_DELETE] = "DELETE FROM pending_events WHERE connection_id = ?1 AND event_id = ?2",
	/* due: the customer is linked now, or the wait is over (oldest first) */
	/* due: what it waits for is there now (its customer is linked; for a refund
	 * or a dispute, customer_id holds the charge: its order exists), or the
	 * wait is over (oldest first) */
	[ST_PENDING_DUE] = "SELECT p.connection_id, p.event_id, p.payload, p.received_at, p.fetch_object"
			  " FROM pending_events p"
			  " WHERE p.next_try <= ?1 OR EXISTS (SELECT 1 FROM stripe_customers s"
			  " WHERE s.customer_id = p.customer_id)"
			  " OR EXISTS (SELECT 1 FROM orders o WHERE o.stripe_id = p.customer_id)"
			  " ORDER BY p.rowid LIMIT ?2",
	[ST_PENDING_DEFER] = "UPDATE pending_events SET next_try = ?3 WHERE connection_id = ?1 AND event_id = ?2",
	[ST_PENDING_FOR_CUSTOMER] = "SELECT connection_id, event_id, payload, received_at, fetch_object"
				    " FROM pending_events"
				    " WHERE customer_id = ?1 AND connection_id = ?2 ORDER BY rowid LIMIT ?3",
	/* a tie: no customer to wait for; an event already waiting for its
	 * customer now waits for the fetch instead (and no longer for it) */
	[ST_PENDING_PUT_FETCH] = "INSERT INTO pending_events (connection_id, event_id, customer_id, payload,"
				 " received_at, next_try, fetch_object) VALUES (?1, ?2, '', ?3, ?4, ?5, ?6)"
				 " ON CONFLICT (connection_id, event_id) DO UPDATE SET"
				 " customer_id = '', fetch_object = excluded.fetch_object, next_try = excluded.next_try",
	/* a refund's (a dispute's) status is replaced by a newer version, or on a
	 * tie by a status at least as final (status_rank) */
	[ST_REFUND_PUT] = "INSERT INTO refunds (refund_id, charge_id, connection_id, amount, currency, status, counts,"
			  " status_rank, created, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
			  " ON CONFLICT (refund_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,"
			  " status = excluded.status, counts = excluded.counts, status_rank = excluded.status_rank,"
			  " created = CASE WHEN excluded.created > 0 THEN excluded.created ELSE refunds.created END,"
			  " version = excluded.version, updated_at = excluded.updated_at"
			  " WHERE excluded.version > refunds.version OR (excluded.version = refunds.version"
			  " AND excluded.status_rank >= refunds.status_rank)",
	[ST_DISPUTE_STATUS] = "SELECT status FROM disputes WHERE dispute_id = ?1",
	[ST_DISPUTE_PUT] = "INSERT INTO disputes (dispute_id, charge_id, connection_id, amount, currency, status, reason,"
			   " lost, status_rank, created, version, updated_at)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
			   " ON CONFLICT (dispute_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,"
			   " status = excluded.status, reason = excluded.reason, lost = excluded.lost,"
			   " status_rank = excluded.status_rank,"
			   " created = CASE WHEN excluded.created > 0 THEN excluded.created ELSE disputes.created END,"
			   " version = excluded.version, updated_at = excluded.updated_at"
			   " WHERE excluded.version > disputes.version OR (excluded.version = disputes.version"
			   " AND excluded.status_rank >= disputes.status_rank)",
	[ST_ORDER_REPORTED] = "UPDATE orders SET refunded_reported = ?2, reported_at = ?3 WHERE stripe_id = ?1"
			      " AND reported_at <= ?3",
	/* what the ledger needs of one charge (ledger.h): the order's amount and
	 * status, the refunded amount its charge last reported, the refunds that
	 * count, the refunds that report included (made by then, and counting or
	 * failed only since), the lost disputes */
	[ST_LEDGER_TOTALS] = "SELECT o.amount, o.status, o.refunded_reported,"
			     " (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.charge_id = o.stripe_id"
			     "  AND r.counts = 1),"
			     " (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.charge_id = o.stripe_id"
			     "  AND r.created <= o.reported_at AND (r.counts = 1 OR r.version > o.reported_at)),"
			     " (SELECT coalesce(sum(d.amount), 0) FROM disputes d WHERE d.charge_id = o.stripe_id"
			     "  AND d.lost = 1)"
			     " FROM orders o WHERE o.stripe_id = ?1",
	[ST_ORDER_SETTLE] = "UPDATE orders SET amount_refunded = ?2, amount_lost = ?3, status = ?4, updated_at = ?5"
			    " WHERE stripe_id = ?1",
	[ST_ORDER_CONTACT] = "SELECT coalesce(contact_id, 0) FROM orders WHERE stripe_id = ?1",
	[ST_CUSTOMER_DELETED] = "UPDATE stripe_customers SET deleted_at = coalesce(deleted_at, ?2) WHERE customer_id = ?1",
	[ST_CONTACT_LINKS] = "SELECT customer_id, coalesce(deleted_at, 0) FROM stripe_customers WHERE contact_id = ?1"
			     " ORDER BY customer_id LIMIT 100",
	[ST_CONTACT_DISPUTES] = "SELECT d.charge_id, d.dispute_id, d.status, d.reason, d.amount, d.currency"
				" FROM disputes d JOIN orders o ON o.stripe_id = d.charge_id WHERE o.contact_id = ?1"
				" ORDER BY d.created, d.dispute_id LIMIT 200",
	[ST_RECURRING_CANCELED_AT] = "UPDATE recurring_payments SET canceled_at = ?2 WHERE subscription_id = ?1",
};
_Static_assert(sizeof sql / sizeof sql[0] == ST__MAX, "every statement needs its SQL");

#define TAG_CACHE 32
#define TAG_CACHE_NAME 64

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmts[ST__MAX];  /* prepared on first use, finalized at close */
	/* tag name → id, so tagging is one statement; emptied on any rollback
	 * (a cached tag may have been created by what was rolled back) */
	struct {
		char name[TAG_CACHE_NAME];
		long long id;
	} tags[TAG_CACHE];
	size_t n_tags;
};

/* Maps an SQLite result code to our error type, logging unexpected ones. */
static sl_err fail(struct store *db, int rc, const char *what)
{
	int base = rc & 0xff;
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return SL_ERR_BUSY;
	if (base == SQLITE_CONSTRAINT)
		return SL_ERR_EXISTS;
	if (base == SQLITE_FULL || base == SQLITE_IOERR)
		return SL_ERR_IO;
	fprintf(stderr, "stripelink: store: %s: %s\n", what,
		db && db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
	return SL_ERR_DB;
}

/* Returns the cached, reset statement, or NULL (logged) when it cannot be
 * prepared. */
static sqlite3_stmt *stmt(struct store *db, enum stmt s)
{
	sqlite3_stmt *st = db->stmts[s];
	if (!st) {
		int rc = sqlite3_prepare_v3(db->db, sql[s], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK) {
			fail(db, rc, sql[s]);
			return NULL;
		}
		db->stmts[s] = st;
	}
	return st;
}

/* Resets st for the next use and returns e unchanged. */
static sl_err done(sqlite3_stmt *st, sl_err e)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return e;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static const char *col_text(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return arena_strdup(a, t ? (const char *)t : "");
}

/* Makes room for one more element in an arena array by doubling it;
 * returns the (possibly moved) array. */
static void *grow(struct arena *a, void *items, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return items;
	size_t bigger = *cap ? 2 * *cap : 8;
	void *p = arena_alloc(a, bigger * size);
	if (count)
		memcpy(p, items, count * size);
	*cap = bigger;
	return p;
}

/* Steps st to its one expected row: SL_OK leaves the row to be read (the
 * caller then calls done()), otherwise st is reset and SL_ERR_NOT_FOUND or
 * the failure is returned. */
static sl_err step_row(struct store *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return SL_OK;
	return done(st, rc == SQLITE_DONE ? SL_ERR_NOT_FOUND : fail(db, rc, what));
}

/* Reads the one row a statement finds for an id with read(), which copies
 * it into out from the arena. SL_ERR_NOT_FOUND when there is none. */
typedef void (*row_reader)(struct arena *a, sqlite3_stmt *st, void *out);

static sl_err get_by_id(struct store *db, enum stmt which, long long id, row_reader read,
			struct arena *a, void *out)
{
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sl_err row = step_row(db, st, sql[which]);
	if (row)
		return row;
	read(a, st, out);
	return done(st, SL_OK);
}

/* Collects every row a statement finds for an id (?1), at most max (0: no
 * cap), into an arena array of elem-sized items filled by read(). */
static sl_err list_by_id(struct store *db, enum stmt which, long long id, row_reader read,
			 size_t elem, size_t max, struct arena *a, void **out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	size_t cap = 0, count = 0;
	char *items = NULL;
	int rc = SQLITE_DONE;
	while ((max == 0 || count < max) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		items = grow(a, items, &cap, count, elem);
		read(a, st, items + count * elem);
		count++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return done(st, fail(db, rc, sql[which]));
	*out = items ? items : arena_alloc(a, elem);
	*n = count;
	return done(st, SL_OK);
}

/* Runs a statement that returns no rows. */
static sl_err exec_step(struct store *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return done(st, fail(db, rc, what));
	return done(st, SL_OK);
}

static sl_err run(struct store *db, enum stmt s)
{
	sqlite3_stmt *st = stmt(db, s);
	return st ? exec_step(db, st, sql[s]) : SL_ERR_DB;
}

/* Waits for another process's write lock in short sleeps (100 µs doubling to
 * 2 ms) for about 5 s in all. SQLite's own busy timeout sleeps up to 100 ms
 * at a time, which a webhook answered after its group's commit would feel
 * whenever the sync worker writes at the same moment. */
static int busy_wait(void *unused, int tries)
{
	(void)unused;
	if (tries > 2500)
		return 0;
	useconds_t us = tries < 5 ? 100u << tries : 2000u;
	usleep(us);
	return 1;
}

/* Process-wide SQLite settings, before the first connection: no memory
 * statistics (they take one global mutex on every allocation, which the
 * request threads and the writer then contend for). */
static void store_global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_open(const char *path, sl_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, store_global_init);
	struct store *db = calloc(1, sizeof *db);
	if (!db) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	int rc = sqlite3_open_v2(path, &db->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = fail(db, rc, "open");
		goto out;
	}
	sqlite3_busy_handler(db->db, busy_wait, NULL);
	rc = sqlite3_exec(db->db,
			  "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA temp_store = MEMORY;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*err = fail(db, rc, "pragmas");
		goto out;
	}
	*err = SL_OK;
	return db;
out:
	store_close(db);
	return NULL;
}

void store_close(struct store *db)
{
	if (!db)
		return;
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->db);
	free(db);
}

int store_schema_version(void)
{
	return N_MIGRATIONS;
}

sl_err store_migrate(struct store *db)
{
	sqlite3_stmt *st = NULL;
	int version = 0;
	int rc = sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return fail(db, rc, "user_version");
	if (version > N_MIGRATIONS) {
		fprintf(stderr, "stripelink: database schema %d is newer than this build (%d)\n",
			version, N_MIGRATIONS);
		return SL_ERR_DB;
	}
	for (int v = version; v < N_MIGRATIONS; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", v + 1);
		char *msg = NULL;
		rc = sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db->db, migrations[v], NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db->db, bump, NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db->db, "COMMIT", NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			fprintf(stderr, "stripelink: migration %d failed: %s\n", v + 1,
				msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			return (rc & 0xff) == SQLITE_BUSY ? SL_ERR_BUSY : SL_ERR_DB;
		}
	}
	return SL_OK;
}

sl_err store_begin(struct store *db) { return run(db, ST_BEGIN); }
sl_err store_commit(struct store *db) { return run(db, ST_COMMIT); }

sl_err store_rollback(struct store *db)
{
	db->n_tags = 0;
	return run(db, ST_ROLLBACK);
}
sl_err store_savepoint(struct store *db) { return run(db, ST_SAVEPOINT); }
sl_err store_release(struct store *db) { return run(db, ST_RELEASE); }

sl_err store_rollback_to(struct store *db)
{
	db->n_tags = 0;
	sl_err e = run(db, ST_ROLLBACK_TO);
	return e ? e : run(db, ST_RELEASE);
}

sl_err store_ping(struct store *db)
{
	return run(db, ST_PING);
}

/* Runs a single-row query whose first column is an integer. */
static sl_err query_int(struct store *db, sqlite3_stmt *st, long long *out)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		return done(st, SL_OK);
	}
	if (rc == SQLITE_DONE)
		return done(st, SL_ERR_NOT_FOUND);
	return done(st, fail(db, rc, "query"));
}

/* ---- users and sessions ---- */

sl_err store_user_count(struct store *db, long long *count)
{
	sqlite3_stmt *st = stmt(db, ST_USER_COUNT);
	return st ? query_int(db, st, count) : SL_ERR_DB;
}

sl_err store_user_create(struct store *db, const char *username,
			 const char *password_hash, long long now, long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_USER_INSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, username);
	bind_text(st, 2, password_hash);
	sqlite3_bind_int64(st, 3, now);
	sl_err e = exec_step(db, st, "user insert");
	if (!e && id)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

sl_err store_user_find(struct store *db, struct arena *a, const char *username,
		       struct user *out)
{
	sqlite3_stmt *st = stmt(db, ST_USER_FIND);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, username);
	sl_err row = step_row(db, st, "user find");
	if (row)
		return row;
	out->id = sqlite3_column_int64(st, 0);
	out->username = col_text(a, st, 1);
	out->password_hash = col_text(a, st, 2);
	return done(st, SL_OK);
}

sl_err store_session_create(struct store *db, const char *token_hash,
			    long long user_id, const char *csrf, long long now,
			    long long expires_at)
{
	sqlite3_stmt *st = stmt(db, ST_SESSION_INSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, user_id);
	bind_text(st, 3, csrf);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, expires_at);
	return exec_step(db, st, "session insert");
}

sl_err store_session_find(struct store *db, struct arena *a, const char *token_hash,
			  long long now, struct session_row *out)
{
	sqlite3_stmt *st = stmt(db, ST_SESSION_FIND);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now);
	sl_err row = step_row(db, st, "session find");
	if (row)
		return row;
	out->user_id = sqlite3_column_int64(st, 0);
	out->username = col_text(a, st, 1);
	out->csrf = col_text(a, st, 2);
	out->expires_at = sqlite3_column_int64(st, 3);
	return done(st, SL_OK);
}

sl_err store_session_delete(struct store *db, const char *token_hash)
{
	sqlite3_stmt *st = stmt(db, ST_SESSION_DELETE);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, token_hash);
	return exec_step(db, st, "session delete");
}

sl_err store_session_purge(struct store *db, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_SESSION_PURGE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, now);
	return exec_step(db, st, "session purge");
}

sl_err store_login_failures(struct store *db, const char *key,
			    long long *failures, long long *last_at)
{
	sqlite3_stmt *st = stmt(db, ST_LOGIN_GET);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	int rc = sqlite3_step(st);
	*failures = 0;
	*last_at = 0;
	if (rc == SQLITE_ROW) {
		*failures = sqlite3_column_int64(st, 0);
		*last_at = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		return done(st, fail(db, rc, "login get"));
	}
	return done(st, SL_OK);
}

sl_err store_login_failed(struct store *db, const char *key, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_LOGIN_FAILED);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	return exec_step(db, st, "login failed");
}

sl_err store_login_clear(struct store *db, const char *key)
{
	sqlite3_stmt *st = stmt(db, ST_LOGIN_CLEAR);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	return exec_step(db, st, "login clear");
}

/* ---- fields ---- */

sl_err store_fields_list(struct store *db, struct arena *a, struct field **out,
			 size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_FIELDS_LIST);
	if (!st)
		return SL_ERR_DB;
	size_t cap = 16;
	struct field *f = arena_alloc(a, cap * sizeof *f);
	size_t count = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		f = grow(a, f, &cap, count, sizeof *f);
		f[count].id = sqlite3_column_int64(st, 0);
		f[count].key = col_text(a, st, 1);
		f[count].label = col_text(a, st, 2);
		f[count].type = col_text(a, st, 3);
		f[count].builtin = sqlite3_column_int(st, 4) != 0;
		count++;
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "fields list"));
	*out = f;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_field_create(struct store *db, const char *key, const char *label,
			  const char *type, long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_FIELD_INSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	bind_text(st, 2, label);
	bind_text(st, 3, type);
	sl_err e = exec_step(db, st, "field insert");
	if (!e && id)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

sl_err store_field_delete(struct store *db, long long id)
{
	sqlite3_stmt *st = stmt(db, ST_FIELD_DELETE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sl_err e = exec_step(db, st, "field delete");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_field_exists(struct store *db, const char *key, bool *exists)
{
	sqlite3_stmt *st = stmt(db, ST_FIELD_EXISTS);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	long long one;
	sl_err e = query_int(db, st, &one);
	*exists = e == SL_OK;
	return e == SL_ERR_NOT_FOUND ? SL_OK : e;
}

/* ---- contacts ---- */

static void read_contact(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct contact *c = out;
	c->id = sqlite3_column_int64(st, 0);
	c->email = col_text(a, st, 1);
	c->first_name = col_text(a, st, 2);
	c->last_name = col_text(a, st, 3);
	c->phone = col_text(a, st, 4);
	c->tags = col_text(a, st, 5);
	c->created_at = sqlite3_column_int64(st, 6);
	c->updated_at = sqlite3_column_int64(st, 7);
}

/* Makes a LIKE pattern "%text%" with %, _ and \ escaped by '\'. */
static char *like_pattern(struct arena *a, const char *text)
{
	size_t n = strlen(text);
	char *p = arena_alloc(a, 2 * n + 3);
	char *d = p;
	*d++ = '%';
	for (; *text; text++) {
		if (*text == '%' || *text == '_' || *text == '\\')
			*d++ = '\\';
		*d++ = *text;
	}
	*d++ = '%';
	*d = '\0';
	return p;
}

static void bind_match(struct arena *a, sqlite3_stmt *st, const struct contact_query *q)
{
	bind_text(st, 1, q->text && *q->text ? like_pattern(a, q->text) : NULL);
	bind_text(st, 2, q->tag && *q->tag ? q->tag : NULL);
}

sl_err store_contacts_search(struct store *db, struct arena *a,
			     const struct contact_query *q, struct contact **out,
			     size_t *n, long long *total)
{
	sqlite3_stmt *count = stmt(db, ST_CONTACTS_COUNT);
	sqlite3_stmt *st = stmt(db, ST_CONTACTS_SEARCH);
	if (!count || !st)
		return SL_ERR_DB;
	bind_match(a, count, q);
	sl_err e = query_int(db, count, total);
	if (e)
		return e;
	long long limit = q->limit > 0 ? q->limit : 50;
	bind_match(a, st, q);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, q->offset > 0 ? q->offset : 0);
	struct contact *c = arena_alloc(a, (size_t)limit * sizeof *c);
	size_t got = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < (size_t)limit)
		read_contact(a, st, &c[got++]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return done(st, fail(db, rc, "contacts search"));
	*out = c;
	*n = got;
	return done(st, SL_OK);
}

sl_err store_contact_get(struct store *db, struct arena *a, long long id,
			 struct contact *out)
{
	return get_by_id(db, ST_CONTACT_GET, id, read_contact, a, out);
}

static void read_value(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct contact_value *v = out;
	v->field_id = sqlite3_column_int64(st, 0);
	v->key = col_text(a, st, 1);
	v->label = col_text(a, st, 2);
	v->value = col_text(a, st, 3);
}

static void read_order(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct order_row *o = out;
	o->stripe_id = col_text(a, st, 0);
	o->amount = sqlite3_column_int64(st, 1);
	o->amount_refunded = sqlite3_column_int64(st, 2);
	o->currency = col_text(a, st, 3);
	o->status = col_text(a, st, 4);
	o->created = col_text(a, st, 5);
}

static void read_recurring(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct recurring_row *r = out;
	r->subscription_id = col_text(a, st, 0);
	r->status = col_text(a, st, 1);
	r->price_id = col_text(a, st, 2);
	r->amount = sqlite3_column_int64(st, 3);
	r->currency = col_text(a, st, 4);
	r->interval = col_text(a, st, 5);
	r->current_period_end = col_text(a, st, 6);
	r->has_amount = sqlite3_column_int(st, 7) != 0;
	r->canceled_at = col_text(a, st, 8);
}

static void read_window(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct sync_window_row *w = out;
	w->id = sqlite3_column_int64(st, 0);
	w->job_id = sqlite3_column_int64(st, 1);
	w->created_gte = sqlite3_column_int64(st, 2);
	w->created_lt = sqlite3_column_int64(st, 3);
	w->cursor = col_text(a, st, 4);
	w->oldest_seen = sqlite3_column_int64(st, 5);
	w->done = sqlite3_column_int(st, 6) != 0;
}

sl_err store_contact_values(struct store *db, struct arena *a, long long id,
			    struct contact_value **out, size_t *n)
{
	return list_by_id(db, ST_CONTACT_VALUES, id, read_value, sizeof **out, 0, a, (void **)out, n);
}

sl_err store_tags_list(struct store *db, struct arena *a, const char ***out,
		       size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_TAGS_LIST);
	if (!st)
		return SL_ERR_DB;
	size_t cap = 16, count = 0;
	const char **t = arena_alloc(a, cap * sizeof *t);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = grow(a, t, &cap, count, sizeof *t);
		t[count++] = col_text(a, st, 0);
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "tags list"));
	*out = t;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_contacts_each(struct store *db, const long long *custom_ids,
			   size_t n_custom, store_contact_row_fn row, void *ctx)
{
	sqlite3_stmt *cs = stmt(db, ST_CONTACTS_ALL);
	sqlite3_stmt *vs = stmt(db, ST_VALUES_ALL);
	if (!cs || !vs)
		return SL_ERR_DB;
	sl_err e = SL_OK;
	struct arena *a = arena_new();
	const char **values = calloc(n_custom + 1, sizeof *values);
	if (!values) {
		e = SL_ERR_NOMEM;
		goto out;
	}
	int vrc = sqlite3_step(vs);
	int rc;
	while ((rc = sqlite3_step(cs)) == SQLITE_ROW) {
		struct contact c;
		arena_reset(a);
		read_contact(a, cs, &c);
		memset(values, 0, n_custom * sizeof *values);
		/* both queries are in contact id order: merge */
		while (vrc == SQLITE_ROW && sqlite3_column_int64(vs, 0) < c.id)
			vrc = sqlite3_step(vs);
		while (vrc == SQLITE_ROW && sqlite3_column_int64(vs, 0) == c.id) {
			long long field = sqlite3_column_int64(vs, 1);
			for (size_t i = 0; i < n_custom; i++)
				if (custom_ids[i] == field)
					values[i] = col_text(a, vs, 2);
			vrc = sqlite3_step(vs);
		}
		if (vrc != SQLITE_ROW && vrc != SQLITE_DONE) {
			e = fail(db, vrc, "values all");
			goto out;
		}
		if ((e = row(ctx, &c, values)))
			goto out;
	}
	if (rc != SQLITE_DONE)
		e = fail(db, rc, "contacts all");
out:
	done(cs, SL_OK);
	done(vs, SL_OK);
	free(values);
	arena_free(a);
	return e;
}

sl_err store_contact_upsert(struct store *db, const char *email,
			    const char *email_key, long long now, long long *id,
			    bool *created)
{
	sqlite3_stmt *find = stmt(db, ST_CONTACT_FIND_KEY);
	if (!find)
		return SL_ERR_DB;
	bind_text(find, 1, email_key);
	sl_err e = query_int(db, find, id);
	if (e != SL_ERR_NOT_FOUND) {
		*created = false;
		return e;
	}
	sqlite3_stmt *ins = stmt(db, ST_CONTACT_INSERT);
	if (!ins)
		return SL_ERR_DB;
	bind_text(ins, 1, email);
	bind_text(ins, 2, email_key);
	sqlite3_bind_int64(ins, 3, now);
	if ((e = exec_step(db, ins, "contact insert")))
		return e;
	*id = sqlite3_last_insert_rowid(db->db);
	*created = true;
	return SL_OK;
}

static const struct {
	const char *key;
	enum stmt st;
} builtin_setters[] = {
	{"first_name", ST_CONTACT_SET_FIRST},
	{"last_name", ST_CONTACT_SET_LAST},
	{"phone", ST_CONTACT_SET_PHONE},
	{"email", ST_CONTACT_SET_EMAIL},
};

sl_err store_contact_set(struct store *db, long long id, const char *key,
			 const char *value, long long now)
{
	enum stmt which = ST_CONTACT_SET_VALUE;
	for (size_t i = 0; i < sizeof builtin_setters / sizeof builtin_setters[0]; i++)
		if (strcmp(builtin_setters[i].key, key) == 0)
			which = builtin_setters[i].st;
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	if (which == ST_CONTACT_SET_VALUE) {
		bind_text(st, 2, key);
		bind_text(st, 3, value ? value : "");
	} else {
		bind_text(st, 2, value ? value : "");
		sqlite3_bind_int64(st, 3, now);
	}
	return exec_step(db, st, "contact set");
}

sl_err store_contact_tag(struct store *db, long long id, const char *tag)
{
	sqlite3_stmt *link = stmt(db, ST_CONTACT_TAG_INSERT);
	if (!link)
		return SL_ERR_DB;
	long long tag_id = 0;
	for (size_t i = 0; i < db->n_tags && !tag_id; i++)
		if (strcmp(db->tags[i].name, tag) == 0)
			tag_id = db->tags[i].id;
	if (!tag_id) {
		sqlite3_stmt *ins = stmt(db, ST_TAG_INSERT);
		sqlite3_stmt *get = stmt(db, ST_TAG_ID);
		if (!ins || !get)
			return SL_ERR_DB;
		bind_text(ins, 1, tag);
		sl_err e = exec_step(db, ins, "tag insert");
		if (e)
			return e;
		bind_text(get, 1, tag);
		if ((e = query_int(db, get, &tag_id)))
			return e;
		if (db->n_tags < TAG_CACHE && strlen(tag) < TAG_CACHE_NAME) {
			snprintf(db->tags[db->n_tags].name, TAG_CACHE_NAME, "%s", tag);
			db->tags[db->n_tags++].id = tag_id;
		}
	}
	sqlite3_bind_int64(link, 1, id);
	sqlite3_bind_int64(link, 2, tag_id);
	return exec_step(db, link, "contact tag");
}

/* ---- connections ---- */

static const char *col_text_or_null(struct arena *a, sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : col_text(a, st, i);
}

static void read_connection(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct connection_row *c = out;
	c->id = sqlite3_column_int64(st, 0);
	c->status = col_text(a, st, 1);
	c->account_id = col_text(a, st, 2);
	c->account_name = col_text(a, st, 3);
	c->livemode = sqlite3_column_int(st, 4) != 0;
	c->key_sealed = col_text_or_null(a, st, 5);
	c->key_hint = col_text(a, st, 6);
	c->endpoint_id = col_text_or_null(a, st, 7);
	c->secret_sealed = col_text_or_null(a, st, 8);
	c->previous_secret_sealed = col_text_or_null(a, st, 9);
	c->previous_secret_until = sqlite3_column_int64(st, 10);
	c->create_contact = sqlite3_column_int(st, 11) != 0;
	c->create_order = sqlite3_column_int(st, 12) != 0;
	c->create_recurring = sqlite3_column_int(st, 13) != 0;
	c->created_at = sqlite3_column_int64(st, 14);
	c->connected_at = sqlite3_column_int64(st, 15);
	c->disconnected_at = sqlite3_column_int64(st, 16);
}

sl_err store_connection_get(struct store *db, struct arena *a, long long id,
			    struct connection_row *out)
{
	return get_by_id(db, ST_CONNECTION_GET, id, read_connection, a, out);
}

sl_err store_connections_list(struct store *db, struct arena *a,
			      struct connection_row **out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTIONS_LIST);
	if (!st)
		return SL_ERR_DB;
	size_t cap = 4, count = 0;
	struct connection_row *c = arena_alloc(a, cap * sizeof *c);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c = grow(a, c, &cap, count, sizeof *c);
		read_connection(a, st, &c[count++]);
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "connections list"));
	*out = c;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_connection_begin(struct store *db, const char *account_id,
			      const char *account_name, bool livemode, long long now,
			      long long *id)
{
	sqlite3_stmt *find = stmt(db, ST_CONNECTION_BY_ACCOUNT);
	if (!find)
		return SL_ERR_DB;
	bind_text(find, 1, account_id);
	sqlite3_bind_int(find, 2, livemode);   /* live and test keys: two connections */
	long long existing;
	sl_err e = query_int(db, find, &existing);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	if (!e) {
		sqlite3_stmt *up = stmt(db, ST_CONNECTION_PENDING);
		if (!up)
			return SL_ERR_DB;
		sqlite3_bind_int64(up, 1, existing);
		bind_text(up, 2, account_name);
		sqlite3_bind_int(up, 3, livemode);
		sqlite3_bind_int64(up, 4, now);
		sqlite3_bind_int64(up, 5, now - STORE_PENDING_STALE);
		if ((e = exec_step(db, up, "connection pending")))
			return e;
		if (sqlite3_changes(db->db) == 0)
			return SL_ERR_EXISTS;   /* connected or being connected */
		*id = existing;
		return SL_OK;
	}
	sqlite3_stmt *ins = stmt(db, ST_CONNECTION_INSERT);
	if (!ins)
		return SL_ERR_DB;
	bind_text(ins, 1, account_id);
	bind_text(ins, 2, account_name);
	sqlite3_bind_int(ins, 3, livemode);
	sqlite3_bind_int64(ins, 4, now);
	if ((e = exec_step(db, ins, "connection insert")))
		return e;
	*id = sqlite3_last_insert_rowid(db->db);
	return SL_OK;
}

sl_err store_connection_activate(struct store *db, long long id, const char *key_sealed,
				 const char *key_hint, const char *endpoint_id,
				 const char *secret_sealed, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTION_ACTIVATE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, key_sealed);
	bind_text(st, 3, key_hint);
	bind_text(st, 4, endpoint_id);
	bind_text(st, 5, secret_sealed);
	sqlite3_bind_int64(st, 6, now);
	sl_err e = exec_step(db, st, "connection activate");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_connection_abandon(struct store *db, long long id, long long now)
{
	sqlite3_stmt *del = stmt(db, ST_CONNECTION_DELETE_PENDING);
	if (!del)
		return SL_ERR_DB;
	sqlite3_bind_int64(del, 1, id);
	sl_err e = exec_step(db, del, "connection abandon");
	if (e || sqlite3_changes(db->db) > 0)
		return e;
	/* it had been connected before: back to disconnected, secrets gone */
	return store_connection_disconnect(db, id, now);
}

sl_err store_connection_disconnect(struct store *db, long long id, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTION_DISCONNECT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return exec_step(db, st, "connection disconnect");
}

sl_err store_connection_switches(struct store *db, long long id, bool contact,
				 bool order, bool recurring)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTION_SWITCHES);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, contact);
	sqlite3_bind_int(st, 3, order);
	sqlite3_bind_int(st, 4, recurring);
	return exec_step(db, st, "connection switches");
}

static void read_resource(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct resource_row *r = out;
	r->id = sqlite3_column_int64(st, 0);
	r->connection_id = sqlite3_column_int64(st, 1);
	r->resource = col_text(a, st, 2);
	r->sync_type = col_text(a, st, 3);
	r->mapping = col_text_or_null(a, st, 4);
	r->created_at = sqlite3_column_int64(st, 5);
	r->updated_at = sqlite3_column_int64(st, 6);
}

sl_err store_resources_list(struct store *db, struct arena *a, long long connection_id,
			    struct resource_row **out, size_t *n)
{
	return list_by_id(db, ST_RESOURCES_LIST, connection_id, read_resource, sizeof **out, 0, a,
			  (void **)out, n);
}

sl_err store_resource_get(struct store *db, struct arena *a, long long connection_id,
			  const char *resource, struct resource_row *out)
{
	sqlite3_stmt *st = stmt(db, ST_RESOURCE_GET);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, resource);
	sl_err row = step_row(db, st, "resource get");
	if (row)
		return row;
	read_resource(a, st, out);
	return done(st, SL_OK);
}

sl_err store_resource_upsert(struct store *db, long long connection_id,
			     const char *resource, const char *sync_type, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_RESOURCE_UPSERT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, resource);
	bind_text(st, 3, sync_type);
	sqlite3_bind_int64(st, 4, now);
	return exec_step(db, st, "resource upsert");
}

sl_err store_resource_set_mapping(struct store *db, long long connection_id,
				  const char *resource, const char *mapping_json,
				  long long now)
{
	sqlite3_stmt *st = stmt(db, ST_RESOURCE_SET_MAPPING);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, resource);
	bind_text(st, 3, mapping_json);
	sqlite3_bind_int64(st, 4, now);
	sl_err e = exec_step(db, st, "resource mapping");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_resource_delete(struct store *db, long long connection_id, const char *resource)
{
	sqlite3_stmt *st = stmt(db, ST_RESOURCE_DELETE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, resource);
	return exec_step(db, st, "resource delete");
}

/* ---- webhook events, the log, and what they wrote ---- */

sl_err store_event_result(struct store *db, struct arena *a, long long connection_id,
			  const char *event_id, const char **result)
{
	sqlite3_stmt *st = stmt(db, ST_EVENT_GET);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	sl_err row = step_row(db, st, "event get");
	if (row)
		return row;
	*result = col_text(a, st, 0);
	return done(st, SL_OK);
}

sl_err store_event_put(struct store *db, long long connection_id, const char *event_id,
		       const char *result)
{
	sqlite3_stmt *st = stmt(db, ST_EVENT_PUT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	bind_text(st, 3, result);
	return exec_step(db, st, "event put");
}

sl_err store_pending_put(struct store *db, long long connection_id, const char *event_id,
			 const char *customer_id, const void *payload, size_t len,
			 long long received_at, long long next_try)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_PUT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	bind_text(st, 3, customer_id);
	sqlite3_bind_blob(st, 4, payload, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, received_at);
	sqlite3_bind_int64(st, 6, next_try);
	return exec_step(db, st, "pending put");
}

sl_err store_pending_delete(struct store *db, long long connection_id, const char *event_id)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_DELETE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	return exec_step(db, st, "pending delete");
}

sl_err store_pending_defer(struct store *db, long long connection_id, const char *event_id,
			   long long next_try)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_DEFER);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	sqlite3_bind_int64(st, 3, next_try);
	return exec_step(db, st, "pending defer");
}

static sl_err read_pending(struct store *db, struct arena *a, sqlite3_stmt *st,
			   struct pending_event **out, size_t *n)
{
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = grow(a, *out, &cap, *n, sizeof **out);
		struct pending_event *p = &(*out)[(*n)++];
		int len = sqlite3_column_bytes(st, 2);
		p->connection_id = sqlite3_column_int64(st, 0);
		p->event_id = col_text(a, st, 1);
		p->payload = arena_strndup(a, (const char *)sqlite3_column_blob(st, 2), (size_t)len);
		p->payload_len = (size_t)len;
		p->received_at = sqlite3_column_int64(st, 3);
		p->fetch_object = col_text_or_null(a, st, 4);
	}
	return done(st, rc == SQLITE_DONE ? SL_OK : fail(db, rc, "pending events"));
}

sl_err store_pending_due(struct store *db, struct arena *a, long long now, int max,
			 struct pending_event **out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_DUE);
	*out = NULL;
	*n = 0;
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max);
	return read_pending(db, a, st, out, n);
}

sl_err store_pending_for_customer(struct store *db, struct arena *a, long long connection_id,
				  const char *customer_id, int max, struct pending_event **out,
				  size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_FOR_CUSTOMER);
	*out = NULL;
	*n = 0;
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, customer_id);
	sqlite3_bind_int64(st, 2, connection_id);
	sqlite3_bind_int(st, 3, max);
	return read_pending(db, a, st, out, n);
}

sl_err store_pending_put_fetch(struct store *db, long long connection_id, const char *event_id,
			       const char *object_id, const void *payload, size_t len,
			       long long received_at, long long next_try)
{
	sqlite3_stmt *st = stmt(db, ST_PENDING_PUT_FETCH);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, event_id);
	sqlite3_bind_blob(st, 3, payload, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, received_at);
	sqlite3_bind_int64(st, 5, next_try);
	bind_text(st, 6, object_id);
	return exec_step(db, st, "pending put fetch");
}

sl_err store_log_add(struct store *db, const struct log_entry *l, long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_LOG_ADD);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, l->connection_id);
	sqlite3_bind_int64(st, 2, l->at);
	bind_text(st, 3, l->event_id && *l->event_id ? l->event_id : NULL);
	bind_text(st, 4, l->type ? l->type : "");
	bind_text(st, 5, l->result);
	bind_text(st, 6, l->reason ? l->reason : "");
	if (l->contact_id > 0)
		sqlite3_bind_int64(st, 7, l->contact_id);
	else
		sqlite3_bind_null(st, 7);
	if (l->payload)
		sqlite3_bind_text(st, 8, l->payload, (int)l->payload_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 8);
	bind_text(st, 9, l->source);
	sl_err e = exec_step(db, st, "log add");
	if (!e && id)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

static void read_log(struct arena *a, sqlite3_stmt *st, struct log_entry *l)
{
	memset(l, 0, sizeof *l);
	l->id = sqlite3_column_int64(st, 0);
	l->connection_id = sqlite3_column_int64(st, 1);
	l->at = sqlite3_column_int64(st, 2);
	l->event_id = col_text(a, st, 3);
	l->type = col_text(a, st, 4);
	l->result = col_text(a, st, 5);
	l->reason = col_text(a, st, 6);
	l->contact_id = sqlite3_column_int64(st, 7);
	l->replayable = sqlite3_column_int(st, 8) != 0;
	l->source = col_text(a, st, 9);
}

static void bind_log_filter(sqlite3_stmt *st, long long connection_id, const char *result,
			    const char *type)
{
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, result && *result ? result : NULL);
	bind_text(st, 3, type && *type ? type : NULL);
}

sl_err store_log_list(struct store *db, struct arena *a, long long connection_id,
		      const char *result, const char *type, long long offset, long long limit,
		      struct log_entry **out, size_t *n, long long *total)
{
	sqlite3_stmt *count = stmt(db, ST_LOG_COUNT);
	sqlite3_stmt *st = stmt(db, ST_LOG_LIST);
	if (!count || !st)
		return SL_ERR_DB;
	bind_log_filter(count, connection_id, result, type);
	sl_err e = query_int(db, count, total);
	if (e)
		return e;
	bind_log_filter(st, connection_id, result, type);
	sqlite3_bind_int64(st, 4, limit);
	sqlite3_bind_int64(st, 5, offset);
	struct log_entry *l = arena_alloc(a, (size_t)(limit > 0 ? limit : 1) * sizeof *l);
	size_t got = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < (size_t)limit)
		read_log(a, st, &l[got++]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return done(st, fail(db, rc, "log list"));
	*out = l;
	*n = got;
	return done(st, SL_OK);
}

sl_err store_log_get(struct store *db, struct arena *a, long long connection_id, long long id,
		     struct log_entry *out)
{
	sqlite3_stmt *st = stmt(db, ST_LOG_GET);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, connection_id);
	sl_err row = step_row(db, st, "log get");
	if (row)
		return row;
	read_log(a, st, out);
	if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
		int len = sqlite3_column_bytes(st, 10);
		out->payload = arena_strndup(a, (const char *)sqlite3_column_blob(st, 10), (size_t)len);
		out->payload_len = (size_t)len;
	}
	return done(st, SL_OK);
}

sl_err store_log_types(struct store *db, struct arena *a, long long connection_id,
		       const char ***out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_LOG_TYPES);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	size_t cap = 16, count = 0;
	const char **t = arena_alloc(a, cap * sizeof *t);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = grow(a, t, &cap, count, sizeof *t);
		t[count++] = col_text(a, st, 0);
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "log types"));
	*out = t;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_object_version(struct store *db, const char *object_id, long long *version)
{
	sqlite3_stmt *st = stmt(db, ST_VERSION_GET);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, object_id);
	sl_err e = query_int(db, st, version);
	if (e == SL_ERR_NOT_FOUND) {
		*version = -1;
		return SL_OK;
	}
	return e;
}

sl_err store_object_version_put(struct store *db, const char *object_id, long long version)
{
	sqlite3_stmt *st = stmt(db, ST_VERSION_PUT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, object_id);
	sqlite3_bind_int64(st, 2, version);
	return exec_step(db, st, "version put");
}

sl_err store_customer_contact(struct store *db, const char *customer_id, long long *contact_id)
{
	sqlite3_stmt *st = stmt(db, ST_LINK_GET);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, customer_id);
	return query_int(db, st, contact_id);
}

sl_err store_customer_link(struct store *db, const char *customer_id, long long contact_id)
{
	sqlite3_stmt *st = stmt(db, ST_LINK_PUT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, customer_id);
	sqlite3_bind_int64(st, 2, contact_id);
	return exec_step(db, st, "customer link");
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	bind_text(st, i, s && *s ? s : NULL);
}

sl_err store_order_upsert(struct store *db, const struct order_row *o)
{
	sqlite3_stmt *st = stmt(db, ST_ORDER_UPSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, o->stripe_id);
	sqlite3_bind_int64(st, 2, o->connection_id);
	if (o->contact_id > 0)
		sqlite3_bind_int64(st, 3, o->contact_id);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, o->amount);
	sqlite3_bind_int64(st, 5, o->amount_refunded);
	bind_text(st, 6, o->currency ? o->currency : "");
	bind_text(st, 7, o->status ? o->status : "");
	bind_opt_text(st, 8, o->created);
	sqlite3_bind_int64(st, 9, o->updated_at);
	return exec_step(db, st, "order upsert");
}

sl_err store_recurring_upsert(struct store *db, const struct recurring_row *r)
{
	sqlite3_stmt *st = stmt(db, ST_RECURRING_UPSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, r->subscription_id);
	sqlite3_bind_int64(st, 2, r->connection_id);
	if (r->contact_id > 0)
		sqlite3_bind_int64(st, 3, r->contact_id);
	else
		sqlite3_bind_null(st, 3);
	bind_text(st, 4, r->status ? r->status : "");
	bind_opt_text(st, 5, r->price_id);
	bind_opt_text(st, 6, r->product);
	if (r->has_amount)
		sqlite3_bind_int64(st, 7, r->amount);
	else
		sqlite3_bind_null(st, 7);
	bind_opt_text(st, 8, r->currency);
	bind_opt_text(st, 9, r->interval);
	if (r->interval_count > 0)
		sqlite3_bind_int64(st, 10, r->interval_count);
	else
		sqlite3_bind_null(st, 10);
	bind_opt_text(st, 11, r->current_period_end);
	sqlite3_bind_int64(st, 12, r->updated_at);
	return exec_step(db, st, "recurring upsert");
}

sl_err store_connection_counts(struct store *db, long long connection_id,
			       struct connection_counts *out)
{
	sqlite3_stmt *st = stmt(db, ST_COUNTS);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return done(st, fail(db, rc, "counts"));
	out->contacts = sqlite3_column_int64(st, 0);
	out->orders = sqlite3_column_int64(st, 1);
	out->recurring = sqlite3_column_int64(st, 2);
	out->deliveries = sqlite3_column_int64(st, 3);
	return done(st, SL_OK);
}

sl_err store_contact_orders(struct store *db, struct arena *a, long long contact_id,
			    struct order_row **out, size_t *n)
{
	return list_by_id(db, ST_CONTACT_ORDERS, contact_id, read_order, sizeof **out, 100, a,
			  (void **)out, n);
}

sl_err store_contact_recurring(struct store *db, struct arena *a, long long contact_id,
			       struct recurring_row **out, size_t *n)
{
	return list_by_id(db, ST_CONTACT_RECURRING, contact_id, read_recurring, sizeof **out, 100, a,
			  (void **)out, n);
}

/* ---- historical sync jobs ---- */

static void read_job(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct sync_job_row *j = out;
	j->id = sqlite3_column_int64(st, 0);
	j->connection_id = sqlite3_column_int64(st, 1);
	j->resource = col_text(a, st, 2);
	j->state = col_text(a, st, 3);
	j->error = col_text(a, st, 4);
	j->objects = sqlite3_column_int64(st, 5);
	j->pages = sqlite3_column_int64(st, 6);
	j->contacts_created = sqlite3_column_int64(st, 7);
	j->contacts_updated = sqlite3_column_int64(st, 8);
	j->skipped = sqlite3_column_int64(st, 9);
	j->queued_at = sqlite3_column_int64(st, 10);
	j->started_at = sqlite3_column_int64(st, 11);
	j->finished_at = sqlite3_column_int64(st, 12);
	j->elapsed_ms = sqlite3_column_int64(st, 13);
}

sl_err store_job_queue(struct store *db, long long connection_id, const char *resource,
		       long long now, long long *id)
{
	sqlite3_stmt *active = stmt(db, ST_JOB_ACTIVE_FOR);
	sqlite3_stmt *ins = stmt(db, ST_JOB_INSERT);
	if (!active || !ins)
		return SL_ERR_DB;
	sqlite3_bind_int64(active, 1, connection_id);
	bind_text(active, 2, resource);
	sl_err e = query_int(db, active, id);
	if (e == SL_OK)
		return SL_ERR_EXISTS;
	if (e != SL_ERR_NOT_FOUND)
		return e;
	sqlite3_bind_int64(ins, 1, connection_id);
	bind_text(ins, 2, resource);
	sqlite3_bind_int64(ins, 3, now);
	if ((e = exec_step(db, ins, "job insert")))
		return e;
	*id = sqlite3_last_insert_rowid(db->db);
	return SL_OK;
}

sl_err store_job_get(struct store *db, struct arena *a, long long id, struct sync_job_row *out)
{
	return get_by_id(db, ST_JOB_GET, id, read_job, a, out);
}

sl_err store_jobs_list(struct store *db, struct arena *a, long long connection_id,
		       struct sync_job_row **out, size_t *n)
{
	return list_by_id(db, ST_JOBS_LIST, connection_id, read_job, sizeof **out, 20, a,
			  (void **)out, n);
}

sl_err store_job_next(struct store *db, struct arena *a, struct sync_job_row *out)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_NEXT);
	if (!st)
		return SL_ERR_DB;
	sl_err row = step_row(db, st, "job next");
	if (row)
		return row;
	read_job(a, st, out);
	return done(st, SL_OK);
}

sl_err store_job_state(struct store *db, struct arena *a, long long id, const char **state)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_STATE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sl_err row = step_row(db, st, "job state");
	if (row)
		return row;
	*state = col_text(a, st, 0);
	return done(st, SL_OK);
}

sl_err store_job_start(struct store *db, long long id, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_START);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sl_err e = exec_step(db, st, "job start");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_job_finish(struct store *db, long long id, const char *state, const char *error,
			long long now, long long elapsed_ms)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_FINISH);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, state);
	bind_text(st, 3, error ? error : "");
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, elapsed_ms);
	return exec_step(db, st, "job finish");
}

sl_err store_job_page(struct store *db, long long id, long long objects, long long created,
		      long long updated, long long skipped, long long elapsed_ms)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_PAGE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, objects);
	sqlite3_bind_int64(st, 3, created);
	sqlite3_bind_int64(st, 4, updated);
	sqlite3_bind_int64(st, 5, skipped);
	sqlite3_bind_int64(st, 6, elapsed_ms);
	return exec_step(db, st, "job page");
}

sl_err store_jobs_cancel_connection(struct store *db, long long connection_id, long long now,
				    const char *why)
{
	sqlite3_stmt *st = stmt(db, ST_JOBS_CANCEL_CONNECTION);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, why);
	return exec_step(db, st, "jobs cancel");
}

sl_err store_job_control(struct store *db, long long id, long long connection_id,
			 const char *to_state, const char *from_states_json, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_CONTROL);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, connection_id);
	bind_text(st, 3, to_state);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, from_states_json);
	sl_err e = exec_step(db, st, "job control");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_INVALID;
	return e;
}

sl_err store_window_add(struct store *db, long long job_id, long long gte, long long lt,
			long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_WINDOW_INSERT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, gte);
	sqlite3_bind_int64(st, 3, lt);
	sl_err e = exec_step(db, st, "window insert");
	if (!e && id)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

sl_err store_window_split(struct store *db, long long window_id, long long job_id,
			  long long mid, long long *new_id)
{
	sqlite3_stmt *st = stmt(db, ST_WINDOW_SET_GTE);
	if (!st)
		return SL_ERR_DB;
	/* the caller knows the old lower bound; read it back to hand it on */
	sqlite3_stmt *get = stmt(db, ST_WINDOWS_LIST);
	if (!get)
		return SL_ERR_DB;
	long long old_gte = -1;
	sqlite3_bind_int64(get, 1, job_id);
	int rc;
	while ((rc = sqlite3_step(get)) == SQLITE_ROW)
		if (sqlite3_column_int64(get, 0) == window_id)
			old_gte = sqlite3_column_int64(get, 2);
	done(get, SL_OK);
	if (rc != SQLITE_DONE)
		return fail(db, rc, "window split read");
	if (old_gte < 0 || mid <= old_gte)
		return SL_ERR_INVALID;
	sqlite3_bind_int64(st, 1, window_id);
	sqlite3_bind_int64(st, 2, mid);
	sl_err e = exec_step(db, st, "window split");
	return e ? e : store_window_add(db, job_id, old_gte, mid, new_id);
}

sl_err store_windows_list(struct store *db, struct arena *a, long long job_id,
			  struct sync_window_row **out, size_t *n)
{
	return list_by_id(db, ST_WINDOWS_LIST, job_id, read_window, sizeof **out, 0, a, (void **)out, n);
}

sl_err store_window_advance(struct store *db, long long window_id, const char *cursor,
			    long long oldest_seen, bool finished)
{
	sqlite3_stmt *st = stmt(db, ST_WINDOW_ADVANCE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, window_id);
	bind_text(st, 2, cursor && *cursor ? cursor : NULL);
	sqlite3_bind_int64(st, 3, oldest_seen);
	sqlite3_bind_int(st, 4, finished);
	return exec_step(db, st, "window advance");
}

sl_err store_job_progress(struct store *db, long long job_id, double *fraction, bool *known)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_PROGRESS);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, job_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return done(st, fail(db, rc, "job progress"));
	long long covered = sqlite3_column_int64(st, 0);
	long long span = sqlite3_column_int64(st, 1);
	*known = sqlite3_column_int64(st, 2) > 0 && span > 0;
	*fraction = *known ? (double)covered / (double)span : 0.0;
	return done(st, SL_OK);
}

sl_err store_contact_find(struct store *db, const char *email_key, long long *id)
{
	sqlite3_stmt *find = stmt(db, ST_CONTACT_FIND_KEY);
	if (!find)
		return SL_ERR_DB;
	bind_text(find, 1, email_key);
	return query_int(db, find, id);
}


sl_err store_connection_roll(struct store *db, long long id, const char *endpoint_id,
			     const char *secret_sealed, long long previous_until)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTION_ROLL);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, endpoint_id);
	bind_text(st, 3, secret_sealed);
	sqlite3_bind_int64(st, 4, previous_until);
	sl_err e = exec_step(db, st, "connection roll");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_jobs_count(struct store *db, long long connection_id, const char *resource,
			long long *count)
{
	sqlite3_stmt *st = stmt(db, ST_JOB_ANY);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, resource);
	return query_int(db, st, count);
}

/* ---- catch-up and endpoint health ---- */

/* Makes sure the connection has its catch-up row. */
static sl_err catchup_ensure(struct store *db, long long connection_id)
{
	sqlite3_stmt *st = stmt(db, ST_CATCHUP_ENSURE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	return exec_step(db, st, "catch-up ensure");
}

static void read_catchup(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct catchup_row *c = out;
	c->connection_id = sqlite3_column_int64(st, 0);
	c->cursor = sqlite3_column_int64(st, 1);
	c->requested_at = sqlite3_column_int64(st, 2);
	c->running = sqlite3_column_int(st, 3) != 0;
	c->run_gte = sqlite3_column_int64(st, 4);
	c->run_lte = sqlite3_column_int64(st, 5);
	c->run_after = col_text(a, st, 6);
	c->run_newest = sqlite3_column_int64(st, 7);
	c->run_found = sqlite3_column_int64(st, 8);
	c->run_new = sqlite3_column_int64(st, 9);
	c->run_skipped = sqlite3_column_int64(st, 10);
	c->last_at = sqlite3_column_int64(st, 11);
	c->last_found = sqlite3_column_int64(st, 12);
	c->last_new = sqlite3_column_int64(st, 13);
	c->last_skipped = sqlite3_column_int64(st, 14);
	c->last_error = col_text(a, st, 15);
	c->undelivered = sqlite3_column_int64(st, 16);
	c->undelivered_more = sqlite3_column_int(st, 17) != 0;
	c->undelivered_oldest = sqlite3_column_int64(st, 18);
	c->endpoint_state = col_text(a, st, 19);
	c->endpoint_detail = col_text(a, st, 20);
	c->endpoint_checked_at = sqlite3_column_int64(st, 21);
	c->health_requested_at = sqlite3_column_int64(st, 22);
}

sl_err store_catchup_get(struct store *db, struct arena *a, long long connection_id,
			 struct catchup_row *out)
{
	sl_err e = get_by_id(db, ST_CATCHUP_GET, connection_id, read_catchup, a, out);
	if (e == SL_ERR_NOT_FOUND) {
		*out = (struct catchup_row){.connection_id = connection_id, .run_after = "",
					    .last_error = "", .endpoint_state = "unknown",
					    .endpoint_detail = ""};
		return SL_OK;
	}
	return e;
}

/* Runs a catch-up statement whose ?1 is the connection and ?2.. are given
 * as integers (n of them), after making sure the row exists. */
static sl_err catchup_update(struct store *db, enum stmt which, long long connection_id,
			     const long long *ints, int n)
{
	sl_err e = catchup_ensure(db, connection_id);
	if (e)
		return e;
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 2, ints[i]);
	return exec_step(db, st, sql[which]);
}

sl_err store_catchup_request(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_REQUEST, connection_id, &now, 1);
}

sl_err store_catchup_request_health(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_REQUEST_HEALTH, connection_id, &now, 1);
}

sl_err store_catchup_begin(struct store *db, long long connection_id, long long gte, long long lte)
{
	const long long v[] = {gte, lte};
	return catchup_update(db, ST_CATCHUP_BEGIN, connection_id, v, 2);
}

sl_err store_catchup_page(struct store *db, long long connection_id, const char *after,
			  long long newest, long long found, long long fresh, long long skipped)
{
	sqlite3_stmt *st = stmt(db, ST_CATCHUP_PAGE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, after && *after ? after : NULL);
	sqlite3_bind_int64(st, 3, newest);
	sqlite3_bind_int64(st, 4, found);
	sqlite3_bind_int64(st, 5, fresh);
	sqlite3_bind_int64(st, 6, skipped);
	return exec_step(db, st, "catch-up page");
}

sl_err store_catchup_finish(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_FINISH, connection_id, &now, 1);
}

sl_err store_catchup_fail(struct store *db, long long connection_id, long long now,
			  const char *error)
{
	sl_err e = catchup_ensure(db, connection_id);
	sqlite3_stmt *st = e ? NULL : stmt(db, ST_CATCHUP_FAIL);
	if (e || !st)
		return e ? e : SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, error ? error : "");
	return exec_step(db, st, "catch-up fail");
}

sl_err store_catchup_undelivered(struct store *db, long long connection_id, long long count,
				 bool more, long long oldest)
{
	const long long v[] = {count, more, oldest};
	return catchup_update(db, ST_CATCHUP_UNDELIVERED, connection_id, v, 3);
}

sl_err store_catchup_endpoint(struct store *db, long long connection_id, const char *state,
			      const char *detail, long long now)
{
	sl_err e = catchup_ensure(db, connection_id);
	sqlite3_stmt *st = e ? NULL : stmt(db, ST_CATCHUP_ENDPOINT);
	if (e || !st)
		return e ? e : SL_ERR_DB;
	sqlite3_bind_int64(st, 1, connection_id);
	bind_text(st, 2, state);
	bind_text(st, 3, detail ? detail : "");
	sqlite3_bind_int64(st, 4, now);
	return exec_step(db, st, "catch-up endpoint");
}

sl_err store_connection_set_key(struct store *db, long long id, const char *key_sealed,
				const char *key_hint)
{
	sqlite3_stmt *st = stmt(db, ST_CONNECTION_SET_KEY);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, key_sealed);
	bind_text(st, 3, key_hint);
	sl_err e = exec_step(db, st, "connection set key");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

/* ---- automations and the outbox ---- */

sl_err store_contact_tag_added(struct store *db, long long id, const char *tag, bool *added)
{
	sl_err e = store_contact_tag(db, id, tag);
	if (!e && added)
		*added = sqlite3_changes(db->db) > 0;
	return e;
}

sl_err store_contact_untag(struct store *db, long long id, const char *tag, bool *removed)
{
	sqlite3_stmt *st = stmt(db, ST_CONTACT_UNTAG);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, tag);
	sl_err e = exec_step(db, st, "contact untag");
	if (!e && removed)
		*removed = sqlite3_changes(db->db) > 0;
	return e;
}

/* Copies the one text column a statement keyed by ?1 finds into out. */
static sl_err status_of(struct store *db, enum stmt which, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, key);
	sl_err e = step_row(db, st, sql[which]);
	if (e)
		return e;
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(out, cap, "%s", t ? (const char *)t : "");
	return done(st, SL_OK);
}

sl_err store_order_status(struct store *db, const char *stripe_id, char *out, size_t cap)
{
	return status_of(db, ST_ORDER_STATUS, stripe_id, out, cap);
}

sl_err store_recurring_status(struct store *db, const char *subscription_id, char *out, size_t cap)
{
	return status_of(db, ST_RECURRING_STATUS, subscription_id, out, cap);
}

static void read_automation(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct automation_row *r = out;
	r->id = sqlite3_column_int64(st, 0);
	r->name = col_text(a, st, 1);
	r->trigger = col_text(a, st, 2);
	r->trigger_tag = col_text(a, st, 3);
	r->segment_id = sqlite3_column_int64(st, 4);
	r->enabled = sqlite3_column_int(st, 5) != 0;
	r->history = sqlite3_column_int(st, 6) != 0;
	r->secret_sealed = col_text_or_null(a, st, 7);
	r->runs = sqlite3_column_int64(st, 8);
	r->failures = sqlite3_column_int64(st, 9);
	r->last_run_at = sqlite3_column_int64(st, 10);
	r->created_at = sqlite3_column_int64(st, 11);
}

static void read_action(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct automation_action *r = out;
	r->position = sqlite3_column_int(st, 1);
	r->kind = col_text(a, st, 2);
	r->name = col_text(a, st, 3);
	r->value = col_text(a, st, 4);
}

static sl_err actions_put(struct store *db, long long id, const struct automation_action *acts,
			  size_t n)
{
	sqlite3_stmt *del = stmt(db, ST_ACTIONS_DELETE);
	if (!del)
		return SL_ERR_DB;
	sqlite3_bind_int64(del, 1, id);
	sl_err e = exec_step(db, del, "actions delete");
	for (size_t i = 0; !e && i < n; i++) {
		sqlite3_stmt *st = stmt(db, ST_ACTION_INSERT);
		if (!st)
			return SL_ERR_DB;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (long long)i);
		bind_text(st, 3, acts[i].kind);
		bind_text(st, 4, acts[i].name ? acts[i].name : "");
		bind_text(st, 5, acts[i].value ? acts[i].value : "");
		e = exec_step(db, st, "action insert");
	}
	return e;
}

sl_err store_automation_save(struct store *db, const struct automation_row *r,
			     const struct automation_action *acts, size_t n, long long now,
			     long long *id)
{
	sqlite3_stmt *st = stmt(db, r->id ? ST_AUTOMATION_UPDATE : ST_AUTOMATION_INSERT);
	if (!st)
		return SL_ERR_DB;
	if (r->id) {
		sqlite3_bind_int64(st, 1, r->id);
		bind_text(st, 2, r->name);
		bind_text(st, 3, r->trigger);
		bind_text(st, 4, r->trigger_tag ? r->trigger_tag : "");
		sqlite3_bind_int(st, 5, r->enabled);
		sqlite3_bind_int(st, 6, r->history);
		sqlite3_bind_int64(st, 7, r->segment_id);
	} else {
		bind_text(st, 1, r->name);
		bind_text(st, 2, r->trigger);
		bind_text(st, 3, r->trigger_tag ? r->trigger_tag : "");
		sqlite3_bind_int(st, 4, r->enabled);
		sqlite3_bind_int(st, 5, r->history);
		bind_text(st, 6, r->secret_sealed);
		sqlite3_bind_int64(st, 7, now);
		sqlite3_bind_int64(st, 8, r->segment_id);
	}
	sl_err e = exec_step(db, st, "automation save");
	if (e)
		return e;
	if (r->id && sqlite3_changes(db->db) == 0)
		return SL_ERR_NOT_FOUND;
	long long the_id = r->id ? r->id : sqlite3_last_insert_rowid(db->db);
	if (id)
		*id = the_id;
	return actions_put(db, the_id, acts, n);
}

/* Runs a statement keyed by an id (?1) and an optional integer (?2);
 * SL_ERR_NOT_FOUND when it changed nothing. */
static sl_err change_by_id(struct store *db, enum stmt which, long long id, bool has2, long long v2)
{
	sqlite3_stmt *st = stmt(db, which);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	if (has2)
		sqlite3_bind_int64(st, 2, v2);
	sl_err e = exec_step(db, st, sql[which]);
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_automation_delete(struct store *db, long long id)
{
	return change_by_id(db, ST_AUTOMATION_DELETE, id, false, 0);
}

sl_err store_automation_enable(struct store *db, long long id, bool enabled)
{
	return change_by_id(db, ST_AUTOMATION_ENABLE, id, true, enabled);
}

sl_err store_automation_secret(struct store *db, long long id, const char *secret_sealed)
{
	sqlite3_stmt *st = stmt(db, ST_AUTOMATION_SECRET);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, secret_sealed);
	sl_err e = exec_step(db, st, "automation secret");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

/* ---- retention ---- */

static const enum stmt prune_stmts[] = {
	[STORE_PRUNE_REJECTED] = ST_PRUNE_REJECTED,
	[STORE_PRUNE_LOG] = ST_PRUNE_LOG,
	[STORE_PRUNE_PAYLOADS] = ST_PRUNE_PAYLOADS,
	[STORE_PRUNE_LOGINS] = ST_PRUNE_LOGINS,
};
_Static_assert(sizeof prune_stmts / sizeof prune_stmts[0] == STORE_PRUNE__MAX,
	       "every prune kind needs its statement");

sl_err store_prune(struct store *db, enum store_prune what, long long before, int limit,
		   int *changed)
{
	*changed = 0;
	if ((int)what < 0 || what >= STORE_PRUNE__MAX)
		return SL_ERR_INVALID;
	sqlite3_stmt *st = stmt(db, prune_stmts[what]);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	sl_err e = exec_step(db, st, "prune");
	if (!e)
		*changed = sqlite3_changes(db->db);
	return e;
}

/* ---- segments ---- */

sl_err store_segment_create(struct store *db, const char *name, const char *definition,
			    long long now, long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_SEGMENT_INSERT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, name);
	bind_text(st, 2, definition);
	sqlite3_bind_int64(st, 3, now);
	sl_err e = exec_step(db, st, "segment insert");
	if (!e)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

sl_err store_segment_update(struct store *db, long long id, const char *name,
			    const char *definition)
{
	sqlite3_stmt *st = stmt(db, ST_SEGMENT_UPDATE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, name);
	bind_text(st, 3, definition);
	sl_err e = exec_step(db, st, "segment update");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

sl_err store_segment_delete(struct store *db, long long id)
{
	sqlite3_stmt *st = stmt(db, ST_SEGMENT_DELETE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sl_err e = exec_step(db, st, "segment delete");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

static void read_segment(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct segment_row *s = out;
	s->id = sqlite3_column_int64(st, 0);
	s->name = col_text(a, st, 1);
	s->definition = col_text(a, st, 2);
	s->created_at = sqlite3_column_int64(st, 3);
}

sl_err store_segment_get(struct store *db, struct arena *a, long long id, struct segment_row *out)
{
	return get_by_id(db, ST_SEGMENT_GET, id, read_segment, a, out);
}

sl_err store_segments_list(struct store *db, struct arena *a, struct segment_row **out, size_t *n)
{
	/* ?1 is unused by the statement; binding it is harmless */
	return list_by_id(db, ST_SEGMENTS_LIST, 0, read_segment, sizeof **out, 0, a, (void **)out, n);
}

/* Prepares "head WHERE <compiled> tail" and binds the compiled operands
 * after n_before leading parameters the caller binds; the statement text
 * is only fixed fragments (segment.c's catalogue and the callers'
 * literals). The caller finalizes *out. */
static sl_err segment_prepare(struct store *db, struct arena *a, const struct segment_def *def,
			      long long now, const char *head, const char *tail, int n_before,
			      sqlite3_stmt **out)
{
	struct seg_sql q;
	sl_err e = segment_compile(a, def, now, &q);
	if (e)
		return e;
	const char *text = arena_printf(a, "%s WHERE %s%s", head, q.where, tail);
	int rc = sqlite3_prepare_v2(db->db, text, -1, out, NULL);
	if (rc != SQLITE_OK)
		return fail(db, rc, "segment prepare");
	for (size_t i = 0; i < q.n_binds; i++) {
		int at = n_before + (int)i + 1;
		if (q.binds[i].text)
			bind_text(*out, at, q.binds[i].s);
		else
			sqlite3_bind_int64(*out, at, q.binds[i].i);
	}
	return SL_OK;
}

sl_err store_segment_count(struct store *db, struct arena *a, const struct segment_def *def,
			   long long now, long long *count)
{
	sqlite3_stmt *st = NULL;
	sl_err e = segment_prepare(db, a, def, now, "SELECT count(*) FROM contacts c", "", 0, &st);
	if (!e) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*count = sqlite3_column_int64(st, 0);
		else
			e = fail(db, rc, "segment count");
	}
	sqlite3_finalize(st);
	return e;
}

sl_err store_segment_contacts(struct store *db, struct arena *a, const struct segment_def *def,
			      long long now, long long offset, long long limit,
			      struct contact **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	if (limit <= 0)
		limit = 50;
	sl_err e = segment_prepare(db, a, def, now,
				   "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
				   ", c.created_at, c.updated_at FROM contacts c",
				   " ORDER BY c.id DESC LIMIT ? OFFSET ?", 0, &st);
	if (e)
		goto out;
	int np = sqlite3_bind_parameter_count(st);
	sqlite3_bind_int64(st, np - 1, limit);
	sqlite3_bind_int64(st, np, offset > 0 ? offset : 0);
	struct contact *c = arena_alloc(a, (size_t)limit * sizeof *c);
	size_t got = 0;
	int rc;
	while (got < (size_t)limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		read_contact(a, st, &c[got++]);
	if (got < (size_t)limit && rc != SQLITE_DONE) {
		e = fail(db, rc, "segment contacts");
		goto out;
	}
	*out = c;
	*n = got;
out:
	sqlite3_finalize(st);
	return e;
}

sl_err store_segment_ids(struct store *db, struct arena *a, const struct segment_def *def,
			 long long now, long long **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	sl_err e = segment_prepare(db, a, def, now, "SELECT c.id FROM contacts c", " ORDER BY c.id", 0, &st);
	if (e)
		goto out;
	size_t cap = 0, count = 0;
	long long *ids = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = grow(a, ids, &cap, count, sizeof *ids);
		ids[count++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		e = fail(db, rc, "segment ids");
		goto out;
	}
	*out = ids ? ids : arena_alloc(a, sizeof *ids);
	*n = count;
out:
	sqlite3_finalize(st);
	return e;
}

sl_err store_segment_contains(struct store *db, long long segment_id, long long contact_id,
			      long long now, bool *out)
{
	struct arena *a = arena_new();
	sqlite3_stmt *st = NULL;
	struct segment_row s;
	struct segment_def def;
	sl_err e = store_segment_get(db, a, segment_id, &s);
	if (e || (e = segment_from_json(a, s.definition, &def)))
		goto out;
	if ((e = segment_prepare(db, a, &def, now, "SELECT count(*) FROM contacts c",
				 " AND c.id = ?", 0, &st)))
		goto out;
	sqlite3_bind_int64(st, sqlite3_bind_parameter_count(st), contact_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0) > 0;
	else
		e = fail(db, rc, "segment contains");
out:
	sqlite3_finalize(st);
	arena_free(a);
	return e;
}

sl_err store_automation_get(struct store *db, struct arena *a, long long id,
			    struct automation_row *out)
{
	return get_by_id(db, ST_AUTOMATION_GET, id, read_automation, a, out);
}

sl_err store_automations_list(struct store *db, struct arena *a, struct automation_row **out,
			      size_t *n)
{
	return list_by_id(db, ST_AUTOMATIONS_LIST, 0, read_automation, sizeof **out, 0, a,
			  (void **)out, n);
}

sl_err store_automations_for(struct store *db, struct arena *a, const char *trigger,
			     const char *tag, struct automation_row **out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_AUTOMATIONS_FOR);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, trigger);
	bind_text(st, 2, tag);
	size_t cap = 0, count = 0, act_cap = 0;
	struct automation_row *items = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		if (!count || items[count - 1].id != id) {
			items = grow(a, items, &cap, count, sizeof *items);
			read_automation(a, st, &items[count]);
			items[count].actions = NULL;
			items[count].n_actions = 0;
			act_cap = 0;
			count++;
		}
		struct automation_row *r = &items[count - 1];
		r->actions = grow(a, r->actions, &act_cap, r->n_actions, sizeof *r->actions);
		struct automation_action *x = &r->actions[r->n_actions++];
		x->position = sqlite3_column_int(st, 12);
		x->kind = col_text(a, st, 13);
		x->name = col_text(a, st, 14);
		x->value = col_text(a, st, 15);
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "automations for"));
	*out = items;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_automation_actions(struct store *db, struct arena *a, long long id,
				struct automation_action **out, size_t *n)
{
	return list_by_id(db, ST_ACTIONS_LIST, id, read_action, sizeof **out, 0, a, (void **)out, n);
}

sl_err store_automation_run(struct store *db, long long automation_id, long long at,
			    long long contact_id, const char *source, const char *detail)
{
	sqlite3_stmt *st = stmt(db, ST_RUN_INSERT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, automation_id);
	sqlite3_bind_int64(st, 2, at);
	if (contact_id > 0)
		sqlite3_bind_int64(st, 3, contact_id);
	else
		sqlite3_bind_null(st, 3);
	bind_text(st, 4, source);
	bind_text(st, 5, detail ? detail : "");
	sl_err e = exec_step(db, st, "run insert");
	return e ? e : change_by_id(db, ST_RUN_COUNT, automation_id, true, at);
}

static void read_run(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct automation_run *r = out;
	r->id = sqlite3_column_int64(st, 0);
	r->at = sqlite3_column_int64(st, 2);
	r->contact_id = sqlite3_column_int64(st, 3);
	r->source = col_text(a, st, 4);
	r->detail = col_text(a, st, 5);
}

sl_err store_automation_runs(struct store *db, struct arena *a, long long id,
			     struct automation_run **out, size_t *n)
{
	return list_by_id(db, ST_RUNS_LIST, id, read_run, sizeof **out, 0, a, (void **)out, n);
}

sl_err store_outbox_add(struct store *db, const struct outbox_row *o, long long *id)
{
	sqlite3_stmt *st = stmt(db, ST_OUTBOX_INSERT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, o->automation_id);
	bind_text(st, 2, o->url);
	bind_text(st, 3, o->body);
	bind_text(st, 4, o->idempotency_key);
	sqlite3_bind_int(st, 5, o->test);
	sqlite3_bind_int64(st, 6, o->created_at);
	sqlite3_bind_int64(st, 7, o->give_up_at);
	sl_err e = exec_step(db, st, "outbox insert");
	if (!e && id)
		*id = sqlite3_last_insert_rowid(db->db);
	return e;
}

static void read_outbox(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct outbox_row *r = out;
	r->id = sqlite3_column_int64(st, 0);
	r->automation_id = sqlite3_column_int64(st, 1);
	r->url = col_text(a, st, 2);
	r->body = col_text(a, st, 3);
	r->idempotency_key = col_text(a, st, 4);
	r->test = sqlite3_column_int(st, 5) != 0;
	r->state = col_text(a, st, 6);
	r->attempts = sqlite3_column_int64(st, 7);
	r->next_at = sqlite3_column_int64(st, 8);
	r->give_up_at = sqlite3_column_int64(st, 9);
	r->created_at = sqlite3_column_int64(st, 10);
	r->secret_sealed = col_text(a, st, 11);
	r->last_status = sqlite3_column_int64(st, 12);
	r->last_ms = sqlite3_column_int64(st, 13);
	r->last_note = col_text(a, st, 14);
}

sl_err store_outbox_due(struct store *db, struct arena *a, long long now_ms, size_t max,
			struct outbox_row **out, size_t *n)
{
	sqlite3_stmt *st = stmt(db, ST_OUTBOX_NEXT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (long long)max);
	size_t cap = 0, count = 0;
	struct outbox_row *items = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		items = grow(a, items, &cap, count, sizeof *items);
		read_outbox(a, st, &items[count++]);
	}
	if (rc != SQLITE_DONE)
		return done(st, fail(db, rc, "outbox due"));
	*out = items;
	*n = count;
	return done(st, SL_OK);
}

sl_err store_outbox_attempt(struct store *db, long long outbox_id, const struct outbox_attempt *t,
			    const char *state, long long next_at)
{
	sqlite3_stmt *st = stmt(db, ST_OUTBOX_ATTEMPT);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, outbox_id);
	sqlite3_bind_int64(st, 2, t->at);
	sqlite3_bind_int64(st, 3, t->status);
	sqlite3_bind_int64(st, 4, t->ms);
	bind_text(st, 5, t->excerpt ? t->excerpt : "");
	bind_text(st, 6, t->error ? t->error : "");
	sl_err e = exec_step(db, st, "outbox attempt");
	if (e)
		return e;
	if (!(st = stmt(db, ST_OUTBOX_SETTLE)))
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, outbox_id);
	bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, next_at);
	sqlite3_bind_int64(st, 4, t->at);
	if ((e = exec_step(db, st, "outbox settle")))
		return e;
	if (strcmp(state, "failed") == 0 && (st = stmt(db, ST_AUTOMATION_FAILED))) {
		sqlite3_bind_int64(st, 1, outbox_id);
		e = exec_step(db, st, "automation failed");
	}
	return e;
}

sl_err store_outbox_list(struct store *db, struct arena *a, long long automation_id,
			 struct outbox_row **out, size_t *n)
{
	return list_by_id(db, ST_OUTBOX_LIST, automation_id, read_outbox, sizeof **out, 0, a,
			  (void **)out, n);
}

sl_err store_outbox_resend(struct store *db, long long outbox_id, long long automation_id,
			   long long now_ms, long long give_up_at)
{
	sqlite3_stmt *st = stmt(db, ST_OUTBOX_RESEND);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, outbox_id);
	sqlite3_bind_int64(st, 2, automation_id);
	sqlite3_bind_int64(st, 3, now_ms);
	sqlite3_bind_int64(st, 4, give_up_at);
	sl_err e = exec_step(db, st, "outbox resend");
	if (!e && sqlite3_changes(db->db) == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

static void read_attempt(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct outbox_attempt *r = out;
	r->id = sqlite3_column_int64(st, 0);
	r->outbox_id = sqlite3_column_int64(st, 1);
	r->at = sqlite3_column_int64(st, 2);
	r->status = sqlite3_column_int64(st, 3);
	r->ms = sqlite3_column_int64(st, 4);
	r->excerpt = col_text(a, st, 5);
	r->error = col_text(a, st, 6);
}

sl_err store_outbox_attempts(struct store *db, struct arena *a, long long automation_id,
			     struct outbox_attempt **out, size_t *n)
{
	return list_by_id(db, ST_ATTEMPTS_LIST, automation_id, read_attempt, sizeof **out, 0, a,
			  (void **)out, n);
}

/* Online backup: a read transaction on the source pins one snapshot (in
 * WAL mode it never blocks the writer), and the pages are copied
 * pages_per_step at a time with a short pause between steps, so the live
 * service keeps its CPU and its I/O. */
sl_err store_backup(const char *src_path, const char *dest_path, int pages_per_step)
{
	sqlite3 *src = NULL, *dest = NULL;
	sqlite3_backup *bk = NULL;
	sl_err err = SL_ERR_DB;
	int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: open source");
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: read transaction");
		goto out;
	}
	rc = sqlite3_open_v2(dest_path, &dest,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: open copy");
		goto out;
	}
	bk = sqlite3_backup_init(dest, "main", src, "main");
	if (!bk) {
		fprintf(stderr, "stripelink: store: backup: %s\n", sqlite3_errmsg(dest));
		goto out;
	}
	do {
		rc = sqlite3_backup_step(bk, pages_per_step > 0 ? pages_per_step : -1);
		if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(1);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	int finish = sqlite3_backup_finish(bk);
	bk = NULL;
	if (rc != SQLITE_DONE || finish != SQLITE_OK) {
		err = fail(NULL, rc != SQLITE_DONE ? rc : finish, "backup: copy");
		goto out;
	}
	/* the copy is one self-contained file: no -wal beside it */
	rc = sqlite3_exec(dest, "PRAGMA journal_mode = DELETE;", NULL, NULL, NULL);
	err = rc == SQLITE_OK ? SL_OK : fail(NULL, rc, "backup: journal mode");
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (src)
		sqlite3_exec(src, "COMMIT;", NULL, NULL, NULL);
	if (dest && sqlite3_close(dest) != SQLITE_OK && !err)
		err = SL_ERR_IO;
	sqlite3_close(src);
	return err;
}

/* ---- a contact's money summary ---- */

static void read_money(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct money_row *m = out;
	m->currency = col_text(a, st, 0);
	m->amount = sqlite3_column_int64(st, 1);
	m->count = sqlite3_column_int64(st, 2);
	m->unknown = sqlite3_column_int64(st, 3);
}

struct order_span {
	long long orders;
	const char *first, *last;
};

static void read_span(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct order_span *s = out;
	s->orders = sqlite3_column_int64(st, 0);
	s->first = col_text(a, st, 1);
	s->last = col_text(a, st, 2);
}

sl_err store_contact_summary(struct store *db, struct arena *a, long long contact_id,
			     struct contact_summary *out)
{
	struct order_span *span;
	size_t n_span;
	sl_err e;
	memset(out, 0, sizeof *out);
	if ((e = list_by_id(db, ST_CONTACT_REVENUE, contact_id, read_money, sizeof *out->revenue, 0,
			    a, (void **)&out->revenue, &out->n_revenue)) ||
	    (e = list_by_id(db, ST_CONTACT_MONTHLY, contact_id, read_money, sizeof *out->monthly, 0,
			    a, (void **)&out->monthly, &out->n_monthly)) ||
	    (e = list_by_id(db, ST_CONTACT_ORDER_SPAN, contact_id, read_span, sizeof *span, 1, a,
			    (void **)&span, &n_span)))
		return e;
	out->orders = n_span ? span->orders : 0;
	out->first_order = n_span ? span->first : "";
	out->last_order = n_span ? span->last : "";
	return SL_OK;
}

sl_err store_window_gte(struct store *db, long long window_id, long long *gte)
{
	sqlite3_stmt *st = stmt(db, ST_WINDOW_GTE);
	if (!st)
		return SL_ERR_DB;
	sqlite3_bind_int64(st, 1, window_id);
	return query_int(db, st, gte);
}

/* ---- refunds, disputes, deleted customers (see ledger.h) ---- */

sl_err store_refund_put(struct store *db, const struct refund_row *r)
{
	sqlite3_stmt *st = stmt(db, ST_REFUND_PUT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, r->refund_id);
	bind_text(st, 2, r->charge_id);
	sqlite3_bind_int64(st, 3, r->connection_id);
	sqlite3_bind_int64(st, 4, r->amount);
	bind_text(st, 5, r->currency ? r->currency : "");
	bind_text(st, 6, r->status ? r->status : "");
	sqlite3_bind_int(st, 7, r->counts);
	sqlite3_bind_int(st, 8, r->status_rank);
	sqlite3_bind_int64(st, 9, r->created);
	sqlite3_bind_int64(st, 10, r->version);
	sqlite3_bind_int64(st, 11, r->updated_at);
	return exec_step(db, st, "refund put");
}

sl_err store_dispute_status(struct store *db, const char *dispute_id, char *out, size_t cap)
{
	return status_of(db, ST_DISPUTE_STATUS, dispute_id, out, cap);
}

sl_err store_dispute_put(struct store *db, const struct dispute_row *d)
{
	sqlite3_stmt *st = stmt(db, ST_DISPUTE_PUT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, d->dispute_id);
	bind_text(st, 2, d->charge_id);
	sqlite3_bind_int64(st, 3, d->connection_id);
	sqlite3_bind_int64(st, 4, d->amount);
	bind_text(st, 5, d->currency ? d->currency : "");
	bind_text(st, 6, d->status ? d->status : "");
	bind_text(st, 7, d->reason ? d->reason : "");
	sqlite3_bind_int(st, 8, d->lost);
	sqlite3_bind_int(st, 9, d->status_rank);
	sqlite3_bind_int64(st, 10, d->created);
	sqlite3_bind_int64(st, 11, d->version);
	sqlite3_bind_int64(st, 12, d->updated_at);
	return exec_step(db, st, "dispute put");
}

sl_err store_order_reported(struct store *db, const char *charge_id, long long refunded,
			    long long at)
{
	sqlite3_stmt *st = stmt(db, ST_ORDER_REPORTED);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, charge_id);
	sqlite3_bind_int64(st, 2, refunded);
	sqlite3_bind_int64(st, 3, at);
	return exec_step(db, st, "order reported");
}

sl_err store_ledger_totals(struct store *db, const char *charge_id, struct ledger_totals *out,
			   char *status, size_t cap)
{
	sqlite3_stmt *st = stmt(db, ST_LEDGER_TOTALS);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, charge_id);
	sl_err e = step_row(db, st, "ledger totals");
	if (e)
		return e;
	const unsigned char *t = sqlite3_column_text(st, 1);
	snprintf(status, cap, "%s", t ? (const char *)t : "");
	out->amount = sqlite3_column_int64(st, 0);
	out->reported = sqlite3_column_int64(st, 2);
	out->counted = sqlite3_column_int64(st, 3);
	out->included = sqlite3_column_int64(st, 4);
	out->lost = sqlite3_column_int64(st, 5);
	return done(st, SL_OK);
}

sl_err store_order_settle(struct store *db, const char *charge_id, long long refunded,
			  long long lost, const char *status, long long now)
{
	sqlite3_stmt *st = stmt(db, ST_ORDER_SETTLE);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, charge_id);
	sqlite3_bind_int64(st, 2, refunded);
	sqlite3_bind_int64(st, 3, lost);
	bind_text(st, 4, status ? status : "");
	sqlite3_bind_int64(st, 5, now);
	return exec_step(db, st, "order settle");
}

sl_err store_order_contact(struct store *db, const char *stripe_id, long long *contact_id)
{
	sqlite3_stmt *st = stmt(db, ST_ORDER_CONTACT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, stripe_id);
	return query_int(db, st, contact_id);
}

sl_err store_customer_deleted(struct store *db, const char *customer_id, long long at)
{
	sqlite3_stmt *st = stmt(db, ST_CUSTOMER_DELETED);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, customer_id);
	sqlite3_bind_int64(st, 2, at);
	return exec_step(db, st, "customer deleted");
}

static void read_link(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct customer_link *l = out;
	l->customer_id = col_text(a, st, 0);
	l->deleted_at = sqlite3_column_int64(st, 1);
}

sl_err store_contact_links(struct store *db, struct arena *a, long long contact_id,
			   struct customer_link **out, size_t *n)
{
	return list_by_id(db, ST_CONTACT_LINKS, contact_id, read_link, sizeof **out, 100, a,
			  (void **)out, n);
}

static void read_dispute(struct arena *a, sqlite3_stmt *st, void *out)
{
	struct dispute_row *d = out;
	memset(d, 0, sizeof *d);
	d->charge_id = col_text(a, st, 0);
	d->dispute_id = col_text(a, st, 1);
	d->status = col_text(a, st, 2);
	d->reason = col_text(a, st, 3);
	d->amount = sqlite3_column_int64(st, 4);
	d->currency = col_text(a, st, 5);
}

sl_err store_contact_disputes(struct store *db, struct arena *a, long long contact_id,
			      struct dispute_row **out, size_t *n)
{
	return list_by_id(db, ST_CONTACT_DISPUTES, contact_id, read_dispute, sizeof **out, 200, a,
			  (void **)out, n);
}

sl_err store_recurring_canceled_at(struct store *db, const char *subscription_id, const char *when)
{
	sqlite3_stmt *st = stmt(db, ST_RECURRING_CANCELED_AT);
	if (!st)
		return SL_ERR_DB;
	bind_text(st, 1, subscription_id);
	bind_text(st, 2, when);
	return exec_step(db, st, "recurring canceled at");
}
