/* The applicant's application page, while files are being read and validated: looks
   at the page again every few seconds and puts the new file list and form results in
   place, so the polite live region announces the progress. Without JavaScript the page
   offers its 「最新の状態に更新」 link instead; nothing here is needed to use it. */
(function () {
  "use strict";
  var INTERVAL_MS = 3000, GIVE_UP_MS = 15 * 60 * 1000;

  function swap(current, fresh, id) {
    var now = current.getElementById(id), next = fresh.getElementById(id);
    if (now && next) { now.replaceWith(document.importNode(next, true)); }
  }

  function start() {
    var status = document.getElementById("upload-status");
    if (!status || status.getAttribute("data-busy") !== "1" || !window.fetch) { return; }
    var began = Date.now();
    var link = document.getElementById("refresh-link");
    if (link) { link.hidden = true; }
    function poll() {
      fetch(window.location.pathname, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (res) { return res.ok ? res.text() : Promise.reject(res.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var next = fresh.getElementById("upload-status");
          if (!next) { return; }
          // the live region stays the same element: only its words change (announced)
          var live = document.getElementById("upload-progress");
          var nextLive = fresh.getElementById("upload-progress");
          if (live && nextLive) {
            live.className = nextLive.className;
            live.replaceChildren.apply(live, Array.prototype.map.call(
              nextLive.childNodes, function (n) { return document.importNode(n, true); }));
          }
          swap(document, fresh, "upload-list");
          swap(document, fresh, "form-results");
          var busy = next.getAttribute("data-busy") === "1";
          status.setAttribute("data-busy", busy ? "1" : "0");
          var again = document.getElementById("refresh-link");
          if (busy && again) { again.hidden = true; }
          if (busy && Date.now() - began < GIVE_UP_MS) { window.setTimeout(poll, INTERVAL_MS); }
          else if (again) { again.hidden = false; }
        })
        .catch(function () {
          var again = document.getElementById("refresh-link");
          if (again) { again.hidden = false; }
        });
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
