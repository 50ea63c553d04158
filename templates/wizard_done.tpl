{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  <h1>Your Stripe integration is set up</h1>
  {{#EDITED}}<p>The {{RESOURCE_LABEL}} mapping was saved.</p>{{/EDITED}}
  <p>{{RESOURCE_LABEL}} records from <strong>{{ACCOUNT}}</strong> now become contacts.
  {{#HISTORICAL}}The records already in Stripe are being synced: follow the progress on the Stripe app page.{{/HISTORICAL}}
  {{#NEW_ONLY}}New records are synced as Stripe sends them.{{/NEW_ONLY}}</p>
  <p><a class="button primary" href="/apps">Connected Apps</a> <a class="button" href="/apps/stripe/{{ID}}">Stripe app page</a></p>
</section>
