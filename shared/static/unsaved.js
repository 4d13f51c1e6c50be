/* A form with data-unsaved-warning: once something in it changes, leaving the page
   other than by submitting that form asks first (the browser's own 「このサイトを離れます
   か？」). Without this script nothing is lost either way that matters: the page's
   buttons that make forms save the choices first. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-unsaved-warning]").forEach(function (form) {
      var dirty = false;
      form.addEventListener("change", function (e) {
        // searching for an organisation changes nothing that is saved
        if (e.target.closest(".org-search-fields")) { return; }
        dirty = true;
      });
      form.addEventListener("submit", function () { dirty = false; });
      window.addEventListener("beforeunload", function (e) {
        if (dirty) { e.preventDefault(); e.returnValue = ""; }
      });
    });
  });
})();
