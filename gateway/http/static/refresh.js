// Live dashboard pages (<body data-refresh="N">) reload every N seconds, except while someone
// is typing into them or has changed a field, and while the tab is hidden.
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh") || 0);
  if (!(seconds > 0)) return;
  var changed = false;
  document.addEventListener("input", function () { changed = true; });
  window.setInterval(function () {
    var active = document.activeElement;
    var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    if (!changed && !typing && document.visibilityState === "visible") {
      window.location.reload();
    }
  }, seconds * 1000);
})();
