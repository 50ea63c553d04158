{{%AUTOESCAPE context="HTML"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}} · stripelink</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">stripelink</a>
  {{#LOGGED_IN}}
  <nav aria-label="Main">
    <a href="/contacts"{{#NAV_CONTACTS}} aria-current="page"{{/NAV_CONTACTS}}>Contacts</a>
    <a href="/segments"{{#NAV_SEGMENTS}} aria-current="page"{{/NAV_SEGMENTS}}>Segments</a>
    <a href="/fields"{{#NAV_FIELDS}} aria-current="page"{{/NAV_FIELDS}}>Fields</a>
    <a href="/automations"{{#NAV_AUTOMATIONS}} aria-current="page"{{/NAV_AUTOMATIONS}}>Automations</a>
    <a href="/apps"{{#NAV_APPS}} aria-current="page"{{/NAV_APPS}}>Apps</a>
  </nav>
  <form class="logout" method="post" action="/logout">
    <input type="hidden" name="csrf" value="{{CSRF}}">
    <span class="who">{{USERNAME}}</span>
    <button type="submit" class="link">Log out</button>
  </form>
  {{/LOGGED_IN}}
</header>
<main>
{{>BODY}}
</main>
</body>
</html>
