{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / <a href="/apps/stripe/{{ID}}">Stripe · {{ACCOUNT}}</a></p>
<h1>Integration log <span class="count">{{TOTAL}}</span></h1>
{{#NOTICE}}<p class="notice" role="status">{{NOTICE_TEXT}}</p>{{/NOTICE}}
<form class="filters" method="get" action="/apps/stripe/{{ID}}/log">
  <label for="result" class="visually-hidden">Result</label>
  <select id="result" name="result"><option value="">All results</option>{{#RESULT_OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{VALUE}}</option>{{/RESULT_OPTIONS}}</select>
  <label for="type" class="visually-hidden">Event type</label>
  <select id="type" name="type"><option value="">All event types</option>{{#TYPE_OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{VALUE}}</option>{{/TYPE_OPTIONS}}</select>
  <button type="submit">Filter</button>
</form>
{{#NO_ENTRIES}}<div class="empty"><p>No deliveries yet. Stripe sends events here as they happen.</p></div>{{/NO_ENTRIES}}
{{#HAVE_ENTRIES}}
<table class="list log">
  <thead><tr><th>Time</th><th>Event</th><th>Type</th><th>Result</th><th>Contact</th><th>Reason</th><th></th></tr></thead>
  <tbody>
  {{#ENTRIES}}
  <tr{{#CATCHUP}} class="from-catchup"{{/CATCHUP}}>
    <td>{{AT}}</td><td><code>{{EVENT_ID}}</code></td><td>{{TYPE}}</td>
    <td><span class="status {{RESULT}}">{{RESULT}}</span>{{#CATCHUP}} <span class="source" title="Fetched from Stripe's event list by a catch-up, not delivered by a webhook">via catch-up</span>{{/CATCHUP}}</td>
    <td>{{#CONTACT}}{{#CONTACT_GONE}}deleted contact #{{CONTACT_ID}}{{/CONTACT_GONE}}{{#CONTACT_LINK}}<a href="/contacts/{{CONTACT_ID}}">{{CONTACT_EMAIL}}</a>{{/CONTACT_LINK}}{{/CONTACT}}</td>
    <td>{{REASON}}</td>
    <td>{{#REPLAY}}<form method="post" action="/apps/stripe/{{ID}}/log/{{ENTRY}}/replay" class="inline"><input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="link">Replay</button></form>{{/REPLAY}}</td>
  </tr>
  {{/ENTRIES}}
  </tbody>
</table>
{{/HAVE_ENTRIES}}
{{#PAGER}}
<nav class="pager" aria-label="Pages">
  {{#PREV}}<a href="{{PREV_URL}}" rel="prev">← Newer</a>{{/PREV}}
  <span>Page {{PAGE}} of {{PAGES}}</span>
  {{#NEXT}}<a href="{{NEXT_URL}}" rel="next">Older →</a>{{/NEXT}}
</nav>
{{/PAGER}}
