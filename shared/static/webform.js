/* Conveniences of the generated web forms (shared/templates/_webform.html); every form
   works without this script. Leaving with unsaved changes asks first; while the saved
   form is being validated and nothing was changed, the page looks again by itself. */
(function () {
  "use strict";
  function init() {
    var form = document.getElementById("webform");
    if (!form) { return; }
    var dirty = form.getAttribute("data-dirty") === "1";
    var submitting = false;
    function changed() { dirty = true; }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function () { submitting = true; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    var validating = document.getElementById("validating");
    if (validating) {
      window.setTimeout(function () {
        if (!dirty && !submitting) { window.location.reload(); }
      }, 3000);
    }
    var summary = document.getElementById("form-errors");
    if (summary && summary.getAttribute("role") === "alert") { summary.focus(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
