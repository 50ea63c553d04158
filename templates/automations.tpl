{{%AUTOESCAPE context="HTML"}}<h1>Automations</h1>
<p class="hint">An automation runs when the Stripe integration changes something: a trigger, then its actions in order, in the same transaction as the change. Webhooks are queued and delivered by the delivery worker.</p>
<table class="list" id="automations">
  <thead><tr><th>Name</th><th>Trigger</th><th>Enabled</th><th>Last run</th><th>Runs</th><th>Failures</th></tr></thead>
  <tbody>
  {{#AUTOMATIONS}}<tr><td><a href="/automations/{{ID}}">{{NAME}}</a></td><td>{{TRIGGER}} <code>{{TRIGGER_TAG}}</code></td><td>{{ENABLED}}</td><td>{{LAST_RUN}}</td><td>{{RUNS}}</td><td>{{FAILURES}}</td></tr>{{/AUTOMATIONS}}
  </tbody>
</table>
{{#NONE}}<p class="hint">No automations yet.</p>{{/NONE}}
<section class="card">
  <h2>New automation</h2>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/automations" id="new-automation">
    <input type="hidden" name="csrf" value="{{CSRF}}">
<div><label for="name">Name</label>
<input id="name" name="name" required maxlength="120" value="{{NAME_VALUE}}"></div>
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
    <div><button type="submit" class="primary">Create automation</button></div>
  </form>
</section>
