{{%AUTOESCAPE context="HTML"}}<div class="page-head">
  <h1>Contacts <span class="count">{{TOTAL}}</span></h1>
  <a class="button" href="{{CSV_URL}}" download>Export CSV</a>
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
  <fieldset class="conditions">
    <legend>{{#EDITING}}Segment “{{SEGMENT_NAME}}”: {{/EDITING}}Conditions (all must match)</legend>
    {{#EDITING}}<input type="hidden" name="segment" value="{{SEGMENT_ID}}">{{/EDITING}}
    {{#COND_ROWS}}
    <div class="cond-row" data-row="{{I}}">
      <label for="c{{I}}_kind" class="visually-hidden">Condition {{I}}</label>
      <select id="c{{I}}_kind" name="c{{I}}_kind">
        <option value="">— no condition —</option>
        {{#KINDS}}<option value="{{KIND}}" data-value-hint="{{VALUE_HINT}}" data-extra-hint="{{EXTRA_HINT}}" {{SELECTED}}>{{KIND_LABEL}}</option>{{/KINDS}}
      </select>
      <label for="c{{I}}_value" class="visually-hidden">Value</label>
      <input id="c{{I}}_value" name="c{{I}}_value" value="{{VALUE}}" placeholder="value: tag, amount, days, count, from date, text" list="tag-list" maxlength="200">
      <label for="c{{I}}_extra" class="visually-hidden">Second value</label>
      <input id="c{{I}}_extra" name="c{{I}}_extra" value="{{EXTRA}}" placeholder="currency, to date or field key" list="field-list" maxlength="200">
      <button type="submit" name="remove" value="{{I}}" class="link">Remove</button>
      {{#ROW_ERROR}}<p class="error" role="alert" id="c{{I}}_error">{{ROW_ERROR_MESSAGE}}</p>{{/ROW_ERROR}}
    </div>
    {{/COND_ROWS}}
    <datalist id="tag-list">{{#TAG_LIST}}<option value="{{TAG}}">{{/TAG_LIST}}</datalist>
    <datalist id="field-list">{{#FIELD_LIST}}<option value="{{KEY}}">{{/FIELD_LIST}}</datalist>
    <button type="submit" name="add" value="1">Add condition</button>
    <button type="submit" class="primary">Apply</button>
  </fieldset>
</form>
{{#FILTER_INVALID}}<p class="error" role="alert">Some conditions need fixing: see the messages next to them.</p>{{/FILTER_INVALID}}
{{#SAVE_ERROR}}<p class="error" role="alert" id="save-error">{{SAVE_ERROR_MESSAGE}}</p>{{/SAVE_ERROR}}
{{#CAN_SAVE}}
<form class="row save-segment" method="post" action="/segments{{#EDITING}}/{{SEGMENT_ID}}{{/EDITING}}">
  <input type="hidden" name="csrf" value="{{CSRF}}">
  {{#SAVE_ROWS}}<input type="hidden" name="c{{I}}_kind" value="{{KIND}}"><input type="hidden" name="c{{I}}_value" value="{{VALUE}}"><input type="hidden" name="c{{I}}_extra" value="{{EXTRA}}">{{/SAVE_ROWS}}
  {{#EDITING}}<input type="hidden" name="segment" value="{{SEGMENT_ID}}">{{/EDITING}}
  <label for="segment-name">Segment name</label>
  <input id="segment-name" name="name" required maxlength="80" value="{{SAVE_NAME}}">
  <button type="submit" class="primary">{{SAVE_LABEL}}</button>
</form>
{{/CAN_SAVE}}
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
