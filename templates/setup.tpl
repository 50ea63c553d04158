{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  {{#LOCKED}}
  <h1>Setup token needed</h1>
  {{#WRONG_TOKEN}}<p class="error" role="alert">This setup link is not valid (it may be from an earlier start).</p>{{/WRONG_TOKEN}}
  <p>No admin account exists yet. To create it, open the setup link that stripelink printed when it started, with its one-time setup token.</p>
  <p>Find the link on the console of <code>stripelink run</code> (as a service: <code>journalctl -u stripelink</code>), or read the token from the file <code>{{TOKEN_PATH}}</code> on the server and open <code>/setup?token=</code> followed by it.</p>
  <p class="hint">You can also create the admin from a shell on the server: <code>stripelink add-admin USERNAME</code>.</p>
  {{/LOCKED}}
  {{#FORM}}
  <h1>Create your admin account</h1>
  <p class="hint">This is the first visit: choose the username and password you will log in with. There is no default password.</p>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/setup">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <input type="hidden" name="token" value="{{TOKEN}}">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required maxlength="64" value="{{USERNAME_VALUE}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="1024">
    <p class="hint">At least 10 characters.</p>
    <button type="submit" class="primary">Create account</button>
  </form>
  {{/FORM}}
</section>
