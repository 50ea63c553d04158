{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  <h1>Disconnect Stripe?</h1>
  <p>This removes the webhook endpoint from the Stripe account <strong>{{ACCOUNT}}</strong> and forgets its secret key. Contacts, tags, orders and recurring payments that were synced stay.</p>
  <form method="post" action="/apps/stripe/{{ID}}/disconnect">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <button type="submit" class="danger-solid">Disconnect</button>
    <a class="button" href="/apps/stripe/{{ID}}">Cancel</a>
  </form>
</section>
