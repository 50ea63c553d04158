{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / Stripe</p>
<div class="page-head">
  <h1>Stripe · {{ACCOUNT}}</h1>
  {{#CONNECTED}}<a class="button danger" href="/apps/stripe/{{ID}}/disconnect">Disconnect</a>{{/CONNECTED}}
</div>
{{#NOTICE}}<p class="notice" role="status">{{NOTICE_TEXT}}</p>{{/NOTICE}}
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
