{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  <h1>Log in</h1>
  {{#ERROR}}<p class="error" role="alert">{{ERROR_MESSAGE}}</p>{{/ERROR}}
  <form method="post" action="/login">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <input type="hidden" name="next" value="{{NEXT}}">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required maxlength="64" value="{{USERNAME_VALUE}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
    <button type="submit" class="primary">Log in</button>
  </form>
</section>
