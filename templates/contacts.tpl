{{%AUTOESCAPE context="HTML"}}<div class="page-head">
  <h1>Contacts <span class="count">{{TOTAL}}</span></h1>
  <a class="button" href="/contacts.csv" download>Export CSV</a>
</div>
<form class="filters" method="get" action="/contacts" role="search">
  <label for="q" class="visually-hidden">Search</label>
  <input id="q" name="q" type="search" placeholder="Search by email or name" value="{{Q}}">
  <label for="tag" class="visually-hidden">Tag</label>
  <select id="tag" name="tag">
    <option value="">All tags</option>
    {{#TAG_OPTIONS}}<option value="{{TAG}}" {{SELECTED}}>{{TAG}}</option>{{/TAG_OPTIONS}}
  </select>
  <button type="submit">Search</button>
</form>
{{#NO_CONTACTS}}
<div class="empty">
  <h2>No contacts yet</h2>
  <p>Contacts appear here when you add them or when a connected app, such as Stripe, syncs them. <a href="/apps">Connect an app</a>.</p>
</div>
{{/NO_CONTACTS}}
{{#NO_MATCHES}}<div class="empty"><p>No contact matches this search.</p></div>{{/NO_MATCHES}}
{{#HAVE_CONTACTS}}
<table class="list">
  <thead><tr><th>Email</th><th>Name</th><th>Tags</th></tr></thead>
  <tbody>
  {{#CONTACTS}}
  <tr>
    <td><a href="/contacts/{{ID}}">{{EMAIL}}</a></td>
    <td>{{NAME}}</td>
    <td>{{#TAGS}}<a class="tag" href="/contacts?tag={{TAG_QUERY}}">{{TAG}}</a> {{/TAGS}}</td>
  </tr>
  {{/CONTACTS}}
  </tbody>
</table>
{{/HAVE_CONTACTS}}
{{#PAGER}}
<nav class="pager" aria-label="Pages">
  {{#PREV}}<a href="{{PREV_URL}}" rel="prev">← Previous</a>{{/PREV}}
  <span>Page {{PAGE}} of {{PAGES}}</span>
  {{#NEXT}}<a href="{{NEXT_URL}}" rel="next">Next →</a>{{/NEXT}}
</nav>
{{/PAGER}}
