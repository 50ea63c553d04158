{{%AUTOESCAPE context="HTML"}}<p><a href="/automations">Automations</a></p>
<h1>{{NAME}}</h1>
<p>This automation is <strong id="state">{{STATE}}</strong>.</p>
{{#NOTICE}}<p class="notice" role="status">{{NOTICE_TEXT}}</p>{{/NOTICE}}
{{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
{{#SECRET}}<section class="card" id="secret">
  <h2>Signing secret</h2>
  <p>Copy it now: it is shown only once. Receivers check <code>Stripelink-Signature: t=…,v1=…</code> (HMAC-SHA256 of <code>t.body</code>) with it.</p>
  <p><code id="secret-value">{{SECRET_VALUE}}</code></p>
</section>{{/SECRET}}
<div class="row">
  <form method="post" action="/automations/{{ID}}/enable" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><input type="hidden" name="action" value="{{TOGGLE}}"><button type="submit">{{TOGGLE_LABEL}}</button></form>
  <form method="post" action="/automations/{{ID}}/test" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit">Send test</button></form>
  <form method="post" action="/automations/{{ID}}/rotate-secret" class="inline confirm" data-confirm="Make a new signing secret? Receivers need the new one."><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit">Rotate secret</button></form>
  <form method="post" action="/automations/{{ID}}/delete" class="inline confirm" data-confirm="Delete this automation, its runs and its deliveries?"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="danger">Delete</button></form>
</div>
<section class="card">
  <h2>Edit</h2>
  <form method="post" action="/automations/{{ID}}">
    <input type="hidden" name="csrf" value="{{CSRF}}">
<div><label for="name">Name</label>
<input id="name" name="name" required maxlength="120" value="{{NAME}}"></div>
<div><label for="trigger">Trigger</label>
<select id="trigger" name="trigger">{{#TRIGGERS}}<option value="{{SLUG}}"{{#SELECTED}} selected{{/SELECTED}}>{{LABEL}}</option>{{/TRIGGERS}}</select></div>
<div><label for="trigger_tag">Tag (for "Tag added")</label>
<input id="trigger_tag" name="trigger_tag" maxlength="200" placeholder="stripe-integration-charge-succeeded" value="{{TRIGGER_TAG}}"></div>
<div><label for="segment">Segment</label>
<select id="segment" name="segment"><option value="0">Every contact</option>{{#SEGMENTS}}<option value="{{SEGMENT_ID}}"{{#SELECTED}} selected{{/SELECTED}}>{{SEGMENT_NAME}}</option>{{/SEGMENTS}}</select>
<span class="hint">The contact must be in it when the trigger fires (Segments page).</span></div>
<div><label><input type="checkbox" name="history" value="1"{{#HISTORY}} checked{{/HISTORY}}> Also for history (historical sync)</label></div>
<fieldset><legend>Actions, in order</legend>
{{#ACTIONS}}<div class="row">
  <select name="action_{{N}}" aria-label="Action {{N}}">{{#KINDS}}<option value="{{SLUG}}"{{#SELECTED}} selected{{/SELECTED}}>{{LABEL}}</option>{{/KINDS}}</select>
  <input name="name_{{N}}" aria-label="Tag, field key or URL {{N}}" placeholder="tag, field key or https:// URL" maxlength="2000" value="{{NAME}}">
  <input name="value_{{N}}" aria-label="Value {{N}}" placeholder="value (set a field)" maxlength="1000" value="{{VALUE}}">
</div>{{/ACTIONS}}
</fieldset>
    <div><button type="submit" class="primary">Save</button></div>
  </form>
</section>
<h2>Deliveries</h2>
<table class="list" id="deliveries">
  <thead><tr><th>#</th><th>Queued</th><th>Kind</th><th>URL</th><th>State</th><th>Attempts</th><th>Last status</th><th>Idempotency-Key</th><th></th></tr></thead>
  <tbody>
  {{#DELIVERIES}}<tr><td>{{DID}}</td><td>{{AT}}</td><td>{{KIND}}</td><td>{{URL}}</td><td class="state">{{DSTATE}}</td><td>{{ATTEMPTS}}</td><td>{{LAST}}</td><td><code>{{KEY}}</code></td>
    <td><form method="post" action="/automations/{{ID}}/deliveries/{{DID}}/resend" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="link">Resend</button></form></td></tr>{{/DELIVERIES}}
  </tbody>
</table>
{{#NO_DELIVERIES}}<p class="hint">No deliveries yet.</p>{{/NO_DELIVERIES}}
<h2>Delivery log</h2>
<table class="list" id="attempts">
  <thead><tr><th>Delivery</th><th>At</th><th>Status</th><th>ms</th><th>Response or error</th></tr></thead>
  <tbody>
  {{#ATTEMPTS_LOG}}<tr><td>{{DID}}</td><td>{{AT}}</td><td>{{STATUS}}</td><td>{{MS}}</td><td>{{NOTE}}</td></tr>{{/ATTEMPTS_LOG}}
  </tbody>
</table>
<h2>Run history</h2>
<table class="list" id="runs">
  <thead><tr><th>At</th><th>Contact</th><th>Source</th><th>What</th></tr></thead>
  <tbody>
  {{#RUNS}}<tr><td>{{AT}}</td><td><a href="/contacts/{{CONTACT}}">{{CONTACT}}</a></td><td>{{SOURCE}}</td><td>{{DETAIL}}</td></tr>{{/RUNS}}
  </tbody>
</table>
{{#NO_RUNS}}<p class="hint">Not run yet.</p>{{/NO_RUNS}}
