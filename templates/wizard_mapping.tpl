{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / <a href="/apps/stripe/{{ID}}">Stripe</a></p>
{{#WIZARD}}<ol class="steps">{{#STEPS}}<li{{#CURRENT}} aria-current="step"{{/CURRENT}}>{{STEP_NUMBER}}. {{STEP}}</li>{{/STEPS}}</ol>{{/WIZARD}}
<section class="card">
  <h1>Map fields · {{RESOURCE_LABEL}}</h1>
  <p class="hint">Choose which Stripe field fills which CRM field. Only fields that already exist can be targets: new fields are created on the <a href="/fields">Fields</a> page.</p>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/apps/stripe/{{ID}}/mapping/{{RESOURCE}}" class="mapping">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <input type="hidden" name="rows" value="{{ROWS}}">
    <!-- the first submit button is the one Enter presses: Finish, not Remove -->
    <button type="submit" name="action" value="finish" class="visually-hidden" tabindex="-1" aria-hidden="true">Finish</button>
    <table class="list">
      <thead><tr><th>#</th><th>Stripe field</th><th></th><th>CRM field</th><th></th></tr></thead>
      <tbody>
      {{#EMAIL_ROW}}
      <tr class="row-email">
        <td>1</td>
        <td><label for="email_path" class="visually-hidden">Stripe field for Email</label>
          <select id="email_path" name="email_path" required>
            <option value="">Choose the email field…</option>
            {{#OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/OPTIONS}}
          </select>
          {{#ROW_ERROR}}<p class="error row-error">{{MESSAGE}}</p>{{/ROW_ERROR}}</td>
        <td>→</td>
        <td><strong>Email</strong> <span class="hint">required</span></td>
        <td></td>
      </tr>
      {{/EMAIL_ROW}}
      {{#ID_ROW}}
      <tr class="row-id">
        <td>2</td>
        <td><label for="id_path" class="visually-hidden">Stripe ID</label>
          <select id="id_path" name="id_path">
            <option value="">Stripe ID (optional): don't map</option>
            {{#OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/OPTIONS}}
          </select>
          {{#ROW_ERROR}}<p class="error row-error">{{MESSAGE}}</p>{{/ROW_ERROR}}</td>
        <td>→</td>
        <td><label for="id_target" class="visually-hidden">CRM field for the Stripe ID</label>
          <select id="id_target" name="id_target">
            <option value="">Choose a CRM field…</option>
            {{#TARGETS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/TARGETS}}
          </select></td>
        <td></td>
      </tr>
      {{/ID_ROW}}
      {{#FIELD_ROWS}}
      <tr class="row-field">
        <td>{{NUMBER}}</td>
        <td><label for="path_{{N}}" class="visually-hidden">Stripe field {{NUMBER}}</label>
          <select id="path_{{N}}" name="path_{{N}}">
            <option value="">Choose a Stripe field…</option>
            {{#OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/OPTIONS}}
          </select>
          <div class="meta-key" data-for="path_{{N}}">
            <label for="meta_{{N}}" class="hint">Metadata key (for Metadata rows)</label>
            <input id="meta_{{N}}" name="meta_{{N}}" value="{{META_KEY}}" maxlength="100">
          </div>
          {{#ROW_ERROR}}<p class="error row-error">{{MESSAGE}}</p>{{/ROW_ERROR}}</td>
        <td>→</td>
        <td><label for="target_{{N}}" class="visually-hidden">CRM field {{NUMBER}}</label>
          <select id="target_{{N}}" name="target_{{N}}">
            <option value="">Choose a CRM field…</option>
            {{#TARGETS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/TARGETS}}
          </select></td>
        <td><button type="submit" name="remove" value="{{N}}" class="link danger" formnovalidate>Remove</button></td>
      </tr>
      {{/FIELD_ROWS}}
      </tbody>
    </table>
    {{#CAN_ADD}}<p><button type="submit" name="action" value="add" formnovalidate>Add field mapping</button></p>{{/CAN_ADD}}
    <p>
      {{#WIZARD}}<a class="button" href="/apps/stripe/{{ID}}/resource?resource={{RESOURCE}}">Back</a>{{/WIZARD}}
      {{#EDITING}}<a class="button" href="/apps/stripe/{{ID}}">Cancel</a>{{/EDITING}}
      <button type="submit" name="action" value="finish" class="primary">{{#WIZARD}}Finish{{/WIZARD}}{{#EDITING}}Save mapping{{/EDITING}}</button>
    </p>
  </form>
</section>
