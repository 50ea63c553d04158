{{%AUTOESCAPE context="HTML"}}<div class="page-head">
  <h1>Segments</h1>
  <a class="button" href="/contacts">New segment</a>
</div>
<p class="hint">A segment is a saved contacts filter. Counts are live: they are computed when this page opens.</p>
{{#SAVED}}<p class="notice" role="status">Segment "{{SAVED_NAME}}" saved.</p>{{/SAVED}}
{{#NO_SEGMENTS}}
<div class="empty"><p>No segments yet. Build a filter on the <a href="/contacts">contacts page</a> and save it.</p></div>
{{/NO_SEGMENTS}}
{{#HAVE_SEGMENTS}}
<table class="list">
  <thead><tr><th>Name</th><th>Contacts</th><th></th></tr></thead>
  <tbody>
  {{#SEGMENTS}}
  <tr>
    <td><a href="/contacts?segment={{ID}}">{{NAME}}</a></td>
    <td class="segment-count">{{COUNT}}</td>
    <td><a href="/contacts.csv?segment={{ID}}" download>Export CSV</a>
      <form method="post" action="/segments/{{ID}}/delete" class="inline confirm" data-confirm="Delete this segment? Its contacts are kept.">
        <input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="link danger">Delete</button></form></td>
  </tr>
  {{/SEGMENTS}}
  </tbody>
</table>
{{/HAVE_SEGMENTS}}
