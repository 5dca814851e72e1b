// Page behaviour that htmx attributes cannot express (CSP forbids inline scripts).
(function () {
  "use strict";

  function banner() { return document.getElementById("network-error"); }

  // A request that never reached the server (weak network): keep the form as typed and say so.
  document.addEventListener("htmx:sendError", function () { banner().hidden = false; });
  document.addEventListener("htmx:timeout", function () { banner().hidden = false; });
  document.addEventListener("htmx:beforeRequest", function () { banner().hidden = true; });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var el = banner();
    if (xhr.status === 401) {
      sessionExpired(event.detail.elt, xhr.getResponseHeader("X-Login-Url"));
      return;
    }
    if (xhr.status === 503) {
      // The database was busy or out of reach: nothing is swapped (the form stays as typed); the
      // server's banner says whether the work was saved, and Retry-After how long to wait.
      el.textContent = serverMessage(xhr) || "数据库繁忙，请稍后重试。您填写的内容仍在页面上。";
      el.hidden = false;
      el.scrollIntoView({ block: "start" });
      return;
    }
    el.textContent = "服务器暂时无法处理（" + xhr.status + "），您填写的内容仍在页面上，请稍后重试。";
    el.hidden = false;
  });

  // The text of an error banner the server sent (errors/_banner.html), as text: never inserted as HTML.
  function serverMessage(xhr) {
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var alert = doc.querySelector("[role=alert]");
      var text = alert && alert.textContent.trim();
      var wait = parseInt(xhr.getResponseHeader("Retry-After") || "", 10);
      if (text && wait > 0) { text += "（约 " + wait + " 秒后可重试）"; }
      return text;
    } catch (e) {
      return "";
    }
  }

  // The session ended (idle timeout, or a logout in another tab) while a form was open:
  // keep what was typed in this tab, send the clerk to log in, and refill the form on return.
  var UNSAVED = "unsaved-form:";
  function sessionExpired(elt, loginUrl) {
    var form = elt && (elt.tagName === "FORM" ? elt : elt.closest("form"));
    if (form && window.sessionStorage) {
      var values = [];
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name || input.type === "file" || input.type === "password" || input.name === "csrf_token") { return; }
        if ((input.type === "checkbox" || input.type === "radio")) {
          values.push([input.name, input.value, input.checked]);
        } else {
          values.push([input.name, input.value, null]);
        }
      });
      sessionStorage.setItem(UNSAVED + location.pathname, JSON.stringify({ form: form.id || form.getAttribute("action"), values: values }));
    }
    var el = banner();
    el.textContent = "";
    el.appendChild(document.createTextNode("登录已失效，请重新登录。您填写的内容已暂存在本页，重新登录后将回到此处并自动填回。 "));
    var link = document.createElement("a");
    link.href = loginUrl || "/auth/login";
    link.textContent = "重新登录";
    link.className = "button primary";
    el.appendChild(link);
    el.hidden = false;
    el.scrollIntoView({ block: "start" });
  }

  function restoreUnsaved(root) {
    if (!window.sessionStorage) { return; }
    var key = UNSAVED + location.pathname;
    var saved = sessionStorage.getItem(key);
    if (!saved) { return; }
    var data;
    try { data = JSON.parse(saved); } catch (e) { sessionStorage.removeItem(key); return; }
    var form = (data.form && document.getElementById(data.form)) || root.querySelector("#step-panel form") || root.querySelector("main form");
    if (!form) { return; }
    sessionStorage.removeItem(key);
    data.values.forEach(function (entry) {
      var name = entry[0], value = entry[1], checked = entry[2];
      Array.prototype.forEach.call(form.elements, function (input) {
        if (input.name !== name) { return; }
        if (checked !== null) {
          if (input.value === value) { input.checked = checked; }
        } else if (input.type !== "file") {
          input.value = value;
        }
      });
    });
    var note = document.createElement("p");
    note.className = "banner banner-warning";
    note.id = "restored-unsaved";
    note.setAttribute("role", "status");
    note.textContent = "已填回登录失效前未保存的内容，请核对后保存。";
    form.parentNode.insertBefore(note, form);
  }

  // After a step is swapped in: show the page from its top, or the first error when the save was refused.
  var focusedAtSwap = null;
  document.addEventListener("htmx:afterSwap", function () { focusedAtSwap = document.activeElement; });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    // An outerHTML swap replaced the target: look at its successor of the same id.
    if (target && !document.body.contains(target) && target.id) { target = document.getElementById(target.id); }
    if (!target) { return; }
    // The first field in error comes before a banner summing the errors up.
    var firstError = target.querySelector(".has-error") || target.querySelector(".field-error, [role=alert].banner-error");
    // Someone who went into a field of the new content before it settled (typing the moment it arrived)
    // keeps it: their keystrokes would otherwise land in the field moved to. A field htmx itself gave
    // the focus back to (Enter pressed in it) still gives way to the first error.
    var active = document.activeElement;
    if (active && active !== focusedAtSwap && target.contains(active) && active.matches("input, select, textarea")) {
      return;
    }
    if (firstError) {
      firstError.scrollIntoView({ block: "start" });
      var input = firstError.querySelector("input:not([type=hidden]), select, textarea");
      if (input) { input.focus({ preventScroll: true }); }
    } else if (target.id === "wizard") {
      window.scrollTo(0, 0);
    }
  });

  // An option that excludes the others ("以上均不存在"): ticking it clears them, and back.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked || !box.closest(".question")) { return; }
    box.closest(".question").querySelectorAll("input[type=checkbox]").forEach(function (other) {
      if (other !== box && (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive"))) { other.checked = false; }
    });
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
      // Show the signature already given (kept after a refused save, or saved earlier).
      if (input.value && input.value.indexOf("data:image/png") === 0) {
        pad.fromDataURL(input.value);
      } else if (canvas.dataset.signatureImage) {
        pad.fromDataURL(canvas.dataset.signatureImage);
      }
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

  // The header's customer search (ARIA combobox): arrows move through the suggestions,
  // Enter opens the one chosen (or posts the query to the results page), Esc closes them.
  function searchParts(el) {
    var form = el && el.closest && el.closest("form[data-customer-search]");
    if (!form) { return null; }
    return { form: form, input: form.querySelector("input[role=combobox]"), panel: form.querySelector(".search-panel") };
  }
  function searchOptions(parts) { return Array.prototype.slice.call(parts.panel.querySelectorAll("[role=option]")); }
  function setSearchOpen(parts, open) {
    parts.panel.hidden = !open;
    parts.input.setAttribute("aria-expanded", open && parts.panel.querySelector("[role=listbox]") ? "true" : "false");
    if (!open) { setSearchActive(parts, null); }
  }
  function setSearchActive(parts, option) {
    searchOptions(parts).forEach(function (other) {
      other.classList.toggle("is-active", other === option);
      other.setAttribute("aria-selected", other === option ? "true" : "false");
    });
    if (option) {
      parts.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      parts.input.removeAttribute("aria-activedescendant");
    }
  }
  function openSearchOption(parts, option) {
    if (option.hasAttribute("data-more")) { parts.form.submit(); return; }
    var link = option.querySelector("a[href]");
    if (link) { window.location.assign(link.href); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.target.getAttribute("role") !== "combobox") { return; }
    var parts = searchParts(event.target);
    if (!parts) { return; }
    var options = searchOptions(parts);
    var active = parts.panel.querySelector("[role=option].is-active");
    var index = options.indexOf(active);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) { return; }
      event.preventDefault();
      setSearchOpen(parts, true);
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = index < 0 ? (step > 0 ? 0 : options.length - 1) : (index + step + options.length) % options.length;
      setSearchActive(parts, options[next]);
    } else if (event.key === "Enter") {
      if (active && !parts.panel.hidden) {
        event.preventDefault();
        openSearchOption(parts, active);
      } else if (!parts.input.value.trim()) {
        event.preventDefault();
      }
    } else if (event.key === "Escape") {
      if (!parts.panel.hidden) { event.preventDefault(); setSearchOpen(parts, false); }
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var parts = searchParts(event.detail.target);
    if (!parts || event.detail.target !== parts.panel) { return; }
    setSearchActive(parts, null);
    setSearchOpen(parts, parts.panel.children.length > 0);
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("form[data-customer-search]").forEach(function (form) {
      if (!form.contains(event.target)) { setSearchOpen(searchParts(form), false); }
    });
  });
  document.addEventListener("focusin", function (event) {
    var parts = searchParts(event.target);
    if (parts && event.target === parts.input && parts.panel.children.length) { setSearchOpen(parts, true); }
  });

  function init(root) {
    restoreUnsaved(root);
    initSignature(root);
    initGeolocation(root);
    syncAgentFields(root);
    ["", "agent_"].forEach(function (prefix) {
      var box = root.querySelector("input[name=" + prefix + "valid_long_term]");
      var to = root.querySelector("input[name=" + prefix + "valid_to]");
      if (box && to) { to.disabled = box.checked; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    // A full page load that lands on an error (a refused plain post): show it.
    var firstError = document.querySelector("#step-panel .has-error, #step-panel .field-error");
    if (firstError) { firstError.scrollIntoView({ block: "start" }); }
  });
  document.addEventListener("htmx:afterSettle", function () { init(document); });
  // Header menus: one open at a time; a tap or click elsewhere, or Escape, closes it.
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (menu.matches && menu.matches("details[data-menu]") && menu.open) { closeMenus(menu); }
  }, true);
  document.addEventListener("click", function (event) {
    var inside = event.target.closest && event.target.closest("details[data-menu]");
    closeMenus(inside);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("details[data-menu][open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });
})();
