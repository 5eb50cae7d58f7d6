// The lookup page: a photo of the receipt is sent to the decoder and its code typed for the
// citizen (the form works without this script too).
(function () {
  "use strict";
  var form = document.getElementById("tra-cuu");
  var photo = document.getElementById("anh");
  var code = document.getElementById("ma");
  var said = document.getElementById("anh-trang-thai");
  if (!window.fetch || !window.FormData) return;
  photo.addEventListener("change", function () {
    if (!photo.files.length) return;
    var body = new FormData();
    body.append("image", photo.files[0]);
    said.textContent = "Đang đọc mã trên ảnh…";
    fetch(form.getAttribute("data-decode"), {method: "POST", body: body})
      .then(function (r) {
        // A refusal written for the citizen (Content-Language: vi) is shown as it is.
        if (r.ok) return r.json();
        if (r.headers.get("Content-Language") !== "vi") return {codes: []};
        return r.json().then(function (problem) { throw problem; });
      })
      .then(function (answer) {
        var codes = answer.codes || [];
        var full = codes.filter(function (c) { return c.kind === "full"; });
        var first = (full.length ? full : codes)[0];
        if (first) {
          code.value = first.text;
          photo.value = "";
          said.textContent = "Đã đọc mã hồ sơ: " + first.text + ". Hãy nhập mã bí mật.";
          document.getElementById("bi_mat").focus();
        } else {
          said.textContent = "Không đọc được mã trên ảnh. Vui lòng chụp lại rõ hơn hoặc nhập mã.";
        }
      })
      .catch(function (problem) {
        said.textContent = (problem && problem.detail) || "Không gửi được ảnh. Vui lòng nhập mã hồ sơ.";
      });
  });
})();
