// reminderd admin: small enhancements; every page works without them.
(function () {
  "use strict";
  // Auto-refresh (the server says how often on <body data-refresh>; 0 is
  // off). A page being worked on (a selection, a field in focus) waits.
  var secs = +document.body.getAttribute("data-refresh") || 0;
  if (secs > 0) {
    var tick = function () {
      var busy = document.querySelector("input.pick:checked, #select-all:checked") ||
        (document.activeElement && /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName));
      if (busy) { setTimeout(tick, secs * 1000); return; }
      location.reload();
    };
    setTimeout(tick, secs * 1000);
  }
  // The bulk buttons say what they will act on.
  var form = document.getElementById("bulk");
  if (!form) return;
  var all = document.getElementById("select-all");
  var buttons = [document.getElementById("bulk-cancel"), document.getElementById("bulk-retry")];
  var update = function () {
    var n = document.querySelectorAll("input.pick:checked").length;
    buttons.forEach(function (b) {
      if (!b) return;
      if (all && all.checked) b.textContent = b.getAttribute("data-all");
      else if (n > 0) b.textContent = b.getAttribute("data-n").replace("%d", n);
      else b.textContent = b.getAttribute("data-none");
    });
    document.querySelectorAll("input.pick").forEach(function (c) { c.disabled = !!(all && all.checked); });
  };
  document.addEventListener("change", function (e) {
    if (e.target && (e.target.classList.contains("pick") || e.target === all)) update();
  });
  update();
})();
