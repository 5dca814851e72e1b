// Page behaviour that htmx attributes cannot express (CSP forbids inline scripts).
(function () {
  "use strict";

  function banner() { return document.getElementById("network-error"); }

  // A request that never reached the server (weak network): keep the form as typed and say so.
  document.addEventListener("htmx:sendError", function () { banner().hidden = false; });
  document.addEventListener("htmx:timeout", function () { banner().hidden = false; });
  document.addEventListener("htmx:beforeRequest", function () { banner().hidden = true; });
  document.addEventListener("htmx:responseError", function (event) {
    var el = banner();
    el.textContent = "服务器暂时无法处理（" + event.detail.xhr.status + "），您填写的内容仍在页面上，请稍后重试。";
    el.hidden = false;
  });

  // Show the agent's fields only when an agent is opening for the customer.
  function syncAgentFields(root) {
    var fields = root.querySelector("[data-agent-fields]");
    if (!fields) { return; }
    var chosen = root.querySelector("input[name=has_agent]:checked");
    fields.hidden = !chosen || chosen.value !== "yes";
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "has_agent") { syncAgentFields(document); }
    if (event.target.name === "valid_long_term" || event.target.name === "agent_valid_long_term") {
      var prefix = event.target.name === "valid_long_term" ? "" : "agent_";
      var to = document.querySelector("input[name=" + prefix + "valid_to]");
      if (to) { to.disabled = event.target.checked; if (event.target.checked) { to.value = ""; } }
    }
  });
  // The customer's handwritten signature (witness opening): the pad writes a PNG data URL
  // into a hidden field after every stroke, so a plain or htmx submit carries it.
  function initSignature(root) {
    root.querySelectorAll("canvas[data-signature-pad]").forEach(function (canvas) {
      if (canvas.dataset.ready || typeof window.SignaturePad === "undefined") { return; }
      canvas.dataset.ready = "1";
      var form = canvas.closest("form");
      var input = form.querySelector("input[data-signature-input]");
      var pad = new window.SignaturePad(canvas, { penColor: "#111" });
      pad.addEventListener("endStroke", function () { input.value = pad.toDataURL("image/png"); });
      var clear = form.querySelector("[data-signature-clear]");
      if (clear) { clear.addEventListener("click", function () { pad.clear(); input.value = ""; }); }
    });
  }

  // The place of a witness opening: the tablet's position, only when the user allows it.
  function initGeolocation(root) {
    var status = root.querySelector("[data-geo]");
    if (!status || status.dataset.ready || !navigator.geolocation) { return; }
    status.dataset.ready = "1";
    var form = status.closest("form");
    navigator.geolocation.getCurrentPosition(function (position) {
      form.querySelector("input[name=latitude]").value = position.coords.latitude.toFixed(6);
      form.querySelector("input[name=longitude]").value = position.coords.longitude.toFixed(6);
      status.textContent = "已获取当前位置：" + position.coords.latitude.toFixed(5) + ", " + position.coords.longitude.toFixed(5);
    }, function () {
      status.textContent = "未获得定位授权，仅记录填写的见证地点";
    }, { timeout: 10000, maximumAge: 60000 });
  }

  function init(root) {
    initSignature(root);
    initGeolocation(root);
    syncAgentFields(root);
    ["", "agent_"].forEach(function (prefix) {
      var box = root.querySelector("input[name=" + prefix + "valid_long_term]");
      var to = root.querySelector("input[name=" + prefix + "valid_to]");
      if (box && to) { to.disabled = box.checked; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function () { init(document); });
})();
