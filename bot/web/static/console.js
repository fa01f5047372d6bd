// Behaviour of every console page, without inline scripts or on*= attributes: the CSP has
// no 'unsafe-inline' in script-src, so a stored value can never become a script.
//   <form data-confirm="…">            asks before submitting
//   <button data-confirm="…">          asks before its click submits
//   <button data-toggle-nav aria-controls="id">  opens/closes the navigation on a phone
//   <input type="checkbox" data-check-all="#bulk input[name=id]">  (un)checks them all
//   <div data-reload-after="5000">     reloads the page after that many ms
//   <form data-live-validate="/url">   posts the form there as the manager types and fills
//                                      [data-error-for=field] and #live-status from the answer
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.qunbotCsrfToken = csrfToken;

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (el && el.tagName !== "FORM" && !window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
    var toggle = e.target.closest ? e.target.closest("[data-toggle-nav]") : null;
    if (toggle) {
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    var all = e.target.closest ? e.target.closest("[data-check-all]") : null;
    if (all) {
      document.querySelectorAll(all.getAttribute("data-check-all")).forEach(function (c) { c.checked = all.checked; });
    }
  });

  function liveValidate(form) {
    var url = form.getAttribute("data-live-validate"), timer = null;
    var status = document.getElementById("live-status");
    function check() {
      var data = new URLSearchParams(new FormData(form));
      fetch(url, {method: "POST", body: data, headers: {"X-CSRF-Token": csrfToken()}})
        .then(function (r) { return r.json(); })
        .then(function (res) {
          form.querySelectorAll("[data-error-for]").forEach(function (el) {
            el.textContent = res.errors[el.getAttribute("data-error-for")] || "";
          });
          if (status) status.textContent = res.ok ? "✓ 检查通过" : "";
        }).catch(function () {});
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 600); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(check, 200); });
  }

  function start() {
    document.querySelectorAll("form[data-live-validate]").forEach(liveValidate);
    var reload = document.querySelector("[data-reload-after]");
    if (reload) {
      setTimeout(function () { location.reload(); }, parseInt(reload.getAttribute("data-reload-after"), 10) || 5000);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
