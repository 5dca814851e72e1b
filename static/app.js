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
  function init(root) {
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
