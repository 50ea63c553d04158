{{%AUTOESCAPE context="HTML"}}<p class="crumbs"><a href="/apps">Apps</a> / Stripe</p>
<ol class="steps">{{#STEPS}}<li{{#CURRENT}} aria-current="step"{{/CURRENT}}>{{STEP_NUMBER}}. {{STEP}}</li>{{/STEPS}}</ol>
<section class="card narrow connect-dialog" role="dialog" aria-labelledby="connect-title">
  <h1 id="connect-title">Connect Stripe</h1>
  {{#ERROR}}<div class="error" role="alert"><strong>{{ERROR_HEADLINE}}</strong> {{ERROR_ADVICE}}{{#STRIPE_SAID}}<br><span class="hint">Stripe said: {{STRIPE_MESSAGE}}</span>{{/STRIPE_SAID}}</div>{{/ERROR}}
  <form method="post" action="/apps/stripe/connect" autocomplete="off">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <label for="secret_key">Stripe Secret Key</label>
    <input id="secret_key" name="secret_key" type="password" required maxlength="512" placeholder="sk_live_…" spellcheck="false">
    <p class="hint">Find it in the Stripe dashboard under Developers → API keys.</p>
    <button type="submit" class="primary">Connect</button>
    <a class="button" href="/apps">Cancel</a>
  </form>
</section>
