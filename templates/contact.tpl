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
  {{#HAVE_LINKS}}<h2>Stripe customers</h2>
  <ul class="stripe-customers">{{#STRIPE_CUSTOMERS}}<li><code>{{CUSTOMER_ID}}</code>{{#DELETED}} <span class="customer-deleted">deleted at Stripe {{DELETED_AT}}</span>{{/DELETED}}</li>{{/STRIPE_CUSTOMERS}}</ul>{{/HAVE_LINKS}}
  <h2>Tags</h2>
  <p class="tags">{{#TAGS}}<a class="tag" href="/contacts?tag={{TAG_QUERY}}">{{TAG}}</a> {{/TAGS}}{{#NO_TAGS}}<span class="hint">No tags.</span>{{/NO_TAGS}}</p>
  <h2>Money</h2>
  <dl class="fields summary">
    <dt>Net revenue</dt><dd class="net-revenue">{{NET_REVENUE}}</dd>
    <dt>Orders</dt><dd class="order-count">{{ORDER_COUNT}}</dd>
    <dt>First order</dt><dd class="first-order">{{FIRST_ORDER}}</dd>
    <dt>Last order</dt><dd class="last-order">{{LAST_ORDER}}</dd>
    <dt>Active recurring payments</dt><dd class="active-recurring">{{ACTIVE_RECURRING}}</dd>
    <dt>Monthly recurring</dt><dd class="monthly-recurring">{{MONTHLY_RECURRING}}</dd>
  </dl>
  <h2>Orders</h2>
  {{#NO_ORDERS}}<p class="hint">No orders.</p>{{/NO_ORDERS}}
  {{#HAVE_ORDERS}}<table class="list orders"><thead><tr><th>Stripe ID</th><th>Amount</th><th>Refunded</th><th>Status</th><th>Dispute</th><th>Created</th></tr></thead><tbody>
  {{#ORDERS}}<tr><td><code>{{STRIPE_ID}}</code></td><td>{{AMOUNT}}</td><td>{{REFUNDED}}</td><td class="order-status">{{STATUS}}</td><td class="dispute">{{DISPUTE}}</td><td>{{CREATED}}</td></tr>{{/ORDERS}}
  </tbody></table>{{/HAVE_ORDERS}}
  <h2>Recurring payments</h2>
  {{#NO_RECURRING}}<p class="hint">No recurring payments.</p>{{/NO_RECURRING}}
  {{#HAVE_RECURRING}}<table class="list recurring"><thead><tr><th>Subscription</th><th>Status</th><th>Amount</th><th>Interval</th><th>Current period end</th><th>Canceled</th></tr></thead><tbody>
  {{#RECURRING}}<tr><td><code>{{SUBSCRIPTION_ID}}</code></td><td class="recurring-status">{{STATUS}}</td><td>{{AMOUNT}}</td><td>{{INTERVAL}}</td><td>{{PERIOD_END}}</td><td class="canceled-at">{{CANCELED_AT}}</td></tr>{{/RECURRING}}
  </tbody></table>{{/HAVE_RECURRING}}
</section>
