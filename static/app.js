// stripelink - progressive enhancement only; every page works without it.
// No inline script anywhere (the Content-Security-Policy forbids it).
'use strict';

// Forms marked .confirm ask before submitting (Disconnect, Delete).
document.addEventListener('submit', function (ev) {
  var form = ev.target;
  if (form.classList && form.classList.contains('confirm')) {
    if (!window.confirm(form.getAttribute('data-confirm') || 'Are you sure?')) {
      ev.preventDefault();
    }
  }
});

// Elements with data-refresh="SECONDS" reload the page while it is open
// (the sync progress bar), unless a form field has focus.
(function () {
  var el = document.querySelector('[data-refresh]');
  if (!el) return;
  var seconds = parseInt(el.getAttribute('data-refresh'), 10) || 2;
  setTimeout(function tick() {
    var a = document.activeElement;
    if (a && /INPUT|SELECT|TEXTAREA/.test(a.tagName)) { setTimeout(tick, seconds * 1000); return; }
    window.location.reload();
  }, seconds * 1000);
})();

// The metadata key box of a mapping row is only needed when the row reads
// a metadata field ("…metadata.*"); without script it simply stays shown.
(function () {
  function sync(box) {
    var select = document.getElementById(box.getAttribute('data-for'));
    if (select) box.hidden = !/\.\*$/.test(select.value);
  }
  var boxes = document.querySelectorAll('.meta-key[data-for]');
  Array.prototype.forEach.call(boxes, function (box) {
    sync(box);
    var select = document.getElementById(box.getAttribute('data-for'));
    if (select) select.addEventListener('change', function () { sync(box); });
  });
})();

// Links marked data-dialog="ID" open that <dialog> instead of navigating
// (the link's page is the fallback without script); [data-close] closes it.
document.addEventListener('click', function (ev) {
  var link = ev.target.closest && ev.target.closest('a[data-dialog]');
  if (link) {
    var dialog = document.getElementById(link.getAttribute('data-dialog'));
    if (dialog && typeof dialog.showModal === 'function') {
      ev.preventDefault();
      dialog.showModal();
      var first = dialog.querySelector('input:not([type=hidden])');
      if (first) first.focus();
    }
    return;
  }
  var close = ev.target.closest && ev.target.closest('[data-close]');
  if (close) {
    var d = close.closest('dialog');
    if (d) d.close();
  }
});

// Filter builder rows: the value boxes say what the chosen condition needs
// and the ones it does not use are hidden; without script both stay shown.
(function () {
  function sync(row) {
    var select = row.querySelector('select');
    var opt = select && select.options[select.selectedIndex];
    if (!opt || !opt.value) return;
    [['value', 'data-value-hint'], ['extra', 'data-extra-hint']].forEach(function (p) {
      var input = row.querySelector('input[name$="_' + p[0] + '"]');
      var hint = opt.getAttribute(p[1]) || '';
      if (!input) return;
      input.placeholder = hint;
      input.hidden = hint === '' && input.value === '';
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('.cond-row'), function (row) {
    sync(row);
    var select = row.querySelector('select');
    if (select) select.addEventListener('change', function () { sync(row); });
  });
})();
