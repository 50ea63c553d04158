{{%AUTOESCAPE context="HTML"}}<h1>Apps</h1>
{{#NOTICE}}<p class="notice" role="status">{{NOTICE_TEXT}}</p>{{/NOTICE}}
<section>
  <h2>Available apps</h2>
  <div class="apps">
    <article class="card app">
      <h3>Stripe</h3>
      <p>Turn Stripe customers, charges, subscriptions, invoices and checkout sessions into contacts, with tags, orders and recurring payments.</p>
      {{#CONNECT}}<a class="button primary" href="/apps/stripe/connect" data-dialog="connect-dialog">Connect Account</a>{{/CONNECT}}
    </article>
  </div>
</section>
<section>
  <h2>Connected Apps</h2>
  {{#NO_CONNECTED}}
  <div class="empty">
    <p>No apps are connected yet. Connect Stripe above and its customers and payments will flow into your contacts.</p>
  </div>
  {{/NO_CONNECTED}}
  {{#HAVE_CONNECTED}}
  <table class="list">
    <thead><tr><th>App</th><th>Account</th><th>Mode</th><th>Connected since</th><th>Status</th><th>Resources</th></tr></thead>
    <tbody>
    {{#CONNECTED}}
    <tr>
      <td><a href="/apps/stripe/{{ID}}">Stripe</a></td>
      <td>{{ACCOUNT}}</td>
      <td>{{MODE}}</td>
      <td>{{SINCE}}</td>
      <td><span class="status {{STATUS}}">{{STATUS}}</span></td>
      <td>{{RESOURCES}}</td>
    </tr>
    {{/CONNECTED}}
    </tbody>
  </table>
  {{/HAVE_CONNECTED}}
</section>
{{#CONNECT}}
<dialog id="connect-dialog" aria-labelledby="connect-dialog-title">
  <h2 id="connect-dialog-title">Connect Stripe</h2>
  <form method="post" action="/apps/stripe/connect" autocomplete="off">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <label for="dialog_secret_key">Stripe Secret Key</label>
    <input id="dialog_secret_key" name="secret_key" type="password" required maxlength="512" placeholder="sk_live_…" spellcheck="false">
    <p class="hint">Find it in the Stripe dashboard under Developers → API keys.</p>
    <button type="submit" class="primary">Connect</button>
    <button type="button" data-close>Cancel</button>
  </form>
</dialog>
{{/CONNECT}}
