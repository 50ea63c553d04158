{{%AUTOESCAPE context="HTML"}}<section class="card narrow">
  <h1>{{STATUS}} · {{REASON}}</h1>
  <p>{{MESSAGE}}</p>
  <p><a href="/">Go to the start page</a></p>
</section>
