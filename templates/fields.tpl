{{%AUTOESCAPE context="HTML"}}<h1>Fields</h1>
<p class="hint">Every contact has these fields. Integrations can fill them but never create them: add a custom field here first, then map to it.</p>
{{#CREATED}}<p class="notice" role="status">Field "{{CREATED_LABEL}}" created.</p>{{/CREATED}}
<table class="list">
  <thead><tr><th>Label</th><th>Key</th><th>Type</th><th></th></tr></thead>
  <tbody>
  {{#BUILTIN}}<tr><td>{{LABEL}}</td><td><code>{{KEY}}</code></td><td>{{TYPE}}</td><td class="hint">built-in</td></tr>{{/BUILTIN}}
  {{#CUSTOM}}<tr><td>{{LABEL}}</td><td><code>{{KEY}}</code></td><td>{{TYPE}}</td>
    <td><form method="post" action="/fields/{{ID}}/delete" class="inline confirm" data-confirm="Delete this field and its values on every contact?">
      <input type="hidden" name="csrf" value="{{CSRF}}"><button type="submit" class="link danger">Delete</button></form></td></tr>{{/CUSTOM}}
  </tbody>
</table>
{{#NO_CUSTOM}}<p class="hint">No custom fields yet.</p>{{/NO_CUSTOM}}
<section class="card">
  <h2>Add a custom field</h2>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/fields" class="row">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <div><label for="label">Label</label>
    <input id="label" name="label" required maxlength="80" value="{{LABEL_VALUE}}"></div>
    <div><label for="type">Type</label>
    <select id="type" name="type">{{#TYPES}}<option value="{{TYPE}}">{{TYPE_LABEL}}</option>{{/TYPES}}</select></div>
    <div><button type="submit" class="primary">Add field</button></div>
  </form>
</section>
