{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / Stripe</p>
<div class="page-head">
  <h1>Stripe · {{ACCOUNT}}</h1>
  {{#CONNECTED}}<a class="button danger" href="/apps/stripe/{{ID}}/disconnect">Disconnect</a>{{/CONNECTED}}
</div>
{{#NOTICE}}<p class="notice" role="status">{{NOTICE_TEXT}}</p>{{/NOTICE}}
{{#ENDPOINT_DISABLED}}<div class="banner error" role="alert" id="endpoint-disabled">
  <p><strong>Stripe has disabled this install's webhook endpoint</strong>: it stopped delivering events, usually after deliveries kept failing. A catch-up fetches what it missed.</p>
  <form method="post" action="/apps/stripe/{{ID}}/endpoint/enable" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit">Re-enable</button></form>
</div>{{/ENDPOINT_DISABLED}}
{{#ENDPOINT_DELETED}}<div class="banner error" role="alert" id="endpoint-deleted">
  <p><strong>The webhook endpoint no longer exists at Stripe</strong> (it was deleted in the dashboard): no events are delivered. Recreate it to get a new endpoint and signing secret; a catch-up then fetches what was missed.</p>
  <form method="post" action="/apps/stripe/{{ID}}/endpoint/recreate" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit">Recreate</button></form>
</div>{{/ENDPOINT_DELETED}}
{{#KEY_REFUSED}}<div class="banner error" role="alert" id="key-refused">
  <p><strong>{{KEY_PROBLEM}}</strong> Until it is fixed, catch-ups, endpoint checks and syncs cannot reach Stripe. Paste a current secret key of the same account (Developers → API keys); the mappings and settings stay.</p>
  <form method="post" action="/apps/stripe/{{ID}}/key" class="inline" autocomplete="off"><input type="hidden" name="csrf" value="{{CSRF}}">
    <label for="secret_key">New secret key</label> <input id="secret_key" name="secret_key" type="password" required placeholder="sk_live_… or rk_live_…">
    <button type="submit">Save key</button></form>
</div>{{/KEY_REFUSED}}
{{#ENDPOINT_UNREACHABLE}}<p class="banner hint" id="endpoint-unreachable">Stripe could not be reached when the webhook endpoint was last checked ({{ENDPOINT_DETAIL}}); it is checked again shortly.</p>{{/ENDPOINT_UNREACHABLE}}
<section class="card">
  <h2>Connection</h2>
  <dl class="fields">
    <dt>Account</dt><dd>{{ACCOUNT}} <span class="hint">{{ACCOUNT_ID}}</span></dd>
    <dt>Mode</dt><dd>{{MODE}}</dd>
    <dt>Status</dt><dd><span class="status {{STATUS}}">{{STATUS}}</span>{{#DISCONNECTED}} since {{DISCONNECTED_AT}}{{/DISCONNECTED}}</dd>
    <dt>Secret key</dt><dd><code>{{KEY_HINT}}</code></dd>
    <dt>Connected since</dt><dd>{{SINCE}}</dd>
    <dt>Webhook URL</dt><dd><code>{{WEBHOOK_URL}}</code></dd>
    {{#ROTATING}}<dt>Previous secret</dt><dd>still accepted until {{PREVIOUS_UNTIL}}</dd>{{/ROTATING}}
  </dl>
  {{#CONNECTED}}<form method="post" action="/apps/stripe/{{ID}}/roll-secret" class="inline confirm" data-confirm="Replace the webhook endpoint and its signing secret? The old secret stays valid only for a few minutes (deliveries in flight).">
    <input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="link">Roll webhook signing secret</button></form>{{/CONNECTED}}
  {{#DISCONNECTED}}<p class="hint">Disconnected: the key was forgotten; what was synced stays. <a href="/apps/stripe/connect">Connect again</a>.</p>{{/DISCONNECTED}}
</section>
<section class="card">
  <h2>Synced</h2>
  <dl class="fields">
    <dt>Contacts from Stripe</dt><dd>{{COUNT_CONTACTS}} <span class="hint">(tagged stripe-integration, all connections)</span></dd>
    <dt>Orders</dt><dd>{{COUNT_ORDERS}}</dd>
    <dt>Recurring payments</dt><dd>{{COUNT_RECURRING}}</dd>
    <dt>Deliveries</dt><dd>{{COUNT_DELIVERIES}} · <a href="/apps/stripe/{{ID}}/log">Integration log</a></dd>
  </dl>
</section>
{{#CATCHUP}}<section class="card" id="catchup">
  <h2>Catch-up from Stripe</h2>
  <p class="hint">Stripe keeps events for 30 days. Every few minutes, and on request, stripelink reads Stripe's event list and applies any event the webhook did not bring; events it already has change nothing.</p>
  <dl class="fields">
    <dt>Webhook endpoint</dt><dd><span class="status {{ENDPOINT_STATE}}">{{ENDPOINT_STATE}}</span> <span class="hint">checked {{ENDPOINT_CHECKED}}</span></dd>
    <dt>Last catch-up</dt><dd>{{#CATCHUP_NEVER}}not yet{{/CATCHUP_NEVER}}{{#CATCHUP_LAST}}<span class="catchup-last">{{CATCHUP_AT}}: <span class="catchup-found">{{CATCHUP_FOUND}}</span> events listed, <span class="catchup-new">{{CATCHUP_NEW}}</span> new, <span class="catchup-skipped">{{CATCHUP_SKIPPED}}</span> skipped</span>{{/CATCHUP_LAST}}{{#CATCHUP_RUNNING}} <span class="status running">running</span>{{/CATCHUP_RUNNING}}</dd>
    {{#CATCHUP_ERROR}}<dt>Problem</dt><dd class="error catchup-error">{{CATCHUP_ERROR_TEXT}}</dd>{{/CATCHUP_ERROR}}
    <dt>Not delivered by Stripe</dt><dd>{{#UNDELIVERED}}<span class="undelivered"><span class="undelivered-count">{{UNDELIVERED_COUNT}}</span> events Stripe could not deliver; the oldest is <span class="undelivered-age">{{UNDELIVERED_AGE}}</span> days old, and Stripe drops it in <span class="undelivered-left">{{UNDELIVERED_LEFT}}</span> days.</span>{{/UNDELIVERED}}{{#NO_UNDELIVERED}}none{{/NO_UNDELIVERED}}</dd>
  </dl>
  <form method="post" action="/apps/stripe/{{ID}}/catchup" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit">Catch up now</button></form>
</section>{{/CATCHUP}}
<section class="card">
  <h2>Resources</h2>
  {{#NO_RESOURCES}}<p class="hint">No resource is set up yet.</p>{{/NO_RESOURCES}}
  {{#HAVE_RESOURCES}}
  <table class="list">
    <thead><tr><th>Resource</th><th>Sync type</th><th>Mapping</th><th></th></tr></thead>
    <tbody>
    {{#RESOURCES}}<tr><td>{{RESOURCE_LABEL}}</td><td>{{SYNC_TYPE}}</td><td>{{MAPPED}}</td>
      <td>{{#EDIT}}<a href="/apps/stripe/{{ID}}/mapping/{{RESOURCE}}">Edit mapping</a>{{/EDIT}}
        {{#SYNC_NOW}}<form method="post" action="/apps/stripe/{{ID}}/sync" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><input type="hidden" name="resource" value="{{RESOURCE}}"> · <button type="submit" class="link">Sync history now</button></form>{{/SYNC_NOW}}</td></tr>{{/RESOURCES}}
    </tbody>
  </table>
  {{/HAVE_RESOURCES}}
  {{#CONNECTED}}<p><a class="button" href="/apps/stripe/{{ID}}/resource">Add resource</a></p>{{/CONNECTED}}
</section>
<section class="card" id="sync"{{#REFRESH}} data-refresh="2"{{/REFRESH}}>
  <h2>Historical sync</h2>
  {{#NO_JOBS}}<p class="hint">No historical sync yet. Resources set up with "Sync historical and new records" start one when the wizard finishes.</p>{{/NO_JOBS}}
  {{#HAVE_JOBS}}
  <table class="list jobs">
    <thead><tr><th>Resource</th><th>State</th><th>Progress</th><th>Objects</th><th>Pages</th><th>Contacts created</th><th>Updated</th><th>Skipped</th><th>Elapsed</th><th></th></tr></thead>
    <tbody>
    {{#JOBS}}<tr data-job="{{JOB}}">
      <td>{{RESOURCE_LABEL}}</td>
      <td><span class="status {{STATE}}">{{STATE}}</span>{{#JOB_ERROR}}<p class="error row-error">{{ERROR}}</p>{{/JOB_ERROR}}</td>
      <td><progress value="{{PERCENT}}" max="100">{{PERCENT}}%</progress> {{PERCENT}}%</td>
      <td>{{OBJECTS}}</td><td>{{PAGES}}</td><td>{{CREATED}}</td><td>{{UPDATED}}</td><td>{{SKIPPED}}</td><td>{{ELAPSED}}</td>
      <td><form method="post" action="/apps/stripe/{{ID}}/jobs/{{JOB}}" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}">
        {{#CAN_PAUSE}}<button type="submit" name="action" value="pause" class="link">Pause</button>{{/CAN_PAUSE}}
        {{#CAN_RESUME}}<button type="submit" name="action" value="resume" class="link">Resume</button>{{/CAN_RESUME}}
        {{#CAN_CANCEL}}<button type="submit" name="action" value="cancel" class="link danger">Cancel</button>{{/CAN_CANCEL}}</form></td>
    </tr>{{/JOBS}}
    </tbody>
  </table>
  {{/HAVE_JOBS}}
</section>
{{#CONNECTED}}
<section class="card">
  <h2>Webhook events</h2>
  <form method="post" action="/apps/stripe/{{ID}}/settings">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <label class="check"><input type="checkbox" name="create_contact" value="on" {{CREATE_CONTACT}}> Create Contact</label>
    <label class="check"><input type="checkbox" name="create_order" value="on" {{CREATE_ORDER}}> Create Order</label>
    <label class="check"><input type="checkbox" name="create_recurring" value="on" {{CREATE_RECURRING}}> Create Recurring Payment</label>
    <button type="submit">Save</button>
  </form>
</section>
{{/CONNECTED}}
