/*
 * store.c - the schema, the statement table and the domain queries; see
 * store.h. It talks to the engine only through db.h: each statement is one
 * row (parameter types, SQL, PostgreSQL's SQL where it differs), values
 * are bound from the row's types and rows are read into structs through
 * column tables, once, generically.
 */
#include "store.h"

#include "db.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	/* 13: several nodes on one database: leases on sync windows and
	 * catch-ups (a node that dies hands its work over when its lease runs
	 * out), claims on outbox deliveries, the rate budget every node
	 * shares, setup tokens any node accepts */
	"ALTER TABLE sync_windows ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE sync_windows ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE catchups ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE catchups ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"   /* unix ms */
	"CREATE TABLE rate_budgets ("
	"  key TEXT PRIMARY KEY,"
	"  next_at INTEGER NOT NULL);"          /* unix µs of the next free request slot */
	"CREATE TABLE setup_tokens ("
	"  token_hash TEXT PRIMARY KEY,"
	"  created_at INTEGER NOT NULL);",

	/* 14: the log's CHECK on result as comparisons, not an IN list: SQLite
	 * builds a temporary b-tree of an IN list of more than two constants
	 * every time the CHECK runs, i.e. at every webhook's log line (about
	 * 35,000 of the insert's 52,000 instructions). The same rule; the
	 * table is copied, as in 10. */
	"CREATE TABLE integration_log_new ("
	"  id INTEGER PRIMARY KEY,"
	"  connection_id INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  event_id TEXT,"
	"  type TEXT NOT NULL DEFAULT '',"
	"  result TEXT NOT NULL CHECK (result = 'processed' OR result = 'duplicate' OR result = 'skipped'"
	"    OR result = 'ignored' OR result = 'rejected' OR result = 'failed' OR result = 'waiting'),"
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
	"CREATE INDEX integration_log_by_at ON integration_log (at);",
	/* 15: a connection's configuration generation: any change to the row
	 * or to its resources moves it on (triggers, so no writer can forget);
	 * a request thread's copy of both (conn_cache.h) is checked against it
	 * inside the writer's transaction */
	"ALTER TABLE connections ADD COLUMN config_gen INTEGER NOT NULL DEFAULT 0;"
	"CREATE TRIGGER connections_gen AFTER UPDATE ON connections WHEN NEW.config_gen = OLD.config_gen"
	"  BEGIN UPDATE connections SET config_gen = OLD.config_gen + 1 WHERE id = NEW.id; END;"
	"CREATE TRIGGER resources_gen_insert AFTER INSERT ON connection_resources"
	"  BEGIN UPDATE connections SET config_gen = config_gen + 1 WHERE id = NEW.connection_id; END;"
	"CREATE TRIGGER resources_gen_update AFTER UPDATE ON connection_resources"
	"  BEGIN UPDATE connections SET config_gen = config_gen + 1 WHERE id = NEW.connection_id; END;"
	"CREATE TRIGGER resources_gen_delete AFTER DELETE ON connection_resources"
	"  BEGIN UPDATE connections SET config_gen = config_gen + 1 WHERE id = OLD.connection_id; END;",
	/* 16: the deliveries a delivery worker holds (a few at a time): the
	 * statements that find them scanned the whole outbox, delivered rows
	 * and all, twice a batch */
	"CREATE INDEX outbox_leased ON outbox (lease_owner, lease_until) WHERE lease_until > 0;",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* The same steps in PostgreSQL's dialect, numbered alike: BIGINT for
 * SQLite's INTEGER (64-bit either way), BIGSERIAL for its row ids, a
 * unique index on lower(x) for COLLATE NOCASE, no WITHOUT ROWID, BYTEA for
 * BLOB; pending_events keeps its arrival order in seq (SQLite's rowid);
 * step 10 changes the log's CHECK in place instead of copying the table. */
static const char *const pg_migrations[] = {
	/* 1 */
	"CREATE TABLE users (id BIGSERIAL PRIMARY KEY, "
	"username TEXT NOT NULL, "
	"password_hash TEXT NOT NULL, "
	"created_at BIGINT NOT NULL);"
	"CREATE UNIQUE INDEX users_username_nocase ON users (lower(username));"
	"CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, "
	"user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, "
	"csrf TEXT NOT NULL, "
	"created_at BIGINT NOT NULL, "
	"expires_at BIGINT NOT NULL);"
	"CREATE TABLE login_attempts (key TEXT PRIMARY KEY, "
	"failures BIGINT NOT NULL, "
	"last_at BIGINT NOT NULL);"
	"CREATE TABLE fields (id BIGSERIAL PRIMARY KEY, "
	"key TEXT NOT NULL UNIQUE, "
	"label TEXT NOT NULL, "
	"type TEXT NOT NULL CHECK (type IN ('email','text','phone','number','date')), "
	"builtin BIGINT NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX fields_label_nocase ON fields (lower(label));"
	"INSERT INTO fields (id, key, label, type, builtin) VALUES (1, 'email', 'Email', 'email', 1), (2, 'first_name', 'First name', 'text', 1), (3, 'last_name', 'Last name', 'text', 1), (4, 'phone', 'Phone', 'phone', 1);"
	"SELECT setval(pg_get_serial_sequence('fields', 'id'), 4);"
	"CREATE TABLE contacts (id BIGSERIAL PRIMARY KEY, "
	"email TEXT NOT NULL, "
	"email_key TEXT NOT NULL UNIQUE, "
	"first_name TEXT NOT NULL DEFAULT '', "
	"last_name TEXT NOT NULL DEFAULT '', "
	"phone TEXT NOT NULL DEFAULT '', "
	"created_at BIGINT NOT NULL, "
	"updated_at BIGINT NOT NULL);"
	"CREATE TABLE contact_values (contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE, "
	"field_id BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE, "
	"value TEXT NOT NULL, "
	"PRIMARY KEY (contact_id, field_id));"
	"CREATE TABLE tags (id BIGSERIAL PRIMARY KEY, "
	"name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE contact_tags (contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE, "
	"tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE, "
	"PRIMARY KEY (contact_id, tag_id));"
	"CREATE INDEX contact_tags_by_tag ON contact_tags (tag_id, contact_id)",
	/* 2 */
	"CREATE TABLE connections (id BIGSERIAL PRIMARY KEY, "
	"status TEXT NOT NULL CHECK (status IN ('pending','connected','disconnected')), "
	"account_id TEXT NOT NULL, "
	"account_name TEXT NOT NULL DEFAULT '', "
	"livemode BIGINT NOT NULL DEFAULT 0, "
	"key_sealed TEXT, "
	"key_hint TEXT NOT NULL DEFAULT '', "
	"endpoint_id TEXT, "
	"secret_sealed TEXT, "
	"previous_secret_sealed TEXT, "
	"previous_secret_until BIGINT, "
	"create_contact BIGINT NOT NULL DEFAULT 1, "
	"create_order BIGINT NOT NULL DEFAULT 1, "
	"create_recurring BIGINT NOT NULL DEFAULT 1, "
	"created_at BIGINT NOT NULL, "
	"connected_at BIGINT, "
	"disconnected_at BIGINT);"
	"CREATE INDEX connections_by_account ON connections (account_id);"
	"CREATE TABLE connection_resources (id BIGSERIAL PRIMARY KEY, "
	"connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE, "
	"resource TEXT NOT NULL, "
	"sync_type TEXT NOT NULL CHECK (sync_type IN ('historical','new')), "
	"mapping TEXT, "
	"created_at BIGINT NOT NULL, "
	"updated_at BIGINT NOT NULL, "
	"UNIQUE (connection_id, resource))",
	/* 3 */
	"CREATE TABLE stripe_events (connection_id BIGINT NOT NULL, "
	"event_id TEXT NOT NULL, "
	"result TEXT NOT NULL, "
	"PRIMARY KEY (connection_id, event_id));"
	"CREATE TABLE integration_log (id BIGSERIAL PRIMARY KEY, "
	"connection_id BIGINT NOT NULL, "
	"at BIGINT NOT NULL, "
	"event_id TEXT, "
	"type TEXT NOT NULL DEFAULT '', "
	"result TEXT NOT NULL CHECK (result IN ('processed','duplicate','skipped','ignored', 'rejected','failed')), "
	"reason TEXT NOT NULL DEFAULT '', "
	"contact_id BIGINT, "
	"payload TEXT);"
	"CREATE INDEX integration_log_by_connection ON integration_log (connection_id, id);"
	"CREATE TABLE object_versions (object_id TEXT PRIMARY KEY, "
	"version BIGINT NOT NULL);"
	"CREATE TABLE stripe_customers (customer_id TEXT PRIMARY KEY, "
	"contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE);"
	"CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, "
	"stripe_id TEXT NOT NULL UNIQUE, "
	"connection_id BIGINT NOT NULL, "
	"contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL, "
	"amount BIGINT NOT NULL, "
	"amount_refunded BIGINT NOT NULL DEFAULT 0, "
	"currency TEXT NOT NULL DEFAULT '', "
	"status TEXT NOT NULL DEFAULT '', "
	"created TEXT, "
	"updated_at BIGINT NOT NULL);"
	"CREATE INDEX orders_by_contact ON orders (contact_id);"
	"CREATE TABLE recurring_payments (id BIGSERIAL PRIMARY KEY, "
	"subscription_id TEXT NOT NULL UNIQUE, "
	"connection_id BIGINT NOT NULL, "
	"contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL, "
	"status TEXT NOT NULL DEFAULT '', "
	"price_id TEXT, "
	"product TEXT, "
	"amount BIGINT, "
	"currency TEXT, "
	"interval TEXT, "
	"interval_count BIGINT, "
	"current_period_end TEXT, "
	"updated_at BIGINT NOT NULL);"
	"CREATE INDEX recurring_by_contact ON recurring_payments (contact_id)",
	/* 4 */
	"CREATE TABLE sync_jobs (id BIGSERIAL PRIMARY KEY, "
	"connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE, "
	"resource TEXT NOT NULL, "
	"state TEXT NOT NULL CHECK (state IN ('queued','running','paused','done','failed','cancelled')), "
	"error TEXT NOT NULL DEFAULT '', "
	"objects BIGINT NOT NULL DEFAULT 0, "
	"pages BIGINT NOT NULL DEFAULT 0, "
	"contacts_created BIGINT NOT NULL DEFAULT 0, "
	"contacts_updated BIGINT NOT NULL DEFAULT 0, "
	"skipped BIGINT NOT NULL DEFAULT 0, "
	"queued_at BIGINT NOT NULL, "
	"started_at BIGINT, "
	"finished_at BIGINT, "
	"elapsed_ms BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX sync_jobs_by_connection ON sync_jobs (connection_id, id);"
	"CREATE TABLE sync_windows (id BIGSERIAL PRIMARY KEY, "
	"job_id BIGINT NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE, "
	"created_gte BIGINT NOT NULL, "
	"created_lt BIGINT NOT NULL, "
	"cursor TEXT, "
	"oldest_seen BIGINT, "
	"done BIGINT NOT NULL DEFAULT 0)",
	/* 5 */
	"ALTER TABLE connections ADD COLUMN pending_since BIGINT",
	/* 6 */
	"CREATE TABLE catchups (connection_id BIGINT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE, "
	"cursor BIGINT NOT NULL DEFAULT 0, "
	"requested_at BIGINT, "
	"run_gte BIGINT, "
	"run_lte BIGINT, "
	"run_after TEXT, "
	"run_newest BIGINT NOT NULL DEFAULT 0, "
	"run_found BIGINT NOT NULL DEFAULT 0, "
	"run_new BIGINT NOT NULL DEFAULT 0, "
	"run_skipped BIGINT NOT NULL DEFAULT 0, "
	"last_at BIGINT, "
	"last_found BIGINT NOT NULL DEFAULT 0, "
	"last_new BIGINT NOT NULL DEFAULT 0, "
	"last_skipped BIGINT NOT NULL DEFAULT 0, "
	"last_error TEXT NOT NULL DEFAULT '', "
	"undelivered BIGINT NOT NULL DEFAULT 0, "
	"undelivered_more BIGINT NOT NULL DEFAULT 0, "
	"undelivered_oldest BIGINT, "
	"endpoint_state TEXT NOT NULL DEFAULT 'unknown' CHECK (endpoint_state IN    ('unknown','enabled','disabled','deleted','key_refused','key_permission','unreachable')), "
	"endpoint_detail TEXT NOT NULL DEFAULT '', "
	"endpoint_checked_at BIGINT, "
	"health_requested_at BIGINT);"
	"ALTER TABLE integration_log ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook'",
	/* 7 */
	"CREATE INDEX integration_log_by_at ON integration_log (at)",
	/* 8 */
	"CREATE TABLE segments (id BIGSERIAL PRIMARY KEY, "
	"name TEXT NOT NULL, "
	"definition TEXT NOT NULL, "
	"created_at BIGINT NOT NULL);"
	"CREATE UNIQUE INDEX segments_name_nocase ON segments (lower(name));"
	"CREATE INDEX orders_by_created ON orders (created, contact_id);"
	"CREATE INDEX orders_by_contact_currency ON orders (contact_id, currency, status, amount, amount_refunded);"
	"CREATE INDEX recurring_by_contact_status ON recurring_payments (contact_id, status);"
	"CREATE INDEX contact_values_by_field ON contact_values (field_id, value, contact_id);"
	"CREATE INDEX contacts_by_created ON contacts (created_at)",
	/* 9 */
	"CREATE TABLE automations (id BIGSERIAL PRIMARY KEY, "
	"name TEXT NOT NULL, "
	"trigger TEXT NOT NULL, "
	"trigger_tag TEXT NOT NULL DEFAULT '', "
	"segment_id BIGINT, "
	"enabled BIGINT NOT NULL DEFAULT 1, "
	"history BIGINT NOT NULL DEFAULT 0, "
	"secret_sealed TEXT, "
	"runs BIGINT NOT NULL DEFAULT 0, "
	"failures BIGINT NOT NULL DEFAULT 0, "
	"last_run_at BIGINT, "
	"created_at BIGINT NOT NULL);"
	"CREATE INDEX automations_by_trigger ON automations (trigger, enabled);"
	"CREATE TABLE automation_actions (automation_id BIGINT NOT NULL REFERENCES automations(id) ON DELETE CASCADE, "
	"position BIGINT NOT NULL, "
	"kind TEXT NOT NULL CHECK (kind IN ('add_tag','remove_tag','set_field','webhook')), "
	"name TEXT NOT NULL DEFAULT '', "
	"value TEXT NOT NULL DEFAULT '', "
	"PRIMARY KEY (automation_id, position));"
	"CREATE TABLE automation_runs (id BIGSERIAL PRIMARY KEY, "
	"automation_id BIGINT NOT NULL REFERENCES automations(id) ON DELETE CASCADE, "
	"at BIGINT NOT NULL, "
	"contact_id BIGINT, "
	"source TEXT NOT NULL, "
	"detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX automation_runs_by_automation ON automation_runs (automation_id, id);"
	"CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, "
	"automation_id BIGINT NOT NULL REFERENCES automations(id) ON DELETE CASCADE, "
	"url TEXT NOT NULL, "
	"body TEXT NOT NULL, "
	"idempotency_key TEXT NOT NULL UNIQUE, "
	"test BIGINT NOT NULL DEFAULT 0, "
	"state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')), "
	"attempts BIGINT NOT NULL DEFAULT 0, "
	"next_at BIGINT NOT NULL, "
	"give_up_at BIGINT NOT NULL, "
	"created_at BIGINT NOT NULL, "
	"finished_at BIGINT);"
	"CREATE INDEX outbox_due ON outbox (state, next_at);"
	"CREATE INDEX outbox_by_automation ON outbox (automation_id, id);"
	"CREATE TABLE outbox_attempts (id BIGSERIAL PRIMARY KEY, "
	"outbox_id BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE, "
	"at BIGINT NOT NULL, "
	"status BIGINT NOT NULL, "
	"ms BIGINT NOT NULL, "
	"excerpt TEXT NOT NULL DEFAULT '', "
	"error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX outbox_attempts_by_outbox ON outbox_attempts (outbox_id, id)",
	/* 10 */
	"CREATE TABLE pending_events (seq BIGSERIAL, "
	"connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE, "
	"event_id TEXT NOT NULL, "
	"customer_id TEXT NOT NULL, "
	"payload BYTEA NOT NULL, "
	"received_at BIGINT NOT NULL, "
	"next_try BIGINT NOT NULL, "
	"UNIQUE (connection_id, event_id));"
	"CREATE INDEX pending_events_customer ON pending_events (customer_id);"
	"ALTER TABLE integration_log DROP CONSTRAINT integration_log_result_check;"
	"ALTER TABLE integration_log ADD CONSTRAINT integration_log_result_check CHECK (result IN ('processed','duplicate','skipped','ignored','rejected','failed','waiting'))",
	/* 11 */
	"ALTER TABLE pending_events ADD COLUMN fetch_object TEXT",
	/* 12 */
	"CREATE TABLE refunds (refund_id TEXT PRIMARY KEY, "
	"charge_id TEXT NOT NULL, "
	"connection_id BIGINT NOT NULL, "
	"amount BIGINT NOT NULL, "
	"currency TEXT NOT NULL DEFAULT '', "
	"status TEXT NOT NULL DEFAULT '', "
	"counts BIGINT NOT NULL, "
	"status_rank BIGINT NOT NULL, "
	"created BIGINT NOT NULL DEFAULT 0, "
	"version BIGINT NOT NULL, "
	"updated_at BIGINT NOT NULL);"
	"CREATE INDEX refunds_by_charge ON refunds (charge_id);"
	"CREATE TABLE disputes (dispute_id TEXT PRIMARY KEY, "
	"charge_id TEXT NOT NULL, "
	"connection_id BIGINT NOT NULL, "
	"amount BIGINT NOT NULL, "
	"currency TEXT NOT NULL DEFAULT '', "
	"status TEXT NOT NULL DEFAULT '', "
	"reason TEXT NOT NULL DEFAULT '', "
	"lost BIGINT NOT NULL, "
	"status_rank BIGINT NOT NULL, "
	"created BIGINT NOT NULL DEFAULT 0, "
	"version BIGINT NOT NULL, "
	"updated_at BIGINT NOT NULL);"
	"CREATE INDEX disputes_by_charge ON disputes (charge_id);"
	"ALTER TABLE orders ADD COLUMN refunded_reported BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE orders ADD COLUMN reported_at BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE orders ADD COLUMN amount_lost BIGINT NOT NULL DEFAULT 0;"
	"UPDATE orders SET refunded_reported = amount_refunded;"
	"ALTER TABLE stripe_customers ADD COLUMN deleted_at BIGINT;"
	"ALTER TABLE recurring_payments ADD COLUMN canceled_at TEXT;"
	"DROP INDEX orders_by_contact_currency;"
	"CREATE INDEX orders_by_contact_currency ON orders (contact_id, currency, status, amount, "
	"amount_refunded, amount_lost)",
	/* 13 */
	"ALTER TABLE sync_windows ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE sync_windows ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE catchups ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE catchups ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
	"CREATE TABLE rate_budgets (key TEXT PRIMARY KEY, next_at BIGINT NOT NULL);"
	"CREATE TABLE setup_tokens (token_hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
	/* 14: nothing: PostgreSQL checks an IN list without building a table */
	"SELECT 1",
	/* 15 */
	"ALTER TABLE connections ADD COLUMN config_gen BIGINT NOT NULL DEFAULT 0;"
	"CREATE FUNCTION stripelink_connection_gen() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN NEW.config_gen := OLD.config_gen + 1; RETURN NEW; END$$;"
	"CREATE TRIGGER connections_gen BEFORE UPDATE ON connections FOR EACH ROW"
	"  EXECUTE FUNCTION stripelink_connection_gen();"
	"CREATE FUNCTION stripelink_resource_gen() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN UPDATE connections SET config_gen = config_gen + 1 WHERE id ="
	"  CASE WHEN TG_OP = 'DELETE' THEN OLD.connection_id ELSE NEW.connection_id END; RETURN NULL; END$$;"
	"CREATE TRIGGER resources_gen AFTER INSERT OR UPDATE OR DELETE ON connection_resources FOR EACH ROW"
	"  EXECUTE FUNCTION stripelink_resource_gen()",
	/* 16 */
	"CREATE INDEX outbox_leased ON outbox (lease_owner, lease_until) WHERE lease_until > 0",
};
_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == N_MIGRATIONS,
	       "every migration needs its PostgreSQL step");

/* ---- the statement table ---- */

enum stmt {
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
	ST_CONTACT_SET_NAMES,
	ST_CONTACT_SET_EMAIL,
	ST_CONTACT_SET_VALUE,
	ST_TAG_INSERT,
	ST_TAG_ID,
	ST_CONTACT_TAG_INSERT,
	ST_CONTACT_TAG_INSERT2,
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
	ST_LOG_ADD_QUIET,
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
	ST_WINDOW_FIRST,
	ST_WINDOWS_RELEASE,
	ST_WINDOW_CLAIM,
	ST_WINDOW_WIDEST,
	ST_WINDOW_LEASE,
	ST_WINDOWS_HELD,
	ST_RATE_RESERVE,
	ST_CATCHUP_CLAIM,
	ST_CATCHUP_RELEASE,
	ST_OUTBOX_CLAIM,
	ST_OUTBOX_CLAIMED,
	ST_SETUP_TOKEN_PUT,
	ST_SETUP_TOKEN_FIND,
	ST_SETUP_TOKENS_CLEAR,
	ST_WINDOW_MINE,
	ST_OUTBOX_UNCLAIM,
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
	ST_AUTOMATION_TRIGGERS,
	ST_EVENT_STATE,
	ST_JOBS_READY,
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

/* PostgreSQL's: string_agg for group_concat, ILIKE for SQLite's
 * case-insensitive LIKE */
#define PG_TAGS_OF(c) \
	"(SELECT coalesce(string_agg(t.name, ';' ORDER BY t.name), '') FROM contact_tags ct" \
	" JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = " c ")"
#define PG_CONTACT_MATCH \
	" WHERE (?1 IS NULL OR c.email_key ILIKE ?1 ESCAPE '\\'" \
	"        OR (c.first_name || ' ' || c.last_name) ILIKE ?1 ESCAPE '\\')" \
	"   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id" \
	"        WHERE ct.contact_id = c.id AND t.name = ?2))"

#define CONNECTION_COLUMNS \
	"id, status, account_id, account_name, livemode, key_sealed, key_hint, endpoint_id," \
	" secret_sealed, previous_secret_sealed, previous_secret_until, create_contact," \
	" create_order, create_recurring, created_at, connected_at, disconnected_at, config_gen"

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

/* An entry that leaves out pg or queue has them NULL and false: clang's
 * -Wextra would name every such entry (-Wmissing-field-initializers). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct {
	const char *types;   /* one letter per parameter: i int, t text, b blob, r real */
	const char *sql;     /* SQLite's spelling; ?N are the parameters */
	const char *pg;      /* PostgreSQL's where the dialects differ; NULL: the same */
	bool queue;          /* exec() may queue it (db_run_queued): a write nobody reads back */
} stmts[] = {
	[ST_PING] = {"", "SELECT 1", NULL},
	[ST_USER_COUNT] = {"", "SELECT count(*) FROM users", NULL},
	[ST_USER_INSERT] = {"tti", "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3) RETURNING id", NULL},
	[ST_USER_FIND] = {"t", "SELECT id, username, password_hash FROM users WHERE username = ?1",
		/* pg */ "SELECT id, username, password_hash FROM users WHERE lower(username) = lower(?1)"},
	[ST_SESSION_INSERT] = {"titii", "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)"
			      " VALUES (?1, ?2, ?3, ?4, ?5)", NULL},
	[ST_SESSION_FIND] = {"ti", "SELECT s.user_id, u.username, s.csrf, s.expires_at FROM sessions s"
			    " JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2", NULL},
	[ST_SESSION_DELETE] = {"t", "DELETE FROM sessions WHERE token_hash = ?1", NULL},
	[ST_SESSION_PURGE] = {"i", "DELETE FROM sessions WHERE expires_at <= ?1", NULL},
	[ST_LOGIN_GET] = {"t", "SELECT failures, last_at FROM login_attempts WHERE key = ?1", NULL},
	[ST_LOGIN_FAILED] = {"ti", "INSERT INTO login_attempts (key, failures, last_at) VALUES (?1, 1, ?2)"
			    " ON CONFLICT (key) DO UPDATE SET failures = login_attempts.failures + 1, last_at = ?2", NULL},
	[ST_LOGIN_CLEAR] = {"t", "DELETE FROM login_attempts WHERE key = ?1", NULL},
	[ST_FIELDS_LIST] = {"", "SELECT id, key, label, type, builtin FROM fields ORDER BY builtin DESC, id", NULL},
	[ST_FIELD_INSERT] = {"ttt", "INSERT INTO fields (key, label, type) VALUES (?1, ?2, ?3) RETURNING id", NULL},
	[ST_FIELD_DELETE] = {"i", "DELETE FROM fields WHERE id = ?1 AND builtin = 0", NULL},
	[ST_FIELD_EXISTS] = {"t", "SELECT 1 FROM fields WHERE key = ?1", NULL},
	[ST_FIELD_ID] = {"t", "SELECT id FROM fields WHERE key = ?1 AND builtin = 0", NULL},
	[ST_CONTACTS_SEARCH] = {"ttii", "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			       ", c.created_at, c.updated_at FROM contacts c" CONTACT_MATCH
			       " ORDER BY c.id DESC LIMIT ?3 OFFSET ?4",
		/* pg */ "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " PG_TAGS_OF("c.id")
		", c.created_at, c.updated_at FROM contacts c" PG_CONTACT_MATCH " ORDER BY c.id DESC LIMIT ?3 OFFSET ?4"},
	[ST_CONTACTS_COUNT] = {"tt", "SELECT count(*) FROM contacts c" CONTACT_MATCH,
		/* pg */ "SELECT count(*) FROM contacts c" PG_CONTACT_MATCH},
	[ST_CONTACT_GET] = {"i", "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			   ", c.created_at, c.updated_at FROM contacts c WHERE c.id = ?1",
		/* pg */ "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " PG_TAGS_OF("c.id")
		", c.created_at, c.updated_at FROM contacts c WHERE c.id = ?1"},
	[ST_CONTACT_VALUES] = {"i", "SELECT f.id, f.key, f.label, v.value FROM contact_values v"
			      " JOIN fields f ON f.id = v.field_id WHERE v.contact_id = ?1 ORDER BY f.id", NULL},
	[ST_TAGS_LIST] = {"", "SELECT name FROM tags t WHERE EXISTS (SELECT 1 FROM contact_tags ct"
			 " WHERE ct.tag_id = t.id) ORDER BY name", NULL},
	/* every contact, a page at a time by id (memory stays flat on either
	 * engine: PostgreSQL's results arrive whole) */
	[ST_CONTACTS_ALL] = {"ii", "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
			    ", c.created_at, c.updated_at FROM contacts c WHERE c.id > ?1 ORDER BY c.id LIMIT ?2",
		/* pg */ "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " PG_TAGS_OF("c.id")
		", c.created_at, c.updated_at FROM contacts c WHERE c.id > ?1 ORDER BY c.id LIMIT ?2"},
	[ST_VALUES_ALL] = {"ii", "SELECT contact_id, field_id, value FROM contact_values"
				 " WHERE contact_id > ?1 AND contact_id <= ?2 ORDER BY contact_id", NULL},
	[ST_CONTACT_FIND_KEY] = {"t", "SELECT id FROM contacts WHERE email_key = ?1", NULL},
	[ST_CONTACT_INSERT] = {"tti", "INSERT INTO contacts (email, email_key, created_at, updated_at)"
			      " VALUES (?1, ?2, ?3, ?3) RETURNING id", NULL},
	[ST_CONTACT_SET_FIRST] = {"iti", "UPDATE contacts SET first_name = ?2, updated_at = ?3 WHERE id = ?1", NULL, true},
	[ST_CONTACT_SET_LAST] = {"iti", "UPDATE contacts SET last_name = ?2, updated_at = ?3 WHERE id = ?1", NULL, true},
	[ST_CONTACT_SET_PHONE] = {"iti", "UPDATE contacts SET phone = ?2, updated_at = ?3 WHERE id = ?1", NULL, true},
	/* NULL keeps a column as it is */
	[ST_CONTACT_SET_NAMES] = {"ittti", "UPDATE contacts SET first_name = coalesce(?2, first_name),"
				 " last_name = coalesce(?3, last_name), phone = coalesce(?4, phone), updated_at = ?5"
				 " WHERE id = ?1", NULL, true},
	[ST_CONTACT_SET_EMAIL] = {"iti", "UPDATE contacts SET email = ?2, updated_at = ?3 WHERE id = ?1", NULL},
	[ST_CONTACT_SET_VALUE] = {"itt", "INSERT INTO contact_values (contact_id, field_id, value)"
				 " SELECT ?1, id, ?3 FROM fields WHERE key = ?2 AND builtin = 0"
				 " ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value", NULL, true},
	[ST_TAG_INSERT] = {"t", "INSERT INTO tags (name) VALUES (?1) ON CONFLICT (name) DO NOTHING", NULL},
	[ST_TAG_ID] = {"t", "SELECT id FROM tags WHERE name = ?1", NULL},
	[ST_CONTACT_TAG_INSERT] = {"ii", "INSERT INTO contact_tags (contact_id, tag_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", NULL, true},
	[ST_CONTACT_TAG_INSERT2] = {"iii", "INSERT INTO contact_tags (contact_id, tag_id) VALUES (?1, ?2), (?1, ?3)"
				   " ON CONFLICT DO NOTHING", NULL, true},
	[ST_CONNECTION_GET] = {"i", "SELECT " CONNECTION_COLUMNS " FROM connections WHERE id = ?1", NULL},
	[ST_CONNECTIONS_LIST] = {"", "SELECT " CONNECTION_COLUMNS " FROM connections WHERE status != 'pending'"
				" ORDER BY id", NULL},
	[ST_CONNECTION_BY_ACCOUNT] = {"ti", "SELECT id FROM connections WHERE account_id = ?1 AND livemode = ?2"
				     " ORDER BY id DESC LIMIT 1", NULL},
	[ST_CONNECTION_INSERT] = {"ttii", "INSERT INTO connections (status, account_id, account_name, livemode, created_at,"
				 " pending_since) VALUES ('pending', ?1, ?2, ?3, ?4, ?4) RETURNING id", NULL},
	/* a pending row older than ?5 was left by a connect that died midway */
	[ST_CONNECTION_PENDING] = {"itiii", "UPDATE connections SET status = 'pending', account_name = ?2, livemode = ?3,"
				  " pending_since = ?4 WHERE id = ?1 AND (status = 'disconnected'"
				  " OR (status = 'pending' AND coalesce(pending_since, 0) < ?5))", NULL},
	[ST_CONNECTION_ACTIVATE] = {"itttti", "UPDATE connections SET status = 'connected', key_sealed = ?2, key_hint = ?3,"
				   " endpoint_id = ?4, secret_sealed = ?5, previous_secret_sealed = NULL,"
				   " previous_secret_until = NULL, connected_at = ?6, disconnected_at = NULL"
				   " WHERE id = ?1 AND status = 'pending'", NULL},
	[ST_CONNECTION_DELETE_PENDING] = {"i", "DELETE FROM connections WHERE id = ?1 AND status = 'pending'"
					 " AND connected_at IS NULL", NULL},
	[ST_CONNECTION_DISCONNECT] = {"ii", "UPDATE connections SET status = 'disconnected', key_sealed = NULL,"
				     " secret_sealed = NULL, previous_secret_sealed = NULL, previous_secret_until = NULL,"
				     " endpoint_id = NULL, disconnected_at = ?2 WHERE id = ?1", NULL},
	[ST_CONNECTION_SWITCHES] = {"iiii", "UPDATE connections SET create_contact = ?2, create_order = ?3,"
				   " create_recurring = ?4 WHERE id = ?1", NULL},
	[ST_RESOURCES_LIST] = {"i", "SELECT id, connection_id, resource, sync_type, mapping, created_at, updated_at"
			      " FROM connection_resources WHERE connection_id = ?1 ORDER BY id", NULL},
	[ST_RESOURCE_GET] = {"it", "SELECT id, connection_id, resource, sync_type, mapping, created_at, updated_at"
			    " FROM connection_resources WHERE connection_id = ?1 AND resource = ?2", NULL},
	[ST_RESOURCE_UPSERT] = {"itti", "INSERT INTO connection_resources (connection_id, resource, sync_type, created_at, updated_at)"
			       " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (connection_id, resource)"
			       " DO UPDATE SET sync_type = excluded.sync_type, updated_at = excluded.updated_at", NULL},
	[ST_RESOURCE_SET_MAPPING] = {"itti", "UPDATE connection_resources SET mapping = ?3, updated_at = ?4"
				    " WHERE connection_id = ?1 AND resource = ?2", NULL},
	[ST_RESOURCE_DELETE] = {"it", "DELETE FROM connection_resources WHERE connection_id = ?1 AND resource = ?2", NULL},
	[ST_EVENT_GET] = {"it", "SELECT result FROM stripe_events WHERE connection_id = ?1 AND event_id = ?2", NULL},
	[ST_EVENT_PUT] = {"itt", "INSERT INTO stripe_events (connection_id, event_id, result) VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (connection_id, event_id) DO UPDATE SET result = excluded.result", NULL, true},
	[ST_LOG_ADD] = {"iittttitt", "INSERT INTO integration_log (connection_id, at, event_id, type, result, reason,"
		       " contact_id, payload, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, 'webhook')) RETURNING id", NULL},
	/* the same when the caller needs no id (every webhook): RETURNING costs
	 * SQLite a buffered result row per insert */
	[ST_LOG_ADD_QUIET] = {"iittttitt", "INSERT INTO integration_log (connection_id, at, event_id, type, result,"
			     " reason, contact_id, payload, source)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, coalesce(?9, 'webhook'))", NULL, true},
	[ST_LOG_LIST] = {"ittii", "SELECT " LOG_COLUMNS " FROM integration_log WHERE connection_id = ?1"
			" AND (?2 IS NULL OR result = ?2) AND (?3 IS NULL OR type = ?3)"
			" ORDER BY id DESC LIMIT ?4 OFFSET ?5", NULL},
	[ST_LOG_COUNT] = {"itt", "SELECT count(*) FROM integration_log WHERE connection_id = ?1"
			 " AND (?2 IS NULL OR result = ?2) AND (?3 IS NULL OR type = ?3)", NULL},
	[ST_LOG_GET] = {"ii", "SELECT " LOG_COLUMNS ", payload FROM integration_log WHERE id = ?1 AND connection_id = ?2", NULL},
	[ST_LOG_TYPES] = {"i", "SELECT DISTINCT type FROM integration_log WHERE connection_id = ?1 AND type != ''"
			 " ORDER BY type", NULL},
	[ST_VERSION_GET] = {"t", "SELECT version FROM object_versions WHERE object_id = ?1", NULL},
	[ST_VERSION_PUT] = {"ti", "INSERT INTO object_versions (object_id, version) VALUES (?1, ?2)"
			   " ON CONFLICT (object_id) DO UPDATE SET version = max(version, excluded.version)",
		/* pg */ "INSERT INTO object_versions (object_id, version) VALUES (?1, ?2) ON CONFLICT (object_id)"
		" DO UPDATE SET version = greatest(object_versions.version, excluded.version)", true},
	[ST_LINK_GET] = {"t", "SELECT contact_id FROM stripe_customers WHERE customer_id = ?1", NULL},
	[ST_LINK_PUT] = {"ti", "INSERT INTO stripe_customers (customer_id, contact_id) VALUES (?1, ?2)"
			" ON CONFLICT (customer_id) DO UPDATE SET contact_id = excluded.contact_id", NULL, true},
	[ST_ORDER_UPSERT] = {"tiiiittti", "INSERT INTO orders (stripe_id, connection_id, contact_id, amount, amount_refunded,"
			    " currency, status, created, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
			    " ON CONFLICT (stripe_id) DO UPDATE SET contact_id = excluded.contact_id,"
			    " amount = excluded.amount, amount_refunded = excluded.amount_refunded,"
			    " currency = excluded.currency, status = excluded.status,"
			    " created = coalesce(excluded.created, orders.created), updated_at = excluded.updated_at", NULL, true},
	[ST_ORDER_REFUND] = {"titi", "UPDATE orders SET amount_refunded = ?2, status = ?3, updated_at = ?4 WHERE stripe_id = ?1", NULL},
	[ST_RECURRING_UPSERT] = {"tiitttittiti", "INSERT INTO recurring_payments (subscription_id, connection_id, contact_id, status,"
				" price_id, product, amount, currency, interval, interval_count, current_period_end,"
				" updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
				" ON CONFLICT (subscription_id) DO UPDATE SET contact_id = excluded.contact_id,"
				" status = excluded.status, price_id = coalesce(excluded.price_id, recurring_payments.price_id),"
				" product = coalesce(excluded.product, recurring_payments.product),"
				" amount = coalesce(excluded.amount, recurring_payments.amount),"
				" currency = coalesce(excluded.currency, recurring_payments.currency),"
				" interval = coalesce(excluded.interval, recurring_payments.interval),"
				" interval_count = coalesce(excluded.interval_count, recurring_payments.interval_count),"
				" current_period_end = coalesce(excluded.current_period_end,"
				" recurring_payments.current_period_end),"
				" updated_at = excluded.updated_at", NULL, true},
	[ST_COUNTS] = {"i", "SELECT (SELECT count(*) FROM contacts c WHERE EXISTS (SELECT 1 FROM contact_tags ct"
		      "   JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.name = 'stripe-integration')),"
		      " (SELECT count(*) FROM orders WHERE connection_id = ?1),"
		      " (SELECT count(*) FROM recurring_payments WHERE connection_id = ?1),"
		      " (SELECT count(*) FROM integration_log WHERE connection_id = ?1)", NULL},
	[ST_JOB_INSERT] = {"iti", "INSERT INTO sync_jobs (connection_id, resource, state, queued_at) VALUES (?1, ?2, 'queued', ?3) RETURNING id", NULL},
	[ST_JOB_ACTIVE_FOR] = {"it", "SELECT id FROM sync_jobs WHERE connection_id = ?1 AND resource = ?2"
			      " AND state IN ('queued','running','paused')", NULL},
	[ST_JOB_GET] = {"i", "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE id = ?1", NULL},
	[ST_JOBS_LIST] = {"i", "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE connection_id = ?1 ORDER BY id DESC LIMIT 20", NULL},
	[ST_JOB_NEXT] = {"", "SELECT " JOB_COLUMNS " FROM sync_jobs WHERE state IN ('running','queued')"
			" ORDER BY state = 'running' DESC, id LIMIT 1", NULL},
	[ST_JOB_STATE] = {"i", "SELECT state FROM sync_jobs WHERE id = ?1", NULL},
	[ST_JOB_START] = {"ii", "UPDATE sync_jobs SET state = 'running', error = '',"
			 " started_at = coalesce(started_at, ?2) WHERE id = ?1 AND state IN ('queued','running')", NULL},
	[ST_JOB_FINISH] = {"ittii", "UPDATE sync_jobs SET state = ?2, error = ?3, finished_at = ?4,"
			  " elapsed_ms = elapsed_ms + ?5 WHERE id = ?1 AND state IN ('queued','running')", NULL},
	[ST_JOB_PAGE] = {"iiiiii", "UPDATE sync_jobs SET objects = objects + ?2, pages = pages + 1,"
			" contacts_created = contacts_created + ?3, contacts_updated = contacts_updated + ?4,"
			" skipped = skipped + ?5, elapsed_ms = elapsed_ms + ?6 WHERE id = ?1", NULL},
	[ST_JOBS_CANCEL_CONNECTION] = {"iit", "UPDATE sync_jobs SET state = 'cancelled', error = ?3, finished_at = ?2"
				      " WHERE connection_id = ?1 AND state IN ('queued','running','paused','failed')", NULL},
	[ST_JOB_CONTROL] = {"iitit", "UPDATE sync_jobs SET state = ?3, finished_at = CASE WHEN ?3 = 'cancelled' THEN ?4"
			   " ELSE finished_at END WHERE id = ?1 AND connection_id = ?2 AND state IN"
			   " (SELECT value FROM json_each(?5))",
		/* pg */ "UPDATE sync_jobs SET state = ?3, finished_at = CASE WHEN ?3 = 'cancelled' THEN ?4"
		" ELSE finished_at END WHERE id = ?1 AND connection_id = ?2 AND state IN"
		" (SELECT json_array_elements_text(?5::json))"},
	[ST_WINDOW_INSERT] = {"iii", "INSERT INTO sync_windows (job_id, created_gte, created_lt) VALUES (?1, ?2, ?3) RETURNING id", NULL},
	[ST_WINDOWS_LIST] = {"i", "SELECT id, job_id, created_gte, created_lt, coalesce(cursor, ''),"
			    " coalesce(oldest_seen, created_lt), done FROM sync_windows WHERE job_id = ?1 ORDER BY id", NULL},
	[ST_WINDOW_ADVANCE] = {"itiii", "UPDATE sync_windows SET cursor = ?2, oldest_seen = ?3, done = ?4,"
					" lease_until = max(lease_until, ?5) WHERE id = ?1",
		/* pg */ "UPDATE sync_windows SET cursor = ?2, oldest_seen = ?3, done = ?4,"
			 " lease_until = greatest(lease_until, ?5) WHERE id = ?1"},
	[ST_JOB_PROGRESS] = {"i", "SELECT coalesce(sum(CASE WHEN done THEN created_lt - created_gte"
			    " ELSE created_lt - coalesce(oldest_seen, created_lt) END), 0),"
			    " coalesce(sum(created_lt - created_gte), 0), count(*) FROM sync_windows WHERE job_id = ?1",
		/* pg */ "SELECT coalesce(sum(CASE WHEN done <> 0 THEN created_lt - created_gte"
		" ELSE created_lt - coalesce(oldest_seen, created_lt) END), 0),"
		" coalesce(sum(created_lt - created_gte), 0), count(*) FROM sync_windows WHERE job_id = ?1"},
	[ST_WINDOW_SET_GTE] = {"ii", "UPDATE sync_windows SET created_gte = ?2 WHERE id = ?1", NULL},
	[ST_CONNECTION_ROLL] = {"itti", "UPDATE connections SET endpoint_id = ?2, secret_sealed = ?3,"
			       " previous_secret_sealed = secret_sealed, previous_secret_until = ?4"
			       " WHERE id = ?1 AND status = 'connected'", NULL},
	[ST_JOB_ANY] = {"it", "SELECT count(*) FROM sync_jobs WHERE connection_id = ?1 AND resource = ?2", NULL},
	[ST_CATCHUP_ENSURE] = {"i", "INSERT INTO catchups (connection_id) SELECT ?1 WHERE EXISTS"
			      " (SELECT 1 FROM connections WHERE id = ?1) ON CONFLICT (connection_id) DO NOTHING", NULL},
	[ST_CATCHUP_GET] = {"i", "SELECT connection_id, cursor, coalesce(requested_at, 0), run_lte IS NOT NULL,"
			   " coalesce(run_gte, 0), coalesce(run_lte, 0), coalesce(run_after, ''), run_newest, run_found,"
			   " run_new, run_skipped, coalesce(last_at, 0), last_found, last_new, last_skipped, last_error,"
			   " undelivered, undelivered_more, coalesce(undelivered_oldest, 0), endpoint_state,"
			   " endpoint_detail, coalesce(endpoint_checked_at, 0), coalesce(health_requested_at, 0)"
			   " FROM catchups WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_REQUEST] = {"ii", "UPDATE catchups SET requested_at = coalesce(requested_at, ?2) WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_REQUEST_HEALTH] = {"ii", "UPDATE catchups SET health_requested_at = coalesce(health_requested_at, ?2)"
				      " WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_BEGIN] = {"iii", "UPDATE catchups SET run_gte = ?2, run_lte = ?3, run_after = NULL, run_newest = 0,"
			     " run_found = 0, run_new = 0, run_skipped = 0, requested_at = NULL, last_error = ''"
			     " WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_PAGE] = {"itiiii", "UPDATE catchups SET run_after = ?2, run_newest = max(run_newest, ?3),"
			    " run_found = run_found + ?4, run_new = run_new + ?5, run_skipped = run_skipped + ?6"
			    " WHERE connection_id = ?1 AND run_lte IS NOT NULL",
		/* pg */ "UPDATE catchups SET run_after = ?2, run_newest = greatest(run_newest, ?3),"
		" run_found = run_found + ?4, run_new = run_new + ?5, run_skipped = run_skipped + ?6"
		" WHERE connection_id = ?1 AND run_lte IS NOT NULL"},
	[ST_CATCHUP_FINISH] = {"ii", "UPDATE catchups SET cursor = max(cursor, run_newest), last_at = ?2, last_found = run_found,"
			      " last_new = run_new, last_skipped = run_skipped, last_error = '', run_gte = NULL,"
			      " run_lte = NULL, run_after = NULL WHERE connection_id = ?1",
		/* pg */ "UPDATE catchups SET cursor = greatest(cursor, run_newest), last_at = ?2, last_found = run_found,"
		" last_new = run_new, last_skipped = run_skipped, last_error = '', run_gte = NULL,"
		" run_lte = NULL, run_after = NULL WHERE connection_id = ?1"},
	[ST_CATCHUP_FAIL] = {"iit", "UPDATE catchups SET last_at = ?2, last_error = ?3 WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_UNDELIVERED] = {"iiii", "UPDATE catchups SET undelivered = ?2, undelivered_more = ?3,"
				   " undelivered_oldest = nullif(?4, 0) WHERE connection_id = ?1", NULL},
	[ST_CATCHUP_ENDPOINT] = {"itti", "UPDATE catchups SET endpoint_state = ?2, endpoint_detail = ?3, endpoint_checked_at = ?4,"
				" health_requested_at = NULL WHERE connection_id = ?1", NULL},
	[ST_CONNECTION_SET_KEY] = {"itt", "UPDATE connections SET key_sealed = ?2, key_hint = ?3 WHERE id = ?1"
				  " AND status = 'connected'", NULL},
	[ST_CONTACT_ORDERS] = {"i", "SELECT stripe_id, amount, amount_refunded, currency, status, coalesce(created, '')"
			      " FROM orders WHERE contact_id = ?1 ORDER BY id DESC LIMIT 100", NULL},
	[ST_CONTACT_RECURRING] = {"i", "SELECT subscription_id, status, coalesce(price_id, ''), coalesce(amount, 0),"
				 " coalesce(currency, ''), coalesce(interval, ''), coalesce(current_period_end, ''), amount IS NOT NULL,"
				 " coalesce(canceled_at, '')"
				 " FROM recurring_payments WHERE contact_id = ?1 ORDER BY id DESC LIMIT 100", NULL},
	/* retention: at most ?2 rows older than ?1 per call (small writer batches) */
	[ST_PRUNE_REJECTED] = {"ii", "DELETE FROM integration_log WHERE id IN (SELECT id FROM integration_log"
			      " WHERE at < ?1 AND result = 'rejected' LIMIT ?2)", NULL},
	[ST_PRUNE_LOG] = {"ii", "DELETE FROM integration_log WHERE id IN (SELECT id FROM integration_log"
			 " WHERE at < ?1 LIMIT ?2)", NULL},
	[ST_PRUNE_PAYLOADS] = {"ii", "UPDATE integration_log SET payload = NULL WHERE id IN (SELECT id FROM"
			      " integration_log WHERE at < ?1 AND payload IS NOT NULL LIMIT ?2)", NULL},
	[ST_PRUNE_LOGINS] = {"ii", "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts"
			    " WHERE last_at < ?1 LIMIT ?2)", NULL},
	[ST_SEGMENT_INSERT] = {"tti", "INSERT INTO segments (name, definition, created_at) VALUES (?1, ?2, ?3) RETURNING id", NULL},
	[ST_SEGMENT_UPDATE] = {"itt", "UPDATE segments SET name = ?2, definition = ?3 WHERE id = ?1", NULL},
	[ST_SEGMENT_DELETE] = {"i", "DELETE FROM segments WHERE id = ?1", NULL},
	[ST_SEGMENT_GET] = {"i", "SELECT id, name, definition, created_at FROM segments WHERE id = ?1", NULL},
	[ST_SEGMENTS_LIST] = {"", "SELECT id, name, definition, created_at FROM segments ORDER BY name",
		/* pg */ "SELECT id, name, definition, created_at FROM segments ORDER BY lower(name), name"},
	[ST_CONTACT_UNTAG] = {"it", "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag_id ="
			     " (SELECT id FROM tags WHERE name = ?2)", NULL},
	[ST_ORDER_STATUS] = {"t", "SELECT status FROM orders WHERE stripe_id = ?1", NULL},
	[ST_RECURRING_STATUS] = {"t", "SELECT status FROM recurring_payments WHERE subscription_id = ?1", NULL},
	[ST_AUTOMATION_INSERT] = {"tttiitii", "INSERT INTO automations (name, trigger, trigger_tag, enabled, history,"
				 " secret_sealed, created_at, segment_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
				 " nullif(?8, 0)) RETURNING id", NULL},
	[ST_AUTOMATION_UPDATE] = {"itttiii", "UPDATE automations SET name = ?2, trigger = ?3, trigger_tag = ?4,"
				 " enabled = ?5, history = ?6, segment_id = nullif(?7, 0) WHERE id = ?1", NULL},
	[ST_AUTOMATION_DELETE] = {"i", "DELETE FROM automations WHERE id = ?1", NULL},
	[ST_AUTOMATION_ENABLE] = {"ii", "UPDATE automations SET enabled = ?2 WHERE id = ?1", NULL},
	[ST_AUTOMATION_SECRET] = {"it", "UPDATE automations SET secret_sealed = ?2 WHERE id = ?1", NULL},
	[ST_AUTOMATION_GET] = {"i", "SELECT " AUTOMATION_COLUMNS " FROM automations WHERE id = ?1", NULL},
	[ST_AUTOMATIONS_LIST] = {"", "SELECT " AUTOMATION_COLUMNS " FROM automations ORDER BY id", NULL},
	[ST_AUTOMATIONS_FOR] = {"tt", "SELECT " AUTOMATION_COLUMNS_OF("a") ", x.position, x.kind, x.name, x.value"
			       " FROM automations a JOIN automation_actions x ON x.automation_id = a.id"
			       " WHERE a.trigger = ?1 AND a.enabled = 1 AND (?2 IS NULL OR a.trigger_tag = ?2)"
			       " ORDER BY a.id, x.position", NULL},
	[ST_ACTIONS_DELETE] = {"i", "DELETE FROM automation_actions WHERE automation_id = ?1", NULL},
	[ST_ACTION_INSERT] = {"iittt", "INSERT INTO automation_actions (automation_id, position, kind, name, value)"
			     " VALUES (?1, ?2, ?3, ?4, ?5)", NULL},
	[ST_ACTIONS_LIST] = {"i", "SELECT automation_id, position, kind, name, value FROM automation_actions"
			    " WHERE automation_id = ?1 ORDER BY position", NULL},
	[ST_RUN_INSERT] = {"iiitt", "INSERT INTO automation_runs (automation_id, at, contact_id, source, detail)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)", NULL, true},
	[ST_RUN_COUNT] = {"ii", "UPDATE automations SET runs = runs + 1, last_run_at = ?2 WHERE id = ?1", NULL, true},
	[ST_RUNS_LIST] = {"i", "SELECT id, automation_id, at, coalesce(contact_id, 0), source, detail"
			 " FROM automation_runs WHERE automation_id = ?1 ORDER BY id DESC LIMIT 50", NULL},
	[ST_OUTBOX_INSERT] = {"itttiii", "INSERT INTO outbox (automation_id, url, body, idempotency_key, test, state,"
			     " next_at, give_up_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?6)", NULL, true},
	[ST_OUTBOX_NEXT] = {"ii", "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN automations a ON a.id = o.automation_id"
			   " WHERE o.state = 'pending' AND o.next_at <= ?1 ORDER BY o.next_at, o.id LIMIT ?2", NULL},
	[ST_OUTBOX_ATTEMPT] = {"iiiitt", "INSERT INTO outbox_attempts (outbox_id, at, status, ms, excerpt, error)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", NULL},
	[ST_OUTBOX_SETTLE] = {"itii", "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_at = ?3,"
			     " finished_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?4 END, lease_until = 0 WHERE id = ?1", NULL},
	[ST_AUTOMATION_FAILED] = {"i", "UPDATE automations SET failures = failures + 1 WHERE id ="
				 " (SELECT automation_id FROM outbox WHERE id = ?1 AND test = 0)", NULL},
	[ST_OUTBOX_LIST] = {"i", "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN automations a ON a.id = o.automation_id"
			   " WHERE o.automation_id = ?1 ORDER BY o.id DESC LIMIT 50", NULL},
	[ST_OUTBOX_RESEND] = {"iiii", "UPDATE outbox SET state = 'pending', next_at = ?3, give_up_at = ?4,"
			     " finished_at = NULL WHERE id = ?1 AND automation_id = ?2", NULL},
	[ST_ATTEMPTS_LIST] = {"i", "SELECT x.id, x.outbox_id, x.at, x.status, x.ms, x.excerpt, x.error"
			     " FROM outbox_attempts x JOIN outbox o ON o.id = x.outbox_id"
			     " WHERE o.automation_id = ?1 ORDER BY x.id DESC LIMIT 200", NULL},
	/* money actually taken is a charge's: an invoice or checkout session is paid
	 * through a charge, so counting them too would count the money twice */
	[ST_CONTACT_REVENUE] = {"i", "SELECT currency, sum(amount - amount_refunded - amount_lost), count(*), 0 FROM orders"
			       " WHERE contact_id = ?1 AND substr(stripe_id, 1, 3) = 'ch_'"
			       " AND status IN ('paid', 'partially_refunded', 'refunded')"
			       " GROUP BY currency ORDER BY currency", NULL},
	[ST_CONTACT_ORDER_SPAN] = {"i", "SELECT count(*), coalesce(min(created), ''), coalesce(max(created), '')"
				  " FROM orders WHERE contact_id = ?1", NULL},
	/* monthly: yearly / 12, weekly * 52 / 12, daily * 365 / 12, per interval_count */
	[ST_CONTACT_MONTHLY] = {"i", "SELECT coalesce(currency, ''), CAST(round(coalesce(sum(amount * CASE interval"
			       " WHEN 'month' THEN 1.0 WHEN 'year' THEN 1.0 / 12 WHEN 'week' THEN 52.0 / 12"
			       " WHEN 'day' THEN 365.0 / 12 END / coalesce(interval_count, 1)), 0)) AS INTEGER),"
			       " count(*), sum(amount IS NULL OR interval NOT IN ('month', 'year', 'week', 'day')"
			       " OR interval IS NULL)"
			       " FROM recurring_payments WHERE contact_id = ?1 AND status = 'active'"
			       " GROUP BY currency ORDER BY currency",
		/* pg */ "SELECT coalesce(currency, ''), CAST(round(coalesce(sum(amount * CASE \"interval\""
		" WHEN 'month' THEN 1.0 WHEN 'year' THEN 1.0 / 12 WHEN 'week' THEN 52.0 / 12"
		" WHEN 'day' THEN 365.0 / 12 END / coalesce(interval_count, 1)), 0)) AS BIGINT),"
		" count(*), sum(CASE WHEN amount IS NULL OR \"interval\" IS NULL"
		" OR \"interval\" NOT IN ('month', 'year', 'week', 'day') THEN 1 ELSE 0 END)"
		" FROM recurring_payments WHERE contact_id = ?1 AND status = 'active'"
		" GROUP BY currency ORDER BY currency"},
	[ST_WINDOW_GTE] = {"i", "SELECT created_gte FROM sync_windows WHERE id = ?1", NULL},
	[ST_PENDING_PUT] = {"ittbii", "INSERT INTO pending_events (connection_id, event_id, customer_id, payload, received_at, next_try)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (connection_id, event_id) DO NOTHING", NULL},
	[ST_PENDING_DELETE] = {"it", "DELETE FROM pending_events WHERE connection_id = ?1 AND event_id = ?2", NULL, true},
	/* due: what it waits for is there now (its customer is linked; for a refund
	 * or a dispute, customer_id holds the charge: its order exists), or the
	 * wait is over (oldest first) */
	[ST_PENDING_DUE] = {"ii", "SELECT p.connection_id, p.event_id, p.payload, p.received_at, p.fetch_object"
			  " FROM pending_events p"
			  " WHERE p.next_try <= ?1 OR EXISTS (SELECT 1 FROM stripe_customers s"
			  " WHERE s.customer_id = p.customer_id)"
			  " OR EXISTS (SELECT 1 FROM orders o WHERE o.stripe_id = p.customer_id)"
			  " ORDER BY p.rowid LIMIT ?2",
		/* pg */ "SELECT p.connection_id, p.event_id, p.payload, p.received_at, p.fetch_object"
		" FROM pending_events p"
		" WHERE p.next_try <= ?1 OR EXISTS (SELECT 1 FROM stripe_customers s"
		" WHERE s.customer_id = p.customer_id)"
		" OR EXISTS (SELECT 1 FROM orders o WHERE o.stripe_id = p.customer_id)"
		" ORDER BY p.seq LIMIT ?2"},
	[ST_PENDING_DEFER] = {"iti", "UPDATE pending_events SET next_try = ?3 WHERE connection_id = ?1 AND event_id = ?2", NULL},
	[ST_PENDING_FOR_CUSTOMER] = {"tii", "SELECT connection_id, event_id, payload, received_at, fetch_object"
					    " FROM pending_events"
					    " WHERE customer_id = ?1 AND connection_id = ?2 ORDER BY rowid LIMIT ?3",
		/* pg */ "SELECT connection_id, event_id, payload, received_at, fetch_object FROM pending_events"
			 " WHERE customer_id = ?1 AND connection_id = ?2 ORDER BY seq LIMIT ?3"},
	/* a tie: no customer to wait for; an event already waiting for its
	 * customer now waits for the fetch instead (and no longer for it) */
	[ST_PENDING_PUT_FETCH] = {"itbiit", "INSERT INTO pending_events (connection_id, event_id, customer_id, payload,"
				 " received_at, next_try, fetch_object) VALUES (?1, ?2, '', ?3, ?4, ?5, ?6)"
				 " ON CONFLICT (connection_id, event_id) DO UPDATE SET"
				 " customer_id = '', fetch_object = excluded.fetch_object, next_try = excluded.next_try", NULL},
	/* a refund's (a dispute's) status is replaced by a newer version, or on a
	 * tie by a status at least as final (status_rank) */
	[ST_REFUND_PUT] = {"ttiittiiiii", "INSERT INTO refunds (refund_id, charge_id, connection_id, amount, currency, status, counts,"
			  " status_rank, created, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
			  " ON CONFLICT (refund_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,"
			  " status = excluded.status, counts = excluded.counts, status_rank = excluded.status_rank,"
			  " created = CASE WHEN excluded.created > 0 THEN excluded.created ELSE refunds.created END,"
			  " version = excluded.version, updated_at = excluded.updated_at"
			  " WHERE excluded.version > refunds.version OR (excluded.version = refunds.version"
			  " AND excluded.status_rank >= refunds.status_rank)", NULL, true},
	[ST_DISPUTE_STATUS] = {"t", "SELECT status FROM disputes WHERE dispute_id = ?1", NULL},
	[ST_DISPUTE_PUT] = {"ttiitttiiiii", "INSERT INTO disputes (dispute_id, charge_id, connection_id, amount, currency, status, reason,"
			   " lost, status_rank, created, version, updated_at)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
			   " ON CONFLICT (dispute_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,"
			   " status = excluded.status, reason = excluded.reason, lost = excluded.lost,"
			   " status_rank = excluded.status_rank,"
			   " created = CASE WHEN excluded.created > 0 THEN excluded.created ELSE disputes.created END,"
			   " version = excluded.version, updated_at = excluded.updated_at"
			   " WHERE excluded.version > disputes.version OR (excluded.version = disputes.version"
			   " AND excluded.status_rank >= disputes.status_rank)", NULL},
	[ST_ORDER_REPORTED] = {"tii", "UPDATE orders SET refunded_reported = ?2, reported_at = ?3 WHERE stripe_id = ?1"
			      " AND reported_at <= ?3", NULL, true},
	/* what the ledger needs of one charge (ledger.h): the order's amount and
	 * status, the refunded amount its charge last reported, the refunds that
	 * count, the refunds that report included (made by then, and counting or
	 * failed only since), the lost disputes */
	[ST_LEDGER_TOTALS] = {"t", "SELECT o.amount, o.status, o.refunded_reported,"
			     " (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.charge_id = o.stripe_id"
			     "  AND r.counts = 1),"
			     " (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.charge_id = o.stripe_id"
			     "  AND r.created <= o.reported_at AND (r.counts = 1 OR r.version > o.reported_at)),"
			     " (SELECT coalesce(sum(d.amount), 0) FROM disputes d WHERE d.charge_id = o.stripe_id"
			     "  AND d.lost = 1)"
			     " FROM orders o WHERE o.stripe_id = ?1", NULL},
	[ST_ORDER_SETTLE] = {"tiiti", "UPDATE orders SET amount_refunded = ?2, amount_lost = ?3, status = ?4, updated_at = ?5"
			    " WHERE stripe_id = ?1", NULL, true},
	[ST_ORDER_CONTACT] = {"t", "SELECT coalesce(contact_id, 0) FROM orders WHERE stripe_id = ?1", NULL},
	[ST_CUSTOMER_DELETED] = {"ti", "UPDATE stripe_customers SET deleted_at = coalesce(deleted_at, ?2) WHERE customer_id = ?1", NULL},
	[ST_CONTACT_LINKS] = {"i", "SELECT customer_id, coalesce(deleted_at, 0) FROM stripe_customers WHERE contact_id = ?1"
			     " ORDER BY customer_id LIMIT 100", NULL},
	[ST_CONTACT_DISPUTES] = {"i", "SELECT d.charge_id, d.dispute_id, d.status, d.reason, d.amount, d.currency"
				" FROM disputes d JOIN orders o ON o.stripe_id = d.charge_id WHERE o.contact_id = ?1"
				" ORDER BY d.created, d.dispute_id LIMIT 200", NULL},
	[ST_RECURRING_CANCELED_AT] = {"tt", "UPDATE recurring_payments SET canceled_at = ?2 WHERE subscription_id = ?1", NULL},
	[ST_AUTOMATION_TRIGGERS] = {"", "SELECT DISTINCT trigger FROM automations WHERE enabled = 1", NULL},
	/* a writer job's two first questions in one round trip */
	[ST_EVENT_STATE] = {"ittttttt", "SELECT (SELECT result FROM stripe_events WHERE connection_id = ?1 AND event_id = ?2),"
				   " coalesce((SELECT version FROM object_versions WHERE object_id = ?3), -1),"
				   " EXISTS (SELECT 1 FROM pending_events WHERE customer_id = ?4 AND connection_id = ?1),"
				   " EXISTS (SELECT 1 FROM pending_events WHERE customer_id = ?5 AND connection_id = ?1),"
				   /* answers ahead (struct answer): NULL when there is no row */
				   " (SELECT id FROM contacts WHERE email_key = ?6),"
				   " (SELECT coalesce(contact_id, 0) FROM stripe_customers WHERE customer_id = ?4),"
				   " (SELECT coalesce(status, '') FROM orders WHERE stripe_id = ?7),"
				   " (SELECT coalesce(status, '') FROM recurring_payments WHERE subscription_id = ?8),"
				   " coalesce((SELECT config_gen FROM connections WHERE id = ?1), -1),"
				   /* none enabled: the transaction needs not ask which triggers (trigger_used) */
				   " EXISTS (SELECT 1 FROM automations WHERE enabled = 1)", NULL},
	/* several nodes: a sync run claims windows (an unleased one, else the
	 * older half of the widest) and holds each by a lease it renews per page */
	[ST_WINDOW_FIRST] = {"iii", "INSERT INTO sync_windows (job_id, created_gte, created_lt) SELECT ?1, ?2, ?3"
				    " WHERE NOT EXISTS (SELECT 1 FROM sync_windows WHERE job_id = ?1)", NULL},
	[ST_WINDOWS_RELEASE] = {"it", "UPDATE sync_windows SET lease_until = 0 WHERE job_id = ?1 AND lease_owner = ?2", NULL},
	[ST_WINDOW_CLAIM] = {"itii", "UPDATE sync_windows SET lease_owner = ?2, lease_until = ?4 WHERE id ="
				     " (SELECT id FROM sync_windows WHERE job_id = ?1 AND done = 0 AND lease_until < ?3"
				     " ORDER BY id LIMIT 1)"
				     " RETURNING id, job_id, created_gte, created_lt, coalesce(cursor, ''),"
				     " coalesce(oldest_seen, created_lt), done",
		/* pg */ "UPDATE sync_windows SET lease_owner = ?2, lease_until = ?4 WHERE id ="
			 " (SELECT id FROM sync_windows WHERE job_id = ?1 AND done = 0 AND lease_until < ?3"
			 " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			 " RETURNING id, job_id, created_gte, created_lt, coalesce(cursor, ''),"
			 " coalesce(oldest_seen, created_lt), done"},
	[ST_WINDOW_WIDEST] = {"ii", "SELECT id, created_gte, coalesce(oldest_seen, created_lt) FROM sync_windows"
				    " WHERE job_id = ?1 AND done = 0"
				    " AND coalesce(oldest_seen, created_lt) - created_gte >= ?2"
				    " ORDER BY coalesce(oldest_seen, created_lt) - created_gte DESC, id LIMIT 1", NULL},
	[ST_WINDOW_LEASE] = {"iti", "UPDATE sync_windows SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1", NULL},
	[ST_WINDOWS_HELD] = {"iit", "SELECT count(*) FROM sync_windows WHERE job_id = ?1 AND done = 0"
				    " AND lease_until >= ?2 AND lease_owner != ?3", NULL},
	/* the next free request slot of a shared budget (µs), spaced by ?3 */
	[ST_RATE_RESERVE] = {"tii", "INSERT INTO rate_budgets (key, next_at) VALUES (?1, ?2 + ?3)"
				    " ON CONFLICT (key) DO UPDATE SET next_at = max(rate_budgets.next_at, ?2) + ?3"
				    " RETURNING next_at - ?3",
		/* pg */ "INSERT INTO rate_budgets (key, next_at) VALUES (?1, ?2 + ?3)"
			 " ON CONFLICT (key) DO UPDATE SET next_at = greatest(rate_budgets.next_at, ?2) + ?3"
			 " RETURNING next_at - ?3"},
	[ST_CATCHUP_CLAIM] = {"itii", "UPDATE catchups SET lease_owner = ?2, lease_until = ?4 WHERE connection_id = ?1"
				      " AND (lease_until < ?3 OR lease_owner = ?2)", NULL},
	[ST_CATCHUP_RELEASE] = {"it", "UPDATE catchups SET lease_until = 0 WHERE connection_id = ?1 AND lease_owner = ?2", NULL},
	/* deliveries due and not claimed by another live node (this node's
	 * own claims are its dead worker's), claimed until ?4 (ms) */
	[ST_OUTBOX_CLAIM] = {"iiti", "UPDATE outbox SET lease_owner = ?3, lease_until = ?4 WHERE id IN"
				     " (SELECT id FROM outbox WHERE state = 'pending' AND next_at <= ?1"
				     " AND (lease_until < ?1 OR lease_owner = ?3)"
				     " ORDER BY next_at, id LIMIT ?2)",
		/* pg */ "UPDATE outbox SET lease_owner = ?3, lease_until = ?4 WHERE id IN"
			 " (SELECT id FROM outbox WHERE state = 'pending' AND next_at <= ?1"
				     " AND (lease_until < ?1 OR lease_owner = ?3)"
			 " ORDER BY next_at, id LIMIT ?2 FOR UPDATE SKIP LOCKED)"},
	[ST_OUTBOX_CLAIMED] = {"tii", "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN automations a ON a.id = o.automation_id"
				      " WHERE o.state = 'pending' AND o.lease_owner = ?1 AND o.lease_until = ?2 AND o.lease_until > 0"
				      " ORDER BY o.next_at, o.id LIMIT ?3", NULL},
	[ST_SETUP_TOKEN_PUT] = {"ti", "INSERT INTO setup_tokens (token_hash, created_at) VALUES (?1, ?2)"
				      " ON CONFLICT (token_hash) DO NOTHING", NULL},
	[ST_SETUP_TOKEN_FIND] = {"t", "SELECT count(*) FROM setup_tokens WHERE token_hash = ?1"
				      " AND NOT EXISTS (SELECT 1 FROM users)", NULL},
	[ST_SETUP_TOKENS_CLEAR] = {"", "DELETE FROM setup_tokens", NULL},
	[ST_OUTBOX_UNCLAIM] = {"t", "UPDATE outbox SET lease_until = 0 WHERE lease_owner = ?1 AND lease_until > 0", NULL},
	[ST_WINDOW_MINE] = {"it", "SELECT count(*) FROM sync_windows WHERE id = ?1 AND lease_owner = ?2", NULL},
	/* store_job_next's order, with each job's Stripe account and mode */
	[ST_JOBS_READY] = {"i", "SELECT j.id, c.account_id, c.livemode FROM sync_jobs j"
				" JOIN connections c ON c.id = j.connection_id WHERE j.state IN ('running','queued')"
				" ORDER BY j.state = 'running' DESC, j.id LIMIT ?1", NULL},
};
#pragma GCC diagnostic pop
_Static_assert(sizeof stmts / sizeof stmts[0] == ST__MAX, "every statement needs its SQL");

_Static_assert(ST__MAX <= DB_SLOTS, "the statement cache has a slot for every statement");

#define TAG_CACHE 32
#define TAG_CACHE_NAME 64
#define TRIGGER_CACHE 16
#define TRIGGER_NAME 32

struct store {
	struct db *db;
	/* tag name → id, so tagging is one statement; emptied on any rollback
	 * (a cached tag may have been created by what was rolled back) */
	struct {
		char name[TAG_CACHE_NAME];
		long long id;
	} tags[TAG_CACHE];
	size_t n_tags;
	/* the triggers of the enabled automations, read once per transaction
	 * (an event that fires none costs no query): -1 unread, or outside a
	 * transaction; TRIGGER_CACHE + 1: too many to keep, ask each time.
	 * Saving an automation in the transaction forgets them. */
	bool in_tx;
	int n_triggers;
	char triggers[TRIGGER_CACHE][TRIGGER_NAME];
	/* answers fetched ahead by store_event_state for the job that asked
	 * (one round trip instead of one per lookup): a lookup by one text key
	 * finds its answer here. Forgotten when the job ends (release,
	 * rollback) and when a statement writes the answer's table. */
	struct answer {
		enum stmt lookup;    /* the statement it answers */
		const char *table;   /* the table it reads, followed by a space */
		bool valid, found;
		char key[256];
		long long i;         /* the first column: an id */
		char text[32];       /* or a status */
	} answers[4];
};

/* ---- binding: values are made by V() from their C type, counted by ARGS() ---- */

static struct db_val v_int(long long i) { return (struct db_val){.type = DB_INT, .i = i}; }
static struct db_val v_real(double r) { return (struct db_val){.type = DB_REAL, .r = r}; }
static struct db_val v_text(const char *s) { return (struct db_val){.type = s ? DB_TEXT : DB_NULL, .s = s}; }

/* NULL for an id or count that is not positive */
static struct db_val v_opt_int(long long i) { return i > 0 ? v_int(i) : (struct db_val){.type = DB_NULL}; }
/* NULL for NULL or "" */
static struct db_val v_opt_text(const char *s) { return v_text(s && *s ? s : NULL); }
/* "" for NULL */
static struct db_val v_or_empty(const char *s) { return v_text(s ? s : ""); }

#define V(x) _Generic((x), char *: v_text, const char *: v_text, double: v_real, default: v_int)(x)
#define ARGS(...) (const struct db_val[]){__VA_ARGS__}, \
	(int)(sizeof (const struct db_val[]){__VA_ARGS__} / sizeof(struct db_val))
#define NO_ARGS NULL, 0

/* ---- reading: a row is read into a struct by a table of columns ---- */

enum col_kind {
	COL_SKIP,
	COL_INT,        /* long long */
	COL_INT32,      /* int */
	COL_BOOL,       /* bool: nonzero */
	COL_TEXT,       /* const char *: "" for NULL */
	COL_TEXT_NULL,  /* const char *: NULL for NULL */
};

struct col {
	enum col_kind kind;
	size_t offset;
};

/* A column into member f of struct type T, checked to be size bytes. */
#define COL(kind, T, f, size) \
	{kind, offsetof(T, f) + 0 * sizeof(char[sizeof(((T *)0)->f) == (size) ? 1 : -1])}
#define C_INT(T, f) COL(COL_INT, T, f, sizeof(long long))
#define C_INT32(T, f) COL(COL_INT32, T, f, sizeof(int))
#define C_BOOL(T, f) COL(COL_BOOL, T, f, sizeof(bool))
#define C_TEXT(T, f) COL(COL_TEXT, T, f, sizeof(char *))
#define C_TEXT_NULL(T, f) COL(COL_TEXT_NULL, T, f, sizeof(char *))
#define C_SKIP {COL_SKIP, 0}
#define COLS(t) t, (int)(sizeof t / sizeof t[0])

/* Copies columns first.. of the current row into out by cols. */
static void read_cols(struct arena *a, struct db_stmt *st, int first, const struct col *cols, int n,
		      void *out)
{
	char *base = out;
	for (int i = 0; i < n; i++) {
		int c = first + i;
		void *at = base + cols[i].offset;
		switch (cols[i].kind) {
		case COL_SKIP:
			break;
		case COL_INT:
			*(long long *)at = db_column_int(st, c);
			break;
		case COL_INT32:
			*(int *)at = (int)db_column_int(st, c);
			break;
		case COL_BOOL:
			*(bool *)at = db_column_int(st, c) != 0;
			break;
		case COL_TEXT:
		case COL_TEXT_NULL: {
			const char *t = db_column_text(st, c);
			*(const char **)at = t ? arena_strdup(a, t) : cols[i].kind == COL_TEXT ? arena_strdup(a, "") : NULL;
			break;
		}
		}
	}
}

static const char *col_text(struct arena *a, struct db_stmt *st, int i)
{
	const char *t = db_column_text(st, i);
	return arena_strdup(a, t ? t : "");
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

/* ---- running statements ---- */

static const char *sql_of(struct store *db, enum stmt s)
{
	return db_engine(db->db) == DB_PG && stmts[s].pg ? stmts[s].pg : stmts[s].sql;
}

/* ---- answers ahead (struct answer) ---- */

static void forget_answers(struct store *db)
{
	for (size_t i = 0; i < sizeof db->answers / sizeof db->answers[0]; i++)
		db->answers[i].valid = false;
}

/* Whether sql changes rows of table ("contacts "). */
static bool writes_table(const char *sql, const char *table)
{
	static const char *const verbs[] = {"INSERT INTO ", "UPDATE ", "DELETE FROM "};
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		size_t n = strlen(verbs[i]);
		if (strncmp(sql, verbs[i], n) == 0 && strncmp(sql + n, table, strlen(table)) == 0)
			return true;
	}
	return false;
}

/* Keeps an answer column (NULL: no row) for lookup by key. */
static void keep_answer(struct answer *an, enum stmt lookup, const char *table, const char *key,
			struct db_stmt *st, int col)
{
	an->valid = false;
	if (!key || strlen(key) >= sizeof an->key)
		return;
	an->lookup = lookup;
	an->table = table;
	snprintf(an->key, sizeof an->key, "%s", key);
	an->found = !db_column_null(st, col);
	an->i = an->found ? db_column_int(st, col) : 0;
	const char *t = an->found ? db_column_text(st, col) : NULL;
	snprintf(an->text, sizeof an->text, "%s", t ? t : "");
	an->valid = true;
}

/* The answer kept for lookup s by key, or NULL: ask. */
static const struct answer *answered(struct store *db, enum stmt s, const struct db_val *vals, int n)
{
	if (n != 1 || vals[0].type != DB_TEXT || !vals[0].s)
		return NULL;
	for (size_t i = 0; i < sizeof db->answers / sizeof db->answers[0]; i++) {
		const struct answer *an = &db->answers[i];
		if (an->valid && an->lookup == s && strcmp(an->key, vals[0].s) == 0)
			return an;
	}
	return NULL;
}

/* Returns statement s with vals bound, or NULL (logged). The caller ends
 * its run with db_reset(). */
static struct db_stmt *bound(struct store *db, enum stmt s, const struct db_val *vals, int n)
{
	for (size_t i = 0; i < sizeof db->answers / sizeof db->answers[0]; i++)
		if (db->answers[i].valid && writes_table(stmts[s].sql, db->answers[i].table))
			db->answers[i].valid = false;
	struct db_stmt *st = db_prepare(db->db, (int)s, sql_of(db, s), stmts[s].types);
	if (st && db_bind(st, vals, n)) {
		db_reset(st);
		return NULL;
	}
	return st;
}

/* Runs a statement for its effect: queued where its row says so and may_queue. */
static sl_err run(struct store *db, enum stmt s, const struct db_val *vals, int n, bool may_queue)
{
	struct db_stmt *st = bound(db, s, vals, n);
	if (!st)
		return SL_ERR_DB;
	bool row;
	sl_err e = may_queue && stmts[s].queue ? db_run_queued(st) : db_step(st, &row);
	db_reset(st);
	return e;
}

static sl_err exec(struct store *db, enum stmt s, const struct db_val *vals, int n)
{
	return run(db, s, vals, n, true);
}

/* As exec(), never queued: its db_changes() may be read. */
static sl_err exec_now(struct store *db, enum stmt s, const struct db_val *vals, int n)
{
	return run(db, s, vals, n, false);
}

/* As exec_now(); SL_ERR_NOT_FOUND when it changed no row. */
static sl_err exec_changed(struct store *db, enum stmt s, const struct db_val *vals, int n)
{
	sl_err e = exec_now(db, s, vals, n);
	return !e && db_changes(db->db) == 0 ? SL_ERR_NOT_FOUND : e;
}

/* Runs a statement whose first column is an integer (a count, an id, an
 * INSERT's RETURNING id) into *out; SL_ERR_NOT_FOUND when it has no row. */
static sl_err query_int(struct store *db, enum stmt s, const struct db_val *vals, int n, long long *out)
{
	const struct answer *an = answered(db, s, vals, n);
	if (an) {
		if (an->found && out)
			*out = an->i;
		return an->found ? SL_OK : SL_ERR_NOT_FOUND;
	}
	struct db_stmt *st = bound(db, s, vals, n);
	if (!st)
		return SL_ERR_DB;
	bool row = false;
	sl_err e = db_step(st, &row);
	if (!e && !row)
		e = SL_ERR_NOT_FOUND;
	if (!e && out)
		*out = db_column_int(st, 0);
	db_reset(st);
	return e;
}

/* Reads the one row a statement finds into out by cols; SL_ERR_NOT_FOUND
 * when there is none. */
static sl_err query_row(struct store *db, enum stmt s, const struct db_val *vals, int n,
			const struct col *cols, int ncols, struct arena *a, void *out)
{
	struct db_stmt *st = bound(db, s, vals, n);
	if (!st)
		return SL_ERR_DB;
	bool row = false;
	sl_err e = db_step(st, &row);
	if (!e && !row)
		e = SL_ERR_NOT_FOUND;
	if (!e)
		read_cols(a, st, 0, cols, ncols, out);
	db_reset(st);
	return e;
}

/* Collects every row a statement finds, at most max (0: no cap), into an
 * arena array of elem-sized items read by cols; never a NULL array. */
static sl_err query_rows(struct store *db, enum stmt s, const struct db_val *vals, int n,
			 const struct col *cols, int ncols, size_t elem, size_t max, struct arena *a,
			 void *out, size_t *count)
{
	struct db_stmt *st = bound(db, s, vals, n);
	if (!st)
		return SL_ERR_DB;
	size_t cap = 0, got = 0;
	char *items = NULL;
	bool row = true;
	sl_err e = SL_OK;
	while ((max == 0 || got < max) && !(e = db_step(st, &row)) && row) {
		items = grow(a, items, &cap, got, elem);
		memset(items + got * elem, 0, elem);
		read_cols(a, st, 0, cols, ncols, items + got * elem);
		got++;
	}
	db_reset(st);
	if (e)
		return e;
	*(void **)out = items ? items : arena_alloc(a, elem);
	*count = got;
	return SL_OK;
}

/* Collects the first text column of every row. */
static sl_err query_texts(struct store *db, enum stmt s, const struct db_val *vals, int n,
			  struct arena *a, const char ***out, size_t *count)
{
	static const struct col one[] = {{COL_TEXT, 0}};
	return query_rows(db, s, vals, n, COLS(one), sizeof(const char *), 0, a, out, count);
}

/* ---- opening, migrating, transactions ---- */

bool store_is_file(const char *target)
{
	return db_engine_for(target) == DB_SQLITE;
}

struct store *store_open(const char *path, sl_err *err)
{
	struct store *db = calloc(1, sizeof *db);
	if (!db) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	if (!(db->db = db_open(path, err))) {
		free(db);
		return NULL;
	}
	*err = SL_OK;
	return db;
}

void store_close(struct store *db)
{
	if (!db)
		return;
	db_close(db->db);
	free(db);
}

int store_schema_version(void)
{
	return N_MIGRATIONS;
}

/* Applies migrations version.. each in its own transaction. */
static sl_err migrate_from(struct store *db, int version)
{
	bool pg = db_engine(db->db) == DB_PG;
	for (int v = version; v < N_MIGRATIONS; v++) {
		const char *text = pg ? pg_migrations[v] : migrations[v];
		sl_err e = db_begin(db->db);
		if (!e && (e = db_schema_version(db->db, &version)) == SL_OK && version > v) {
			db_rollback(db->db);   /* another process got there first */
			continue;
		}
		if (!e)
			e = db_exec(db->db, text);
		if (!e)
			e = db_set_schema_version(db->db, v + 1);
		if (!e)
			e = db_commit(db->db);
		if (e) {
			fprintf(stderr, "stripelink: migration %d failed\n", v + 1);
			db_rollback(db->db);
			return e == SL_ERR_BUSY ? SL_ERR_BUSY : SL_ERR_DB;
		}
	}
	return SL_OK;
}

sl_err store_migrate(struct store *db)
{
	int version = 0;
	sl_err e = db_migrate_lock(db->db);
	if (e)
		return e;
	if ((e = db_schema_version(db->db, &version)))
		goto out;
	if (version > N_MIGRATIONS) {
		fprintf(stderr, "stripelink: database schema %d is newer than this build (%d)\n",
			version, N_MIGRATIONS);
		e = SL_ERR_DB;
		goto out;
	}
	e = migrate_from(db, version);
out:
	db_migrate_unlock(db->db);
	return e;
}

sl_err store_begin(struct store *db)
{
	db->n_triggers = -1;
	sl_err e = db_begin(db->db);
	db->in_tx = !e;
	return e;
}

sl_err store_begin_keyed(struct store *db, const long long *keys, int n)
{
	db->n_triggers = -1;
	sl_err e = db_begin_keyed(db->db, keys, n);
	db->in_tx = !e;
	return e;
}

sl_err store_commit(struct store *db)
{
	forget_answers(db);
	db->in_tx = false;
	db->n_triggers = -1;
	return db_commit(db->db);
}

sl_err store_rollback(struct store *db)
{
	forget_answers(db);
	db->n_tags = 0;
	db->in_tx = false;
	db->n_triggers = -1;
	return db_rollback(db->db);
}
sl_err store_savepoint(struct store *db) { return db_savepoint(db->db); }
/* A release that fails (a write queued in the savepoint failed) rolls the
 * savepoint back, so the caller's transaction goes on without it. */
sl_err store_release(struct store *db)
{
	forget_answers(db);
	sl_err e = db_release(db->db);
	if (e) {
		db->n_tags = 0;
		db->n_triggers = -1;
		if (!db_rollback_to(db->db))
			db_release(db->db);
	}
	return e;
}

sl_err store_rollback_to(struct store *db)
{
	forget_answers(db);
	db->n_tags = 0;
	db->n_triggers = -1;
	sl_err e = db_rollback_to(db->db);
	return e ? e : db_release(db->db);
}

sl_err store_ping(struct store *db)
{
	return exec(db, ST_PING, NO_ARGS);
}

/* ---- users and sessions ---- */

sl_err store_user_count(struct store *db, long long *count)
{
	return query_int(db, ST_USER_COUNT, NO_ARGS, count);
}

sl_err store_user_create(struct store *db, const char *username,
			 const char *password_hash, long long now, long long *id)
{
	return query_int(db, ST_USER_INSERT, ARGS(V(username), V(password_hash), V(now)), id);
}

static const struct col user_cols[] = {
	C_INT(struct user, id), C_TEXT(struct user, username), C_TEXT(struct user, password_hash),
};

sl_err store_user_find(struct store *db, struct arena *a, const char *username,
		       struct user *out)
{
	return query_row(db, ST_USER_FIND, ARGS(V(username)), COLS(user_cols), a, out);
}

sl_err store_session_create(struct store *db, const char *token_hash,
			    long long user_id, const char *csrf, long long now,
			    long long expires_at)
{
	return exec(db, ST_SESSION_INSERT, ARGS(V(token_hash), V(user_id), V(csrf), V(now), V(expires_at)));
}

static const struct col session_cols[] = {
	C_INT(struct session_row, user_id), C_TEXT(struct session_row, username),
	C_TEXT(struct session_row, csrf), C_INT(struct session_row, expires_at),
};

sl_err store_session_find(struct store *db, struct arena *a, const char *token_hash,
			  long long now, struct session_row *out)
{
	return query_row(db, ST_SESSION_FIND, ARGS(V(token_hash), V(now)), COLS(session_cols), a, out);
}

sl_err store_session_delete(struct store *db, const char *token_hash)
{
	return exec(db, ST_SESSION_DELETE, ARGS(V(token_hash)));
}

sl_err store_session_purge(struct store *db, long long now)
{
	return exec(db, ST_SESSION_PURGE, ARGS(V(now)));
}

struct login_row {
	long long failures, last_at;
};

static const struct col login_cols[] = {
	C_INT(struct login_row, failures), C_INT(struct login_row, last_at),
};

sl_err store_login_failures(struct store *db, const char *key,
			    long long *failures, long long *last_at)
{
	struct login_row r = {0, 0};
	sl_err e = query_row(db, ST_LOGIN_GET, ARGS(V(key)), COLS(login_cols), NULL, &r);
	*failures = r.failures;
	*last_at = r.last_at;
	return e == SL_ERR_NOT_FOUND ? SL_OK : e;
}

sl_err store_login_failed(struct store *db, const char *key, long long now)
{
	return exec(db, ST_LOGIN_FAILED, ARGS(V(key), V(now)));
}

sl_err store_login_clear(struct store *db, const char *key)
{
	return exec(db, ST_LOGIN_CLEAR, ARGS(V(key)));
}

/* ---- fields ---- */

static const struct col field_cols[] = {
	C_INT(struct field, id), C_TEXT(struct field, key), C_TEXT(struct field, label),
	C_TEXT(struct field, type), C_BOOL(struct field, builtin),
};

sl_err store_fields_list(struct store *db, struct arena *a, struct field **out,
			 size_t *n)
{
	return query_rows(db, ST_FIELDS_LIST, NO_ARGS, COLS(field_cols), sizeof **out, 0, a, out, n);
}

sl_err store_field_create(struct store *db, const char *key, const char *label,
			  const char *type, long long *id)
{
	return query_int(db, ST_FIELD_INSERT, ARGS(V(key), V(label), V(type)), id);
}

sl_err store_field_delete(struct store *db, long long id)
{
	return exec_changed(db, ST_FIELD_DELETE, ARGS(V(id)));
}

sl_err store_field_exists(struct store *db, const char *key, bool *exists)
{
	sl_err e = query_int(db, ST_FIELD_EXISTS, ARGS(V(key)), NULL);
	*exists = e == SL_OK;
	return e == SL_ERR_NOT_FOUND ? SL_OK : e;
}

/* ---- contacts ---- */

static const struct col contact_cols[] = {
	C_INT(struct contact, id), C_TEXT(struct contact, email), C_TEXT(struct contact, first_name),
	C_TEXT(struct contact, last_name), C_TEXT(struct contact, phone), C_TEXT(struct contact, tags),
	C_INT(struct contact, created_at), C_INT(struct contact, updated_at),
};

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

sl_err store_contacts_search(struct store *db, struct arena *a,
			     const struct contact_query *q, struct contact **out,
			     size_t *n, long long *total)
{
	const char *pattern = q->text && *q->text ? like_pattern(a, q->text) : NULL;
	const char *tag = q->tag && *q->tag ? q->tag : NULL;
	sl_err e = query_int(db, ST_CONTACTS_COUNT, ARGS(V(pattern), V(tag)), total);
	if (e)
		return e;
	long long limit = q->limit > 0 ? q->limit : 50;
	long long offset = q->offset > 0 ? q->offset : 0;
	return query_rows(db, ST_CONTACTS_SEARCH, ARGS(V(pattern), V(tag), V(limit), V(offset)),
			  COLS(contact_cols), sizeof **out, (size_t)limit, a, out, n);
}

sl_err store_contact_get(struct store *db, struct arena *a, long long id,
			 struct contact *out)
{
	return query_row(db, ST_CONTACT_GET, ARGS(V(id)), COLS(contact_cols), a, out);
}

static const struct col value_cols[] = {
	C_INT(struct contact_value, field_id), C_TEXT(struct contact_value, key),
	C_TEXT(struct contact_value, label), C_TEXT(struct contact_value, value),
};

static const struct col order_cols[] = {
	C_TEXT(struct order_row, stripe_id), C_INT(struct order_row, amount),
	C_INT(struct order_row, amount_refunded), C_TEXT(struct order_row, currency),
	C_TEXT(struct order_row, status), C_TEXT(struct order_row, created),
};

static const struct col recurring_cols[] = {
	C_TEXT(struct recurring_row, subscription_id), C_TEXT(struct recurring_row, status),
	C_TEXT(struct recurring_row, price_id), C_INT(struct recurring_row, amount),
	C_TEXT(struct recurring_row, currency), C_TEXT(struct recurring_row, interval),
	C_TEXT(struct recurring_row, current_period_end), C_BOOL(struct recurring_row, has_amount),
	C_TEXT(struct recurring_row, canceled_at),
};

static const struct col window_cols[] = {
	C_INT(struct sync_window_row, id), C_INT(struct sync_window_row, job_id),
	C_INT(struct sync_window_row, created_gte), C_INT(struct sync_window_row, created_lt),
	C_TEXT(struct sync_window_row, cursor), C_INT(struct sync_window_row, oldest_seen),
	C_BOOL(struct sync_window_row, done),
};

sl_err store_contact_values(struct store *db, struct arena *a, long long id,
			    struct contact_value **out, size_t *n)
{
	return query_rows(db, ST_CONTACT_VALUES, ARGS(V(id)), COLS(value_cols), sizeof **out, 0, a, out, n);
}

sl_err store_tags_list(struct store *db, struct arena *a, const char ***out,
		       size_t *n)
{
	return query_texts(db, ST_TAGS_LIST, NO_ARGS, a, out, n);
}

#define EACH_PAGE 500

/* Hands one page of contacts (after id *after) to row() with their custom
 * values; *got is how many there were. */
static sl_err contacts_page(struct store *db, const long long *custom_ids, size_t n_custom,
			    store_contact_row_fn row, void *ctx, struct arena *a, const char **values,
			    long long *after, size_t *got)
{
	struct contact *cs;
	sl_err e = query_rows(db, ST_CONTACTS_ALL, ARGS(V(*after), V((long long)EACH_PAGE)), COLS(contact_cols),
			      sizeof *cs, 0, a, &cs, got);
	if (e || *got == 0)
		return e;
	long long last = cs[*got - 1].id;
	struct db_stmt *vs = bound(db, ST_VALUES_ALL, ARGS(V(*after), V(last)));
	if (!vs)
		return SL_ERR_DB;
	bool vrow = false;
	e = db_step(vs, &vrow);
	for (size_t k = 0; !e && k < *got; k++) {
		memset(values, 0, n_custom * sizeof *values);
		/* both are in contact id order: merge */
		while (!e && vrow && db_column_int(vs, 0) < cs[k].id)
			e = db_step(vs, &vrow);
		while (!e && vrow && db_column_int(vs, 0) == cs[k].id) {
			long long field = db_column_int(vs, 1);
			for (size_t i = 0; i < n_custom; i++)
				if (custom_ids[i] == field)
					values[i] = col_text(a, vs, 2);
			e = db_step(vs, &vrow);
		}
		if (!e)
			e = row(ctx, &cs[k], values);
	}
	db_reset(vs);
	*after = last;
	return e;
}

sl_err store_contacts_each(struct store *db, const long long *custom_ids,
			   size_t n_custom, store_contact_row_fn row, void *ctx)
{
	sl_err e = SL_OK;
	struct arena *a = arena_new();
	const char **values = calloc(n_custom + 1, sizeof *values);
	long long after = 0;
	size_t got = EACH_PAGE;
	if (!a || !values)
		e = SL_ERR_NOMEM;
	while (!e && got == EACH_PAGE) {
		arena_reset(a);
		e = contacts_page(db, custom_ids, n_custom, row, ctx, a, values, &after, &got);
	}
	free(values);
	arena_free(a);
	return e;
}

sl_err store_contact_upsert(struct store *db, const char *email,
			    const char *email_key, long long now, long long *id,
			    bool *created)
{
	sl_err e = query_int(db, ST_CONTACT_FIND_KEY, ARGS(V(email_key)), id);
	if (e != SL_ERR_NOT_FOUND) {
		*created = false;
		return e;
	}
	if ((e = query_int(db, ST_CONTACT_INSERT, ARGS(V(email), V(email_key), V(now)), id)))
		return e;
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
	for (size_t i = 0; i < sizeof builtin_setters / sizeof builtin_setters[0]; i++)
		if (strcmp(builtin_setters[i].key, key) == 0)
			return exec(db, builtin_setters[i].st, ARGS(V(id), v_or_empty(value), V(now)));
	return exec(db, ST_CONTACT_SET_VALUE, ARGS(V(id), V(key), v_or_empty(value)));
}

sl_err store_contact_set_all(struct store *db, long long id, const struct contact_change *v, size_t n,
			     long long now)
{
	/* the names and the phone (what a mapping sets most) in one statement:
	 * ST_CONTACT_SET_NAMES's ?2, ?3, ?4 */
	static const char *const name_keys[] = {"first_name", "last_name", "phone"};
	const char *names[3] = {NULL, NULL, NULL};
	bool any = false;
	sl_err e = SL_OK;
	for (size_t i = 0; i < n && !e; i++) {
		size_t col = 0;
		while (col < 3 && strcmp(v[i].key, name_keys[col]) != 0)
			col++;
		if (col == 3) {
			e = store_contact_set(db, id, v[i].key, v[i].value, now);
		} else {
			names[col] = v[i].value ? v[i].value : "";
			any = true;
		}
	}
	if (!e && any)
		e = exec(db, ST_CONTACT_SET_NAMES, ARGS(V(id), v_text(names[0]), v_text(names[1]), v_text(names[2]),
						       V(now)));
	return e;
}

/* The id of tag, made when new; kept on db once known. */
static sl_err tag_id_of(struct store *db, const char *tag, long long *out)
{
	long long tag_id = 0;
	for (size_t i = 0; i < db->n_tags && !tag_id; i++)
		if (strcmp(db->tags[i].name, tag) == 0)
			tag_id = db->tags[i].id;
	if (!tag_id) {
		sl_err e = exec(db, ST_TAG_INSERT, ARGS(V(tag)));
		if (e || (e = query_int(db, ST_TAG_ID, ARGS(V(tag)), &tag_id)))
			return e;
		if (db->n_tags < TAG_CACHE && strlen(tag) < TAG_CACHE_NAME) {
			snprintf(db->tags[db->n_tags].name, TAG_CACHE_NAME, "%s", tag);
			db->tags[db->n_tags++].id = tag_id;
		}
	}
	*out = tag_id;
	return SL_OK;
}

sl_err store_contact_tag(struct store *db, long long id, const char *tag)
{
	return store_contact_tags(db, id, &tag, 1, NULL);
}

/* ---- connections ---- */

static const struct col connection_cols[] = {
	C_INT(struct connection_row, id), C_TEXT(struct connection_row, status),
	C_TEXT(struct connection_row, account_id), C_TEXT(struct connection_row, account_name),
	C_BOOL(struct connection_row, livemode), C_TEXT_NULL(struct connection_row, key_sealed),
	C_TEXT(struct connection_row, key_hint), C_TEXT_NULL(struct connection_row, endpoint_id),
	C_TEXT_NULL(struct connection_row, secret_sealed),
	C_TEXT_NULL(struct connection_row, previous_secret_sealed),
	C_INT(struct connection_row, previous_secret_until), C_BOOL(struct connection_row, create_contact),
	C_BOOL(struct connection_row, create_order), C_BOOL(struct connection_row, create_recurring),
	C_INT(struct connection_row, created_at), C_INT(struct connection_row, connected_at),
	C_INT(struct connection_row, disconnected_at), C_INT(struct connection_row, config_gen),
};

sl_err store_connection_get(struct store *db, struct arena *a, long long id,
			    struct connection_row *out)
{
	return query_row(db, ST_CONNECTION_GET, ARGS(V(id)), COLS(connection_cols), a, out);
}

sl_err store_connections_list(struct store *db, struct arena *a,
			      struct connection_row **out, size_t *n)
{
	return query_rows(db, ST_CONNECTIONS_LIST, NO_ARGS, COLS(connection_cols), sizeof **out, 0, a,
			  out, n);
}

sl_err store_connection_begin(struct store *db, const char *account_id,
			      const char *account_name, bool livemode, long long now,
			      long long *id)
{
	long long existing;
	/* live and test keys: two connections */
	sl_err e = query_int(db, ST_CONNECTION_BY_ACCOUNT, ARGS(V(account_id), V(livemode)), &existing);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	if (!e) {
		e = exec_changed(db, ST_CONNECTION_PENDING, ARGS(V(existing), V(account_name), V(livemode),
								  V(now), V(now - STORE_PENDING_STALE)));
		if (e == SL_ERR_NOT_FOUND)
			return SL_ERR_EXISTS;   /* connected or being connected */
		if (!e)
			*id = existing;
		return e;
	}
	return query_int(db, ST_CONNECTION_INSERT, ARGS(V(account_id), V(account_name), V(livemode), V(now)),
			 id);
}

sl_err store_connection_activate(struct store *db, long long id, const char *key_sealed,
				 const char *key_hint, const char *endpoint_id,
				 const char *secret_sealed, long long now)
{
	return exec_changed(db, ST_CONNECTION_ACTIVATE, ARGS(V(id), V(key_sealed), V(key_hint),
							      V(endpoint_id), V(secret_sealed), V(now)));
}

sl_err store_connection_abandon(struct store *db, long long id, long long now)
{
	sl_err e = exec_changed(db, ST_CONNECTION_DELETE_PENDING, ARGS(V(id)));
	if (e != SL_ERR_NOT_FOUND)
		return e;
	/* it had been connected before: back to disconnected, secrets gone */
	return store_connection_disconnect(db, id, now);
}

sl_err store_connection_disconnect(struct store *db, long long id, long long now)
{
	return exec(db, ST_CONNECTION_DISCONNECT, ARGS(V(id), V(now)));
}

sl_err store_connection_switches(struct store *db, long long id, bool contact,
				 bool order, bool recurring)
{
	return exec(db, ST_CONNECTION_SWITCHES, ARGS(V(id), V(contact), V(order), V(recurring)));
}

static const struct col resource_cols[] = {
	C_INT(struct resource_row, id), C_INT(struct resource_row, connection_id),
	C_TEXT(struct resource_row, resource), C_TEXT(struct resource_row, sync_type),
	C_TEXT_NULL(struct resource_row, mapping), C_INT(struct resource_row, created_at),
	C_INT(struct resource_row, updated_at),
};

sl_err store_resources_list(struct store *db, struct arena *a, long long connection_id,
			    struct resource_row **out, size_t *n)
{
	return query_rows(db, ST_RESOURCES_LIST, ARGS(V(connection_id)), COLS(resource_cols), sizeof **out,
			  0, a, out, n);
}

sl_err store_resource_get(struct store *db, struct arena *a, long long connection_id,
			  const char *resource, struct resource_row *out)
{
	return query_row(db, ST_RESOURCE_GET, ARGS(V(connection_id), V(resource)), COLS(resource_cols), a,
			 out);
}

sl_err store_resource_upsert(struct store *db, long long connection_id,
			     const char *resource, const char *sync_type, long long now)
{
	return exec(db, ST_RESOURCE_UPSERT, ARGS(V(connection_id), V(resource), V(sync_type), V(now)));
}

sl_err store_resource_set_mapping(struct store *db, long long connection_id,
				  const char *resource, const char *mapping_json,
				  long long now)
{
	return exec_changed(db, ST_RESOURCE_SET_MAPPING,
			    ARGS(V(connection_id), V(resource), V(mapping_json), V(now)));
}

sl_err store_resource_delete(struct store *db, long long connection_id, const char *resource)
{
	return exec(db, ST_RESOURCE_DELETE, ARGS(V(connection_id), V(resource)));
}

/* ---- webhook events, the log, and what they wrote ---- */

sl_err store_event_result(struct store *db, struct arena *a, long long connection_id,
			  const char *event_id, const char **result)
{
	static const struct col one[] = {{COL_TEXT, 0}};
	return query_row(db, ST_EVENT_GET, ARGS(V(connection_id), V(event_id)), COLS(one), a, result);
}

sl_err store_event_state(struct store *db, struct arena *a, long long connection_id,
			 const char *event_id, const struct event_keys *k, struct event_state *out)
{
	forget_answers(db);
	struct db_stmt *st = bound(db, ST_EVENT_STATE, ARGS(V(connection_id), V(event_id), v_text(k->object_id),
							  v_text(k->customer_id), v_text(k->charge_id),
							  v_text(k->email_key), v_text(k->order_id),
							  v_text(k->subscription_id)));
	if (!st)
		return SL_ERR_DB;
	bool row;
	sl_err e = db_step(st, &row);
	*out = (struct event_state){.version = -1, .config_gen = -1};
	if (!e && row) {
		const char *t = db_column_text(st, 0);
		out->version = db_column_int(st, 1);
		out->customer_waits = db_column_int(st, 2) != 0;
		out->charge_waits = db_column_int(st, 3) != 0;
		out->config_gen = db_column_int(st, 8);
		if (db->in_tx && db->n_triggers < 0 && !db_column_int(st, 9))
			db->n_triggers = 0;   /* no automation enabled, as this transaction sees */
		keep_answer(&db->answers[0], ST_CONTACT_FIND_KEY, "contacts ", k->email_key, st, 4);
		keep_answer(&db->answers[1], ST_LINK_GET, "stripe_customers ", k->customer_id, st, 5);
		keep_answer(&db->answers[2], ST_ORDER_STATUS, "orders ", k->order_id, st, 6);
		keep_answer(&db->answers[3], ST_RECURRING_STATUS, "recurring_payments ", k->subscription_id, st, 7);
		if (t && !(out->result = arena_strdup(a, t)))
			e = SL_ERR_NOMEM;
	}
	db_reset(st);
	return e;
}

sl_err store_event_put(struct store *db, long long connection_id, const char *event_id,
		       const char *result)
{
	return exec(db, ST_EVENT_PUT, ARGS(V(connection_id), V(event_id), V(result)));
}

sl_err store_pending_put(struct store *db, long long connection_id, const char *event_id,
			 const char *customer_id, const void *payload, size_t len,
			 long long received_at, long long next_try)
{
	const struct db_val body = {.type = DB_BLOB, .s = payload, .len = len};
	return exec(db, ST_PENDING_PUT, ARGS(V(connection_id), V(event_id), V(customer_id), body,
					     V(received_at), V(next_try)));
}

sl_err store_pending_delete(struct store *db, long long connection_id, const char *event_id)
{
	return exec(db, ST_PENDING_DELETE, ARGS(V(connection_id), V(event_id)));
}

sl_err store_pending_defer(struct store *db, long long connection_id, const char *event_id,
			   long long next_try)
{
	return exec(db, ST_PENDING_DEFER, ARGS(V(connection_id), V(event_id), V(next_try)));
}

/* Copies a blob column into the arena, NUL-terminated. */
static const char *col_bytes(struct arena *a, struct db_stmt *st, int i, size_t *len)
{
	const void *p = db_column_blob(st, i, len);
	return arena_strndup(a, p ? p : "", p ? *len : 0);
}

/* Reads the waiting events a bound statement finds into an arena array. */
static sl_err read_pending(struct arena *a, struct db_stmt *st, struct pending_event **out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (!st)
		return SL_ERR_DB;
	bool row;
	sl_err e;
	while (!(e = db_step(st, &row)) && row) {
		*out = grow(a, *out, &cap, *n, sizeof **out);
		struct pending_event *p = &(*out)[(*n)++];
		p->connection_id = db_column_int(st, 0);
		p->event_id = col_text(a, st, 1);
		p->payload = col_bytes(a, st, 2, &p->payload_len);
		p->received_at = db_column_int(st, 3);
		p->fetch_object = db_column_null(st, 4) ? NULL : col_text(a, st, 4);
	}
	db_reset(st);
	return e;
}

sl_err store_pending_due(struct store *db, struct arena *a, long long now, int max,
			 struct pending_event **out, size_t *n)
{
	return read_pending(a, bound(db, ST_PENDING_DUE, ARGS(V(now), V(max))), out, n);
}

sl_err store_pending_for_customer(struct store *db, struct arena *a, long long connection_id,
				  const char *customer_id, int max, struct pending_event **out,
				  size_t *n)
{
	return read_pending(a, bound(db, ST_PENDING_FOR_CUSTOMER, ARGS(V(customer_id), V(connection_id), V(max))),
			    out, n);
}

sl_err store_pending_put_fetch(struct store *db, long long connection_id, const char *event_id,
			       const char *object_id, const void *payload, size_t len,
			       long long received_at, long long next_try)
{
	const struct db_val body = {.type = DB_BLOB, .s = payload, .len = len};
	return exec(db, ST_PENDING_PUT_FETCH, ARGS(V(connection_id), V(event_id), body, V(received_at),
						   V(next_try), V(object_id)));
}

sl_err store_log_add(struct store *db, const struct log_entry *l, long long *id)
{
	const struct db_val payload = {.type = l->payload ? DB_TEXT : DB_NULL, .s = l->payload,
				       .len = l->payload_len};
	if (!id)
		return exec(db, ST_LOG_ADD_QUIET,
			    ARGS(V(l->connection_id), V(l->at), v_opt_text(l->event_id), v_or_empty(l->type),
				 V(l->result), v_or_empty(l->reason), v_opt_int(l->contact_id), payload,
				 V(l->source)));
	return query_int(db, ST_LOG_ADD,
			 ARGS(V(l->connection_id), V(l->at), v_opt_text(l->event_id), v_or_empty(l->type),
			      V(l->result), v_or_empty(l->reason), v_opt_int(l->contact_id), payload,
			      V(l->source)),
			 id);
}

static const struct col log_cols[] = {
	C_INT(struct log_entry, id), C_INT(struct log_entry, connection_id), C_INT(struct log_entry, at),
	C_TEXT(struct log_entry, event_id), C_TEXT(struct log_entry, type), C_TEXT(struct log_entry, result),
	C_TEXT(struct log_entry, reason), C_INT(struct log_entry, contact_id),
	C_BOOL(struct log_entry, replayable), C_TEXT(struct log_entry, source),
};

sl_err store_log_list(struct store *db, struct arena *a, long long connection_id,
		      const char *result, const char *type, long long offset, long long limit,
		      struct log_entry **out, size_t *n, long long *total)
{
	const char *r = result && *result ? result : NULL, *t = type && *type ? type : NULL;
	sl_err e = query_int(db, ST_LOG_COUNT, ARGS(V(connection_id), V(r), V(t)), total);
	if (e)
		return e;
	if (limit <= 0) {
		*out = arena_alloc(a, sizeof **out);
		*n = 0;
		return SL_OK;
	}
	return query_rows(db, ST_LOG_LIST, ARGS(V(connection_id), V(r), V(t), V(limit), V(offset)),
			  COLS(log_cols), sizeof **out, (size_t)limit, a, out, n);
}

sl_err store_log_get(struct store *db, struct arena *a, long long connection_id, long long id,
		     struct log_entry *out)
{
	struct db_stmt *st = bound(db, ST_LOG_GET, ARGS(V(id), V(connection_id)));
	if (!st)
		return SL_ERR_DB;
	bool row = false;
	sl_err e = db_step(st, &row);
	if (!e && !row)
		e = SL_ERR_NOT_FOUND;
	if (!e) {
		memset(out, 0, sizeof *out);
		read_cols(a, st, 0, COLS(log_cols), out);
		if (!db_column_null(st, 10))
			out->payload = col_bytes(a, st, 10, &out->payload_len);
	}
	db_reset(st);
	return e;
}

sl_err store_log_types(struct store *db, struct arena *a, long long connection_id,
		       const char ***out, size_t *n)
{
	return query_texts(db, ST_LOG_TYPES, ARGS(V(connection_id)), a, out, n);
}

sl_err store_object_version(struct store *db, const char *object_id, long long *version)
{
	sl_err e = query_int(db, ST_VERSION_GET, ARGS(V(object_id)), version);
	if (e == SL_ERR_NOT_FOUND) {
		*version = -1;
		return SL_OK;
	}
	return e;
}

sl_err store_object_version_put(struct store *db, const char *object_id, long long version)
{
	return exec(db, ST_VERSION_PUT, ARGS(V(object_id), V(version)));
}

sl_err store_customer_contact(struct store *db, const char *customer_id, long long *contact_id)
{
	return query_int(db, ST_LINK_GET, ARGS(V(customer_id)), contact_id);
}

sl_err store_customer_link(struct store *db, const char *customer_id, long long contact_id)
{
	/* linked to that contact already, as answered in this job: nothing to write */
	const struct answer *an = answered(db, ST_LINK_GET, ARGS(V(customer_id)));
	if (an && an->found && contact_id && an->i == contact_id)
		return SL_OK;
	return exec(db, ST_LINK_PUT, ARGS(V(customer_id), V(contact_id)));
}

sl_err store_order_upsert(struct store *db, const struct order_row *o)
{
	return exec(db, ST_ORDER_UPSERT,
		    ARGS(V(o->stripe_id), V(o->connection_id), v_opt_int(o->contact_id), V(o->amount),
			 V(o->amount_refunded), v_or_empty(o->currency), v_or_empty(o->status),
			 v_opt_text(o->created), V(o->updated_at)));
}

sl_err store_recurring_upsert(struct store *db, const struct recurring_row *r)
{
	const struct db_val amount = r->has_amount ? v_int(r->amount) : (struct db_val){.type = DB_NULL};
	return exec(db, ST_RECURRING_UPSERT,
		    ARGS(V(r->subscription_id), V(r->connection_id), v_opt_int(r->contact_id),
			 v_or_empty(r->status), v_opt_text(r->price_id), v_opt_text(r->product), amount,
			 v_opt_text(r->currency), v_opt_text(r->interval), v_opt_int(r->interval_count),
			 v_opt_text(r->current_period_end), V(r->updated_at)));
}

static const struct col counts_cols[] = {
	C_INT(struct connection_counts, contacts), C_INT(struct connection_counts, orders),
	C_INT(struct connection_counts, recurring), C_INT(struct connection_counts, deliveries),
};

sl_err store_connection_counts(struct store *db, long long connection_id,
			       struct connection_counts *out)
{
	return query_row(db, ST_COUNTS, ARGS(V(connection_id)), COLS(counts_cols), NULL, out);
}

sl_err store_contact_orders(struct store *db, struct arena *a, long long contact_id,
			    struct order_row **out, size_t *n)
{
	return query_rows(db, ST_CONTACT_ORDERS, ARGS(V(contact_id)), COLS(order_cols), sizeof **out, 100,
			  a, out, n);
}

sl_err store_contact_recurring(struct store *db, struct arena *a, long long contact_id,
			       struct recurring_row **out, size_t *n)
{
	return query_rows(db, ST_CONTACT_RECURRING, ARGS(V(contact_id)), COLS(recurring_cols),
			  sizeof **out, 100, a, out, n);
}

/* ---- historical sync jobs ---- */

static const struct col job_cols[] = {
	C_INT(struct sync_job_row, id), C_INT(struct sync_job_row, connection_id),
	C_TEXT(struct sync_job_row, resource), C_TEXT(struct sync_job_row, state),
	C_TEXT(struct sync_job_row, error), C_INT(struct sync_job_row, objects),
	C_INT(struct sync_job_row, pages), C_INT(struct sync_job_row, contacts_created),
	C_INT(struct sync_job_row, contacts_updated), C_INT(struct sync_job_row, skipped),
	C_INT(struct sync_job_row, queued_at), C_INT(struct sync_job_row, started_at),
	C_INT(struct sync_job_row, finished_at), C_INT(struct sync_job_row, elapsed_ms),
};

sl_err store_job_queue(struct store *db, long long connection_id, const char *resource,
		       long long now, long long *id)
{
	sl_err e = query_int(db, ST_JOB_ACTIVE_FOR, ARGS(V(connection_id), V(resource)), id);
	if (e == SL_OK)
		return SL_ERR_EXISTS;
	if (e != SL_ERR_NOT_FOUND)
		return e;
	return query_int(db, ST_JOB_INSERT, ARGS(V(connection_id), V(resource), V(now)), id);
}

sl_err store_job_get(struct store *db, struct arena *a, long long id, struct sync_job_row *out)
{
	return query_row(db, ST_JOB_GET, ARGS(V(id)), COLS(job_cols), a, out);
}

sl_err store_jobs_list(struct store *db, struct arena *a, long long connection_id,
		       struct sync_job_row **out, size_t *n)
{
	return query_rows(db, ST_JOBS_LIST, ARGS(V(connection_id)), COLS(job_cols), sizeof **out, 20, a,
			  out, n);
}

sl_err store_job_next(struct store *db, struct arena *a, struct sync_job_row *out)
{
	return query_row(db, ST_JOB_NEXT, NO_ARGS, COLS(job_cols), a, out);
}

static const struct col job_ready_cols[] = {
	C_INT(struct sync_job_ready, id), C_TEXT(struct sync_job_ready, account_id),
	C_BOOL(struct sync_job_ready, livemode),
};

sl_err store_jobs_ready(struct store *db, struct arena *a, size_t max, struct sync_job_ready **out,
			size_t *n)
{
	return query_rows(db, ST_JOBS_READY, ARGS(V((long long)max)), COLS(job_ready_cols), sizeof **out,
			  max, a, out, n);
}

sl_err store_job_state(struct store *db, struct arena *a, long long id, const char **state)
{
	static const struct col one[] = {{COL_TEXT, 0}};
	return query_row(db, ST_JOB_STATE, ARGS(V(id)), COLS(one), a, state);
}

sl_err store_job_start(struct store *db, long long id, long long now)
{
	return exec_changed(db, ST_JOB_START, ARGS(V(id), V(now)));
}

sl_err store_job_finish(struct store *db, long long id, const char *state, const char *error,
			long long now, long long elapsed_ms)
{
	return exec(db, ST_JOB_FINISH, ARGS(V(id), V(state), v_or_empty(error), V(now), V(elapsed_ms)));
}

sl_err store_job_page(struct store *db, long long id, long long objects, long long created,
		      long long updated, long long skipped, long long elapsed_ms)
{
	return exec(db, ST_JOB_PAGE, ARGS(V(id), V(objects), V(created), V(updated), V(skipped),
					  V(elapsed_ms)));
}

sl_err store_jobs_cancel_connection(struct store *db, long long connection_id, long long now,
				    const char *why)
{
	return exec(db, ST_JOBS_CANCEL_CONNECTION, ARGS(V(connection_id), V(now), V(why)));
}

sl_err store_job_control(struct store *db, long long id, long long connection_id,
			 const char *to_state, const char *from_states_json, long long now)
{
	sl_err e = exec_changed(db, ST_JOB_CONTROL, ARGS(V(id), V(connection_id), V(to_state), V(now),
							  V(from_states_json)));
	return e == SL_ERR_NOT_FOUND ? SL_ERR_INVALID : e;
}

sl_err store_window_add(struct store *db, long long job_id, long long gte, long long lt,
			long long *id)
{
	return query_int(db, ST_WINDOW_INSERT, ARGS(V(job_id), V(gte), V(lt)), id);
}

sl_err store_window_split(struct store *db, long long window_id, long long job_id,
			  long long mid, long long *new_id)
{
	/* the caller knows the old lower bound; read it back to hand it on */
	long long old_gte = -1;
	sl_err e = query_int(db, ST_WINDOW_GTE, ARGS(V(window_id)), &old_gte);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	if (old_gte < 0 || mid <= old_gte)
		return SL_ERR_INVALID;
	e = exec(db, ST_WINDOW_SET_GTE, ARGS(V(window_id), V(mid)));
	return e ? e : store_window_add(db, job_id, old_gte, mid, new_id);
}

sl_err store_windows_list(struct store *db, struct arena *a, long long job_id,
			  struct sync_window_row **out, size_t *n)
{
	return query_rows(db, ST_WINDOWS_LIST, ARGS(V(job_id)), COLS(window_cols), sizeof **out, 0, a,
			  out, n);
}

sl_err store_window_advance(struct store *db, long long window_id, const char *cursor,
			    long long oldest_seen, bool finished, long long lease_until)
{
	return exec(db, ST_WINDOW_ADVANCE, ARGS(V(window_id), v_opt_text(cursor), V(oldest_seen),
						V(finished), V(lease_until)));
}

/* ---- several nodes: leases, claims, the shared rate budget ---- */

static sl_err catchup_ensure(struct store *db, long long connection_id);

sl_err store_window_first(struct store *db, long long job_id, long long gte, long long lt)
{
	return exec(db, ST_WINDOW_FIRST, ARGS(V(job_id), V(gte), V(lt)));
}

sl_err store_windows_release(struct store *db, long long job_id, const char *owner)
{
	return exec(db, ST_WINDOWS_RELEASE, ARGS(V(job_id), V(owner)));
}

sl_err store_window_claim(struct store *db, struct arena *a, long long job_id, const char *owner,
			  long long now, long long until, struct sync_window_row *out)
{
	return query_row(db, ST_WINDOW_CLAIM, ARGS(V(job_id), V(owner), V(now), V(until)), COLS(window_cols),
			 a, out);
}

struct widest_row {
	long long id, gte, upper;
};

static const struct col widest_cols[] = {
	C_INT(struct widest_row, id), C_INT(struct widest_row, gte), C_INT(struct widest_row, upper),
};

sl_err store_window_split_widest(struct store *db, struct arena *a, long long job_id, long long min_width,
				 const char *owner, long long until, struct sync_window_row *out)
{
	struct widest_row w;
	sl_err e = query_row(db, ST_WINDOW_WIDEST, ARGS(V(job_id), V(min_width)), COLS(widest_cols), NULL, &w);
	if (e)
		return e;
	long long mid = w.gte + (w.upper - w.gte) / 2, id;
	if ((e = exec(db, ST_WINDOW_SET_GTE, ARGS(V(w.id), V(mid)))) ||
	    (e = store_window_add(db, job_id, w.gte, mid, &id)) ||
	    (e = exec(db, ST_WINDOW_LEASE, ARGS(V(id), V(owner), V(until)))))
		return e;
	*out = (struct sync_window_row){.id = id, .job_id = job_id, .created_gte = w.gte, .created_lt = mid,
					.cursor = arena_strdup(a, ""), .oldest_seen = mid};
	return SL_OK;
}

sl_err store_window_mine(struct store *db, long long window_id, const char *owner, bool *mine)
{
	long long n = 0;
	sl_err e = query_int(db, ST_WINDOW_MINE, ARGS(V(window_id), V(owner)), &n);
	*mine = !e && n > 0;
	return e;
}

sl_err store_windows_held(struct store *db, long long job_id, long long now, const char *owner,
			  long long *count)
{
	return query_int(db, ST_WINDOWS_HELD, ARGS(V(job_id), V(now), V(owner)), count);
}

sl_err store_rate_reserve(struct store *db, const char *key, long long now_us, long long interval_us,
			  long long *slot)
{
	return query_int(db, ST_RATE_RESERVE, ARGS(V(key), V(now_us), V(interval_us)), slot);
}

sl_err store_catchup_claim(struct store *db, long long connection_id, const char *owner, long long now,
			   long long until, bool *claimed)
{
	sl_err e = catchup_ensure(db, connection_id);
	if (!e)
		e = exec_now(db, ST_CATCHUP_CLAIM, ARGS(V(connection_id), V(owner), V(now), V(until)));
	*claimed = !e && db_changes(db->db) > 0;
	return e;
}

sl_err store_catchup_release(struct store *db, long long connection_id, const char *owner)
{
	return exec(db, ST_CATCHUP_RELEASE, ARGS(V(connection_id), V(owner)));
}

sl_err store_setup_token_put(struct store *db, const char *token_hash, long long now)
{
	return exec(db, ST_SETUP_TOKEN_PUT, ARGS(V(token_hash), V(now)));
}

sl_err store_setup_token_valid(struct store *db, const char *token_hash, bool *valid)
{
	long long n = 0;
	sl_err e = query_int(db, ST_SETUP_TOKEN_FIND, ARGS(V(token_hash)), &n);
	*valid = !e && n > 0;
	return e;
}

sl_err store_setup_tokens_clear(struct store *db)
{
	return exec(db, ST_SETUP_TOKENS_CLEAR, NO_ARGS);
}

struct progress_row {
	long long covered, span, windows;
};

static const struct col progress_cols[] = {
	C_INT(struct progress_row, covered), C_INT(struct progress_row, span),
	C_INT(struct progress_row, windows),
};

sl_err store_job_progress(struct store *db, long long job_id, double *fraction, bool *known)
{
	struct progress_row p;
	sl_err e = query_row(db, ST_JOB_PROGRESS, ARGS(V(job_id)), COLS(progress_cols), NULL, &p);
	if (e)
		return e == SL_ERR_NOT_FOUND ? SL_ERR_DB : e;
	*known = p.windows > 0 && p.span > 0;
	*fraction = *known ? (double)p.covered / (double)p.span : 0.0;
	return SL_OK;
}

sl_err store_contact_find(struct store *db, const char *email_key, long long *id)
{
	return query_int(db, ST_CONTACT_FIND_KEY, ARGS(V(email_key)), id);
}

sl_err store_connection_roll(struct store *db, long long id, const char *endpoint_id,
			     const char *secret_sealed, long long previous_until)
{
	return exec_changed(db, ST_CONNECTION_ROLL, ARGS(V(id), V(endpoint_id), V(secret_sealed),
							  V(previous_until)));
}

sl_err store_jobs_count(struct store *db, long long connection_id, const char *resource,
			long long *count)
{
	return query_int(db, ST_JOB_ANY, ARGS(V(connection_id), V(resource)), count);
}

/* ---- catch-up and endpoint health ---- */

/* Makes sure the connection has its catch-up row. */
static sl_err catchup_ensure(struct store *db, long long connection_id)
{
	return exec(db, ST_CATCHUP_ENSURE, ARGS(V(connection_id)));
}

static const struct col catchup_cols[] = {
	C_INT(struct catchup_row, connection_id), C_INT(struct catchup_row, cursor),
	C_INT(struct catchup_row, requested_at), C_BOOL(struct catchup_row, running),
	C_INT(struct catchup_row, run_gte), C_INT(struct catchup_row, run_lte),
	C_TEXT(struct catchup_row, run_after), C_INT(struct catchup_row, run_newest),
	C_INT(struct catchup_row, run_found), C_INT(struct catchup_row, run_new),
	C_INT(struct catchup_row, run_skipped), C_INT(struct catchup_row, last_at),
	C_INT(struct catchup_row, last_found), C_INT(struct catchup_row, last_new),
	C_INT(struct catchup_row, last_skipped), C_TEXT(struct catchup_row, last_error),
	C_INT(struct catchup_row, undelivered), C_BOOL(struct catchup_row, undelivered_more),
	C_INT(struct catchup_row, undelivered_oldest), C_TEXT(struct catchup_row, endpoint_state),
	C_TEXT(struct catchup_row, endpoint_detail), C_INT(struct catchup_row, endpoint_checked_at),
	C_INT(struct catchup_row, health_requested_at),
};

sl_err store_catchup_get(struct store *db, struct arena *a, long long connection_id,
			 struct catchup_row *out)
{
	sl_err e = query_row(db, ST_CATCHUP_GET, ARGS(V(connection_id)), COLS(catchup_cols), a, out);
	if (e == SL_ERR_NOT_FOUND) {
		*out = (struct catchup_row){.connection_id = connection_id, .run_after = "",
					    .last_error = "", .endpoint_state = "unknown",
					    .endpoint_detail = ""};
		return SL_OK;
	}
	return e;
}

/* Runs a catch-up statement after making sure the row exists. */
static sl_err catchup_update(struct store *db, enum stmt which, long long connection_id,
			     const struct db_val *vals, int n)
{
	sl_err e = catchup_ensure(db, connection_id);
	return e ? e : exec(db, which, vals, n);
}

sl_err store_catchup_request(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_REQUEST, connection_id, ARGS(V(connection_id), V(now)));
}

sl_err store_catchup_request_health(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_REQUEST_HEALTH, connection_id,
			      ARGS(V(connection_id), V(now)));
}

sl_err store_catchup_begin(struct store *db, long long connection_id, long long gte, long long lte)
{
	return catchup_update(db, ST_CATCHUP_BEGIN, connection_id, ARGS(V(connection_id), V(gte), V(lte)));
}

sl_err store_catchup_page(struct store *db, long long connection_id, const char *after,
			  long long newest, long long found, long long fresh, long long skipped)
{
	return exec(db, ST_CATCHUP_PAGE, ARGS(V(connection_id), v_opt_text(after), V(newest), V(found),
					      V(fresh), V(skipped)));
}

sl_err store_catchup_finish(struct store *db, long long connection_id, long long now)
{
	return catchup_update(db, ST_CATCHUP_FINISH, connection_id, ARGS(V(connection_id), V(now)));
}

sl_err store_catchup_fail(struct store *db, long long connection_id, long long now,
			  const char *error)
{
	return catchup_update(db, ST_CATCHUP_FAIL, connection_id,
			      ARGS(V(connection_id), V(now), v_or_empty(error)));
}

sl_err store_catchup_undelivered(struct store *db, long long connection_id, long long count,
				 bool more, long long oldest)
{
	return catchup_update(db, ST_CATCHUP_UNDELIVERED, connection_id,
			      ARGS(V(connection_id), V(count), V(more), V(oldest)));
}

sl_err store_catchup_endpoint(struct store *db, long long connection_id, const char *state,
			      const char *detail, long long now)
{
	return catchup_update(db, ST_CATCHUP_ENDPOINT, connection_id,
			      ARGS(V(connection_id), V(state), v_or_empty(detail), V(now)));
}

sl_err store_connection_set_key(struct store *db, long long id, const char *key_sealed,
				const char *key_hint)
{
	return exec_changed(db, ST_CONNECTION_SET_KEY, ARGS(V(id), V(key_sealed), V(key_hint)));
}

/* ---- automations and the outbox ---- */

static sl_err trigger_used(struct store *db, const char *trigger, bool *used);

/* Adds tag to the contact by an insert run at once: *added says whether
 * it added the row. */
static sl_err tag_counted(struct store *db, long long id, const char *tag, bool *added)
{
	long long tag_id;
	sl_err e = tag_id_of(db, tag, &tag_id);
	if (!e && !(e = exec_now(db, ST_CONTACT_TAG_INSERT, ARGS(V(id), V(tag_id)))))
		*added = db_changes(db->db) > 0;
	return e;
}

sl_err store_contact_tags(struct store *db, long long id, const char *const *tags, size_t n,
			  uint64_t *added)
{
	bool used = false;
	sl_err e = added ? trigger_used(db, "tag_added", &used) : SL_OK;   /* automation.h's slug */
	if (added)
		*added = 0;
	if (used) {   /* each insert on its own, to read whether it added a row */
		for (size_t i = 0; i < n && !e; i++) {
			bool one = false;
			if (!(e = tag_counted(db, id, tags[i], &one)) && one && i < 64)
				*added |= UINT64_C(1) << i;
		}
		return e;
	}
	/* nobody asks: two at a time, queued */
	for (size_t i = 0; i < n && !e; i += 2) {
		long long a, b;
		if ((e = tag_id_of(db, tags[i], &a)))
			break;
		if (i + 1 == n)
			e = exec(db, ST_CONTACT_TAG_INSERT, ARGS(V(id), V(a)));
		else if (!(e = tag_id_of(db, tags[i + 1], &b)))
			e = exec(db, ST_CONTACT_TAG_INSERT2, ARGS(V(id), V(a), V(b)));
	}
	return e;
}

sl_err store_contact_tag_added(struct store *db, long long id, const char *tag, bool *added)
{
	uint64_t bits = 0;
	sl_err e = store_contact_tags(db, id, &tag, 1, added ? &bits : NULL);
	if (added)
		*added = bits & 1;
	return e;
}

sl_err store_contact_untag(struct store *db, long long id, const char *tag, bool *removed)
{
	sl_err e = exec_now(db, ST_CONTACT_UNTAG, ARGS(V(id), V(tag)));
	if (!e && removed)
		*removed = db_changes(db->db) > 0;
	return e;
}

/* Copies the one text column a statement keyed by ?1 finds into out. */
static sl_err status_of(struct store *db, enum stmt which, const char *key, char *out, size_t cap)
{
	const struct answer *an = answered(db, which, ARGS(V(key)));
	if (an) {
		if (an->found)
			snprintf(out, cap, "%s", an->text);
		return an->found ? SL_OK : SL_ERR_NOT_FOUND;
	}
	struct db_stmt *st = bound(db, which, ARGS(V(key)));
	if (!st)
		return SL_ERR_DB;
	bool row = false;
	sl_err e = db_step(st, &row);
	if (!e && !row)
		e = SL_ERR_NOT_FOUND;
	if (!e) {
		const char *t = db_column_text(st, 0);
		snprintf(out, cap, "%s", t ? t : "");
	}
	db_reset(st);
	return e;
}

sl_err store_order_status(struct store *db, const char *stripe_id, char *out, size_t cap)
{
	return status_of(db, ST_ORDER_STATUS, stripe_id, out, cap);
}

sl_err store_recurring_status(struct store *db, const char *subscription_id, char *out, size_t cap)
{
	return status_of(db, ST_RECURRING_STATUS, subscription_id, out, cap);
}

static const struct col automation_cols[] = {
	C_INT(struct automation_row, id), C_TEXT(struct automation_row, name),
	C_TEXT(struct automation_row, trigger), C_TEXT(struct automation_row, trigger_tag),
	C_INT(struct automation_row, segment_id), C_BOOL(struct automation_row, enabled),
	C_BOOL(struct automation_row, history), C_TEXT_NULL(struct automation_row, secret_sealed),
	C_INT(struct automation_row, runs), C_INT(struct automation_row, failures),
	C_INT(struct automation_row, last_run_at), C_INT(struct automation_row, created_at),
};

/* an action row, after the automation's id (ST_ACTIONS_LIST) or its
 * columns (ST_AUTOMATIONS_FOR) */
static const struct col action_cols[] = {
	C_INT32(struct automation_action, position), C_TEXT(struct automation_action, kind),
	C_TEXT(struct automation_action, name), C_TEXT(struct automation_action, value),
};

static const struct col action_list_cols[] = {
	C_SKIP, C_INT32(struct automation_action, position), C_TEXT(struct automation_action, kind),
	C_TEXT(struct automation_action, name), C_TEXT(struct automation_action, value),
};

static sl_err actions_put(struct store *db, long long id, const struct automation_action *acts,
			  size_t n)
{
	sl_err e = exec(db, ST_ACTIONS_DELETE, ARGS(V(id)));
	for (size_t i = 0; !e && i < n; i++)
		e = exec(db, ST_ACTION_INSERT, ARGS(V(id), V((long long)i), V(acts[i].kind),
						    v_or_empty(acts[i].name), v_or_empty(acts[i].value)));
	return e;
}

sl_err store_automation_save(struct store *db, const struct automation_row *r,
			     const struct automation_action *acts, size_t n, long long now,
			     long long *id)
{
	long long the_id = r->id;
	sl_err e;
	db->n_triggers = -1;
	if (r->id)
		e = exec_changed(db, ST_AUTOMATION_UPDATE,
				 ARGS(V(r->id), V(r->name), V(r->trigger), v_or_empty(r->trigger_tag),
				      V(r->enabled), V(r->history), V(r->segment_id)));
	else
		e = query_int(db, ST_AUTOMATION_INSERT,
			      ARGS(V(r->name), V(r->trigger), v_or_empty(r->trigger_tag), V(r->enabled),
				   V(r->history), V(r->secret_sealed), V(now), V(r->segment_id)),
			      &the_id);
	if (e)
		return e;
	if (id)
		*id = the_id;
	return actions_put(db, the_id, acts, n);
}

sl_err store_automation_delete(struct store *db, long long id)
{
	db->n_triggers = -1;
	return exec_changed(db, ST_AUTOMATION_DELETE, ARGS(V(id)));
}

sl_err store_automation_enable(struct store *db, long long id, bool enabled)
{
	db->n_triggers = -1;
	return exec_changed(db, ST_AUTOMATION_ENABLE, ARGS(V(id), V(enabled)));
}

sl_err store_automation_secret(struct store *db, long long id, const char *secret_sealed)
{
	return exec_changed(db, ST_AUTOMATION_SECRET, ARGS(V(id), V(secret_sealed)));
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
	sl_err e = exec_now(db, prune_stmts[what], ARGS(V(before), V(limit)));
	if (!e)
		*changed = (int)db_changes(db->db);
	return e;
}

/* ---- segments ---- */

sl_err store_segment_create(struct store *db, const char *name, const char *definition,
			    long long now, long long *id)
{
	return query_int(db, ST_SEGMENT_INSERT, ARGS(V(name), V(definition), V(now)), id);
}

sl_err store_segment_update(struct store *db, long long id, const char *name,
			    const char *definition)
{
	return exec_changed(db, ST_SEGMENT_UPDATE, ARGS(V(id), V(name), V(definition)));
}

sl_err store_segment_delete(struct store *db, long long id)
{
	return exec_changed(db, ST_SEGMENT_DELETE, ARGS(V(id)));
}

static const struct col segment_cols[] = {
	C_INT(struct segment_row, id), C_TEXT(struct segment_row, name),
	C_TEXT(struct segment_row, definition), C_INT(struct segment_row, created_at),
};

sl_err store_segment_get(struct store *db, struct arena *a, long long id, struct segment_row *out)
{
	return query_row(db, ST_SEGMENT_GET, ARGS(V(id)), COLS(segment_cols), a, out);
}

sl_err store_segments_list(struct store *db, struct arena *a, struct segment_row **out, size_t *n)
{
	return query_rows(db, ST_SEGMENTS_LIST, NO_ARGS, COLS(segment_cols), sizeof **out, 0, a, out, n);
}

/* Returns text with every from replaced by to, in the arena. */
static const char *replace_all(struct arena *a, const char *text, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), count = 0;
	for (const char *p = strstr(text, from); p; p = strstr(p + nf, from))
		count++;
	char *out = arena_alloc(a, strlen(text) + count * nt + 1), *d = out;
	for (const char *p; (p = strstr(text, from)); text = p + nf) {
		memcpy(d, text, (size_t)(p - text));
		d += p - text;
		memcpy(d, to, nt);
		d += nt;
	}
	strcpy(d, text);
	return out;
}

/* Prepares "head WHERE <compiled> tail" as a one-off statement and binds
 * the compiled operands followed by the n_after integers in after; the
 * statement text is only fixed fragments (segment.c's catalogue and the
 * callers' literals). The caller frees *out with db_finalize(). */
static sl_err segment_prepare(struct store *db, struct arena *a, const struct segment_def *def,
			      long long now, const char *head, const char *tail,
			      const long long *after, size_t n_after, struct db_stmt **out)
{
	struct seg_sql q;
	sl_err e = segment_compile(a, def, now, &q);
	if (e)
		return e;
	size_t n = q.n_binds + n_after;
	struct db_val *vals = arena_alloc(a, (n + 1) * sizeof *vals);
	char *types = arena_alloc(a, n + 1);
	for (size_t i = 0; i < q.n_binds; i++) {
		vals[i] = q.binds[i].text ? v_text(q.binds[i].s) : v_int(q.binds[i].i);
		types[i] = q.binds[i].text ? 't' : 'i';
	}
	for (size_t i = 0; i < n_after; i++) {
		vals[q.n_binds + i] = v_int(after[i]);
		types[q.n_binds + i] = 'i';
	}
	types[n] = '\0';
	const char *where = q.where;
	if (db_engine(db->db) == DB_PG)   /* SQLite's LIKE ignores ASCII case */
		where = replace_all(a, where, " LIKE ", " ILIKE ");
	const char *text = arena_printf(a, "%s WHERE %s%s", head, where, tail);
	if (!(*out = db_prepare(db->db, -1, text, types)))
		return SL_ERR_DB;
	return db_bind(*out, vals, (int)n);
}

sl_err store_segment_count(struct store *db, struct arena *a, const struct segment_def *def,
			   long long now, long long *count)
{
	struct db_stmt *st = NULL;
	bool row = false;
	sl_err e = segment_prepare(db, a, def, now, "SELECT count(*) FROM contacts c", "", NULL, 0, &st);
	if (!e && !(e = db_step(st, &row)))
		*count = row ? db_column_int(st, 0) : 0;
	db_finalize(st);
	return e;
}

sl_err store_segment_contacts(struct store *db, struct arena *a, const struct segment_def *def,
			      long long now, long long offset, long long limit,
			      struct contact **out, size_t *n)
{
	struct db_stmt *st = NULL;
	if (limit <= 0)
		limit = 50;
	const long long after[] = {limit, offset > 0 ? offset : 0};
	const char *head = db_engine(db->db) == DB_PG
		? "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " PG_TAGS_OF("c.id")
		  ", c.created_at, c.updated_at FROM contacts c"
		: "SELECT c.id, c.email, c.first_name, c.last_name, c.phone, " TAGS_OF("c.id")
		  ", c.created_at, c.updated_at FROM contacts c";
	sl_err e = segment_prepare(db, a, def, now, head, " ORDER BY c.id DESC LIMIT ? OFFSET ?", after, 2, &st);
	if (e)
		goto out;
	struct contact *c = arena_alloc(a, (size_t)limit * sizeof *c);
	size_t got = 0;
	bool row = true;
	while (got < (size_t)limit && !(e = db_step(st, &row)) && row)
		read_cols(a, st, 0, COLS(contact_cols), &c[got++]);
	if (e)
		goto out;
	*out = c;
	*n = got;
out:
	db_finalize(st);
	return e;
}

sl_err store_segment_ids(struct store *db, struct arena *a, const struct segment_def *def,
			 long long now, long long **out, size_t *n)
{
	struct db_stmt *st = NULL;
	sl_err e = segment_prepare(db, a, def, now, "SELECT c.id FROM contacts c", " ORDER BY c.id", NULL, 0,
				   &st);
	if (e)
		goto out;
	size_t cap = 0, count = 0;
	long long *ids = NULL;
	bool row;
	while (!(e = db_step(st, &row)) && row) {
		ids = grow(a, ids, &cap, count, sizeof *ids);
		ids[count++] = db_column_int(st, 0);
	}
	if (e)
		goto out;
	*out = ids ? ids : arena_alloc(a, sizeof *ids);
	*n = count;
out:
	db_finalize(st);
	return e;
}

sl_err store_segment_contains(struct store *db, long long segment_id, long long contact_id,
			      long long now, bool *out)
{
	struct arena *a = arena_new();
	struct db_stmt *st = NULL;
	struct segment_row s;
	struct segment_def def;
	bool row = false;
	sl_err e = store_segment_get(db, a, segment_id, &s);
	if (e || (e = segment_from_json(a, s.definition, &def)))
		goto out;
	if ((e = segment_prepare(db, a, &def, now, "SELECT count(*) FROM contacts c", " AND c.id = ?",
				 &contact_id, 1, &st)))
		goto out;
	if (!(e = db_step(st, &row)))
		*out = row && db_column_int(st, 0) > 0;
out:
	db_finalize(st);
	arena_free(a);
	return e;
}

sl_err store_automation_get(struct store *db, struct arena *a, long long id,
			    struct automation_row *out)
{
	return query_row(db, ST_AUTOMATION_GET, ARGS(V(id)), COLS(automation_cols), a, out);
}

sl_err store_automations_list(struct store *db, struct arena *a, struct automation_row **out,
			      size_t *n)
{
	return query_rows(db, ST_AUTOMATIONS_LIST, NO_ARGS, COLS(automation_cols), sizeof **out, 0, a, out,
			  n);
}

/* Whether an enabled automation may have trigger, from the transaction's
 * trigger set (read on first use); true when it is not kept. */
static sl_err trigger_used(struct store *db, const char *trigger, bool *used)
{
	*used = true;
	if (!db->in_tx)
		return SL_OK;
	if (db->n_triggers < 0) {
		struct db_stmt *st = bound(db, ST_AUTOMATION_TRIGGERS, NO_ARGS);
		if (!st)
			return SL_ERR_DB;
		bool row;
		sl_err e;
		int n = 0;
		while (!(e = db_step(st, &row)) && row) {
			const char *t = db_column_text(st, 0);
			if (n < TRIGGER_CACHE && t && strlen(t) < TRIGGER_NAME)
				snprintf(db->triggers[n], TRIGGER_NAME, "%s", t);
			n++;
		}
		db_reset(st);
		if (e)
			return e;
		db->n_triggers = n > TRIGGER_CACHE ? TRIGGER_CACHE + 1 : n;
	}
	if (db->n_triggers > TRIGGER_CACHE)
		return SL_OK;
	*used = false;
	for (int i = 0; i < db->n_triggers && !*used; i++)
		*used = strcmp(db->triggers[i], trigger) == 0;
	return SL_OK;
}

sl_err store_automations_for(struct store *db, struct arena *a, const char *trigger,
			     const char *tag, struct automation_row **out, size_t *n)
{
	bool used;
	sl_err e = trigger_used(db, trigger, &used);
	*out = NULL;
	*n = 0;
	if (e || !used)
		return e;
	struct db_stmt *st = bound(db, ST_AUTOMATIONS_FOR, ARGS(V(trigger), V(tag)));
	if (!st)
		return SL_ERR_DB;
	size_t cap = 0, count = 0, act_cap = 0;
	struct automation_row *items = NULL;
	bool row;
	const int n_automation = (int)(sizeof automation_cols / sizeof automation_cols[0]);
	while (!(e = db_step(st, &row)) && row) {
		long long id = db_column_int(st, 0);
		if (!count || items[count - 1].id != id) {
			items = grow(a, items, &cap, count, sizeof *items);
			memset(&items[count], 0, sizeof items[count]);
			read_cols(a, st, 0, COLS(automation_cols), &items[count]);
			act_cap = 0;
			count++;
		}
		struct automation_row *r = &items[count - 1];
		r->actions = grow(a, r->actions, &act_cap, r->n_actions, sizeof *r->actions);
		read_cols(a, st, n_automation, COLS(action_cols), &r->actions[r->n_actions++]);
	}
	db_reset(st);
	if (e)
		return e;
	*out = items;
	*n = count;
	return SL_OK;
}

sl_err store_automation_actions(struct store *db, struct arena *a, long long id,
				struct automation_action **out, size_t *n)
{
	return query_rows(db, ST_ACTIONS_LIST, ARGS(V(id)), COLS(action_list_cols), sizeof **out, 0, a, out,
			  n);
}

sl_err store_automation_run(struct store *db, long long automation_id, long long at,
			    long long contact_id, const char *source, const char *detail)
{
	sl_err e = exec(db, ST_RUN_INSERT, ARGS(V(automation_id), V(at), v_opt_int(contact_id), V(source),
						v_or_empty(detail)));
	/* the automation was read in this transaction: its row is there (and
	 * the run's foreign key says so), so nothing is asked back: on
	 * PostgreSQL both writes wait in the pipeline */
	return e ? e : exec(db, ST_RUN_COUNT, ARGS(V(automation_id), V(at)));
}

static const struct col run_cols[] = {
	C_INT(struct automation_run, id), C_SKIP, C_INT(struct automation_run, at),
	C_INT(struct automation_run, contact_id), C_TEXT(struct automation_run, source),
	C_TEXT(struct automation_run, detail),
};

sl_err store_automation_runs(struct store *db, struct arena *a, long long id,
			     struct automation_run **out, size_t *n)
{
	return query_rows(db, ST_RUNS_LIST, ARGS(V(id)), COLS(run_cols), sizeof **out, 0, a, out, n);
}

sl_err store_outbox_add(struct store *db, const struct outbox_row *o)
{
	return exec(db, ST_OUTBOX_INSERT, ARGS(V(o->automation_id), V(o->url), V(o->body), V(o->idempotency_key),
					       V(o->test), V(o->created_at), V(o->give_up_at)));
}

static const struct col outbox_cols[] = {
	C_INT(struct outbox_row, id), C_INT(struct outbox_row, automation_id), C_TEXT(struct outbox_row, url),
	C_TEXT(struct outbox_row, body), C_TEXT(struct outbox_row, idempotency_key),
	C_BOOL(struct outbox_row, test), C_TEXT(struct outbox_row, state), C_INT(struct outbox_row, attempts),
	C_INT(struct outbox_row, next_at), C_INT(struct outbox_row, give_up_at),
	C_INT(struct outbox_row, created_at), C_TEXT(struct outbox_row, secret_sealed),
	C_INT(struct outbox_row, last_status), C_INT(struct outbox_row, last_ms),
	C_TEXT(struct outbox_row, last_note),
};

sl_err store_outbox_due(struct store *db, struct arena *a, long long now_ms, size_t max,
			const char *owner, long long lease_ms, struct outbox_row **out, size_t *n)
{
	/* claimed first (autocommit: one statement), so another node's
	 * delivery worker passes these over until the lease ends */
	long long until = now_ms + lease_ms;
	sl_err e = exec(db, ST_OUTBOX_CLAIM, ARGS(V(now_ms), V((long long)max), V(owner), V(until)));
	if (!e)
		e = query_rows(db, ST_OUTBOX_CLAIMED, ARGS(V(owner), V(until), V((long long)max)), COLS(outbox_cols),
			       sizeof **out, 0, a, out, n);
	if (!e && *n == 0)
		*out = NULL;
	return e;
}

sl_err store_outbox_unclaim(struct store *db, const char *owner)
{
	return exec(db, ST_OUTBOX_UNCLAIM, ARGS(V(owner)));
}

sl_err store_outbox_attempt(struct store *db, long long outbox_id, const struct outbox_attempt *t,
			    const char *state, long long next_at)
{
	sl_err e = exec(db, ST_OUTBOX_ATTEMPT, ARGS(V(outbox_id), V(t->at), V(t->status), V(t->ms),
						    v_or_empty(t->excerpt), v_or_empty(t->error)));
	if (!e)
		e = exec(db, ST_OUTBOX_SETTLE, ARGS(V(outbox_id), V(state), V(next_at), V(t->at)));
	if (!e && strcmp(state, "failed") == 0)
		e = exec(db, ST_AUTOMATION_FAILED, ARGS(V(outbox_id)));
	return e;
}

sl_err store_outbox_list(struct store *db, struct arena *a, long long automation_id,
			 struct outbox_row **out, size_t *n)
{
	return query_rows(db, ST_OUTBOX_LIST, ARGS(V(automation_id)), COLS(outbox_cols), sizeof **out, 0, a,
			  out, n);
}

sl_err store_outbox_resend(struct store *db, long long outbox_id, long long automation_id,
			   long long now_ms, long long give_up_at)
{
	return exec_changed(db, ST_OUTBOX_RESEND, ARGS(V(outbox_id), V(automation_id), V(now_ms),
							V(give_up_at)));
}

static const struct col attempt_cols[] = {
	C_INT(struct outbox_attempt, id), C_INT(struct outbox_attempt, outbox_id),
	C_INT(struct outbox_attempt, at), C_INT(struct outbox_attempt, status),
	C_INT(struct outbox_attempt, ms), C_TEXT(struct outbox_attempt, excerpt),
	C_TEXT(struct outbox_attempt, error),
};

sl_err store_outbox_attempts(struct store *db, struct arena *a, long long automation_id,
			     struct outbox_attempt **out, size_t *n)
{
	return query_rows(db, ST_ATTEMPTS_LIST, ARGS(V(automation_id)), COLS(attempt_cols), sizeof **out, 0,
			  a, out, n);
}

sl_err store_backup(const char *src_path, const char *dest_path, int pages_per_step)
{
	if (db_engine_for(src_path) != DB_SQLITE) {
		fprintf(stderr, "stripelink: backup: the database is on PostgreSQL: use pg_dump\n");
		return SL_ERR_INVALID;
	}
	return db_sqlite_backup(src_path, dest_path, pages_per_step);
}

/* ---- a contact's money summary ---- */

static const struct col money_cols[] = {
	C_TEXT(struct money_row, currency), C_INT(struct money_row, amount), C_INT(struct money_row, count),
	C_INT(struct money_row, unknown),
};

struct order_span {
	long long orders;
	const char *first, *last;
};

static const struct col span_cols[] = {
	C_INT(struct order_span, orders), C_TEXT(struct order_span, first), C_TEXT(struct order_span, last),
};

sl_err store_contact_summary(struct store *db, struct arena *a, long long contact_id,
			     struct contact_summary *out)
{
	struct order_span span;
	sl_err e;
	memset(out, 0, sizeof *out);
	if ((e = query_rows(db, ST_CONTACT_REVENUE, ARGS(V(contact_id)), COLS(money_cols),
			    sizeof *out->revenue, 0, a, &out->revenue, &out->n_revenue)) ||
	    (e = query_rows(db, ST_CONTACT_MONTHLY, ARGS(V(contact_id)), COLS(money_cols),
			    sizeof *out->monthly, 0, a, &out->monthly, &out->n_monthly)))
		return e;
	e = query_row(db, ST_CONTACT_ORDER_SPAN, ARGS(V(contact_id)), COLS(span_cols), a, &span);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	out->orders = e ? 0 : span.orders;
	out->first_order = e ? "" : span.first;
	out->last_order = e ? "" : span.last;
	return SL_OK;
}

sl_err store_window_gte(struct store *db, long long window_id, long long *gte)
{
	return query_int(db, ST_WINDOW_GTE, ARGS(V(window_id)), gte);
}

/* ---- refunds, disputes, deleted customers (see ledger.h) ---- */

sl_err store_refund_put(struct store *db, const struct refund_row *r)
{
	return exec(db, ST_REFUND_PUT, ARGS(V(r->refund_id), V(r->charge_id), V(r->connection_id),
					    V(r->amount), v_or_empty(r->currency), v_or_empty(r->status),
					    V(r->counts), V(r->status_rank), V(r->created), V(r->version),
					    V(r->updated_at)));
}

sl_err store_dispute_status(struct store *db, const char *dispute_id, char *out, size_t cap)
{
	return status_of(db, ST_DISPUTE_STATUS, dispute_id, out, cap);
}

sl_err store_dispute_put(struct store *db, const struct dispute_row *d)
{
	return exec(db, ST_DISPUTE_PUT, ARGS(V(d->dispute_id), V(d->charge_id), V(d->connection_id),
					     V(d->amount), v_or_empty(d->currency), v_or_empty(d->status),
					     v_or_empty(d->reason), V(d->lost), V(d->status_rank),
					     V(d->created), V(d->version), V(d->updated_at)));
}

sl_err store_order_reported(struct store *db, const char *charge_id, long long refunded,
			    long long at)
{
	return exec(db, ST_ORDER_REPORTED, ARGS(V(charge_id), V(refunded), V(at)));
}

sl_err store_ledger_totals(struct store *db, const char *charge_id, struct ledger_totals *out,
			   char *status, size_t cap)
{
	struct db_stmt *st = bound(db, ST_LEDGER_TOTALS, ARGS(V(charge_id)));
	if (!st)
		return SL_ERR_DB;
	bool row = false;
	sl_err e = db_step(st, &row);
	if (!e && !row)
		e = SL_ERR_NOT_FOUND;
	if (!e) {
		const char *t = db_column_text(st, 1);
		snprintf(status, cap, "%s", t ? t : "");
		out->amount = db_column_int(st, 0);
		out->reported = db_column_int(st, 2);
		out->counted = db_column_int(st, 3);
		out->included = db_column_int(st, 4);
		out->lost = db_column_int(st, 5);
	}
	db_reset(st);
	return e;
}

sl_err store_order_settle(struct store *db, const char *charge_id, long long refunded,
			  long long lost, const char *status, long long now)
{
	return exec(db, ST_ORDER_SETTLE, ARGS(V(charge_id), V(refunded), V(lost), v_or_empty(status),
					      V(now)));
}

sl_err store_order_contact(struct store *db, const char *stripe_id, long long *contact_id)
{
	return query_int(db, ST_ORDER_CONTACT, ARGS(V(stripe_id)), contact_id);
}

sl_err store_customer_deleted(struct store *db, const char *customer_id, long long at)
{
	return exec(db, ST_CUSTOMER_DELETED, ARGS(V(customer_id), V(at)));
}

static const struct col link_cols[] = {
	C_TEXT(struct customer_link, customer_id), C_INT(struct customer_link, deleted_at),
};

sl_err store_contact_links(struct store *db, struct arena *a, long long contact_id,
			   struct customer_link **out, size_t *n)
{
	return query_rows(db, ST_CONTACT_LINKS, ARGS(V(contact_id)), COLS(link_cols), sizeof **out, 100,
			  a, out, n);
}

static const struct col dispute_cols[] = {
	C_TEXT(struct dispute_row, charge_id), C_TEXT(struct dispute_row, dispute_id),
	C_TEXT(struct dispute_row, status), C_TEXT(struct dispute_row, reason),
	C_INT(struct dispute_row, amount), C_TEXT(struct dispute_row, currency),
};

sl_err store_contact_disputes(struct store *db, struct arena *a, long long contact_id,
			      struct dispute_row **out, size_t *n)
{
	return query_rows(db, ST_CONTACT_DISPUTES, ARGS(V(contact_id)), COLS(dispute_cols), sizeof **out,
			  200, a, out, n);
}

sl_err store_recurring_canceled_at(struct store *db, const char *subscription_id, const char *when)
{
	return exec(db, ST_RECURRING_CANCELED_AT, ARGS(V(subscription_id), V(when)));
}
