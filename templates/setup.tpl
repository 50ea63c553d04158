{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  <h1>Create your admin account</h1>
  <p class="hint">This is the first visit: choose the username and password you will log in with. There is no default password.</p>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/setup">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required maxlength="64" value="{{USERNAME_VALUE}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="1024">
    <p class="hint">At least 10 characters.</p>
    <button type="submit" class="primary">Create account</button>
  </form>
</section>
