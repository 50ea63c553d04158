{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/contacts">Contacts</a> /</p>
<section class="card">
  <h1>{{EMAIL}}</h1>
  <dl class="fields">
    <dt>Email</dt><dd>{{EMAIL}}</dd>
    <dt>First name</dt><dd>{{FIRST_NAME}}</dd>
    <dt>Last name</dt><dd>{{LAST_NAME}}</dd>
    <dt>Phone</dt><dd>{{PHONE}}</dd>
    {{#VALUES}}<dt>{{LABEL}}</dt><dd>{{VALUE}}</dd>{{/VALUES}}
    <dt>Created</dt><dd>{{CREATED}}</dd>
    <dt>Updated</dt><dd>{{UPDATED}}</dd>
  </dl>
  <h2>Tags</h2>
  <p class="tags">{{#TAGS}}<a class="tag" href="/contacts?tag={{TAG_QUERY}}">{{TAG}}</a> {{/TAGS}}{{#NO_TAGS}}<span class="hint">No tags.</span>{{/NO_TAGS}}</p>
</section>
