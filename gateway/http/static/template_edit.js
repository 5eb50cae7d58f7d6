// The template editor: the preview follows the text as it is typed (the admin JSON API's
// preview, which changes nothing); without this script the "Xem trước" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  var body = document.getElementById("body");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var timer = null;
  function show(id, value) { document.getElementById(id).textContent = value; }
  function refresh() {
    fetch(form.dataset.preview, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({body: body.value})
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        var error = document.getElementById("error");
        if (!res[0]) { error.hidden = false; error.textContent = res[1].detail; return; }
        error.hidden = true;
        show("preview-text", res[1].text); show("preview-alphabet", res[1].alphabet);
        show("preview-parts", res[1].parts); show("preview-length", res[1].length);
      });
  }
  body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
})();
