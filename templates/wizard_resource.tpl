{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / <a href="/apps/stripe/{{ID}}">Stripe</a></p>
<ol class="steps">{{#STEPS}}<li{{#CURRENT}} aria-current="step"{{/CURRENT}}>{{STEP_NUMBER}}. {{STEP}}</li>{{/STEPS}}</ol>
<section class="card narrow">
  <h1>Resource</h1>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/apps/stripe/{{ID}}/resource">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <label for="resource">Choose Resource</label>
    <select id="resource" name="resource" required>
      <option value="">Choose…</option>
      {{#RESOURCE_OPTIONS}}<option value="{{VALUE}}" {{SELECTED}}>{{LABEL}}</option>{{/RESOURCE_OPTIONS}}
    </select>
    <fieldset class="plain">
      <legend>Sync type</legend>
      {{#SYNC_OPTIONS}}<label class="check"><input type="radio" name="sync_type" value="{{VALUE}}" {{CHECKED}}> {{LABEL}}</label>{{/SYNC_OPTIONS}}
    </fieldset>
    <button type="submit" class="primary">Continue</button>
  </form>
</section>
