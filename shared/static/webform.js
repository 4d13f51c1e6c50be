/* Conveniences of the generated web forms (shared/templates/_webform.html); every form
   works without this script. Leaving with unsaved changes asks first; while the saved
   form is being validated and nothing was changed, the page looks again by itself.
   「行を追加」 and 「削除」 change the rows in the page instead of posting it: a new row is
   a copy of the table's <template> row (index 0), and the rows are renumbered after a
   removal, so the names posted are the ones the server would have rendered
   (normal_contacts[2].phone, the _row markers, ids f-normal-contacts-2-phone). */
(function () {
  "use strict";

  /* The id form of a field path, as shared.webform.anchor_for makes it (without "f-"). */
  function idPart(path) {
    return path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function escapeRe(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  var RENAMED = ["name", "id", "for", "aria-describedby", "aria-labelledby", "aria-label",
                 "list", "formaction", "data-name", "data-path"];

  /* Row `from` of table `path` (titled `title`) becomes row `to`: in names and paths
     (path[from] -> path[to]), ids (f-/r-/t-<path>-from -> ...-to) and the texts that
     number it ("<title> 3 行目"), in `nodes` and in the <template>s inside them. */
  function renumber(nodes, path, title, from, to) {
    var oldPath = path + "[" + from + "]";
    var newPath = path + "[" + to + "]";
    var ids = new RegExp("([frt]-" + escapeRe(idPart(path)) + "-)" + from + "(?=-|\\s|$)", "g");
    var oldText = title + " " + (from + 1) + " 行目";
    var newText = title + " " + (to + 1) + " 行目";
    function fix(value) {
      return value.split(oldPath).join(newPath).replace(ids, "$1" + to)
        .split(oldText).join(newText);
    }
    function walk(element) {
      RENAMED.forEach(function (attr) {
        var value = element.getAttribute(attr);
        if (value !== null) { element.setAttribute(attr, fix(value)); }
      });
      if ((element.tagName === "INPUT" && element.name === "_row") || element.tagName === "BUTTON") {
        element.value = fix(element.value);
        element.setAttribute("value", element.value);
      }
      if (element.tagName === "TEMPLATE") {
        Array.prototype.forEach.call(element.content.children, visit);
      }
    }
    function visit(root) {
      walk(root);
      root.querySelectorAll("*").forEach(walk);
      var texts = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      var node;
      while ((node = texts.nextNode())) {
        if (node.nodeValue.indexOf(oldText) >= 0) { node.nodeValue = fix(node.nodeValue); }
      }
      root.querySelectorAll(".wf-no").forEach(function (no) {
        if (no.closest("tr.wf-row") === root) { no.textContent = String(to + 1); }
      });
    }
    nodes.forEach(visit);
  }

  /* The table sections' rows: [[tr.wf-row, tr.wf-children?], ...]. */
  function rowsOf(section) {
    var body = section.querySelector(":scope > .scroll-wide > table > tbody");
    var out = [];
    Array.prototype.forEach.call(body.children, function (tr) {
      if (tr.classList.contains("wf-row")) { out.push([tr]); }
      else if (tr.classList.contains("wf-children") && out.length) { out[out.length - 1].push(tr); }
    });
    return out;
  }

  function showRows(section, any) {
    var wrap = section.querySelector(":scope > .scroll-wide");
    var empty = section.querySelector(":scope > .wf-empty");
    if (wrap) { wrap.hidden = !any; }
    if (empty) { empty.hidden = any; }
  }

  function firstField(nodes) {
    for (var i = 0; i < nodes.length; i += 1) {
      var field = nodes[i].querySelector("input:not([type=hidden]), select, textarea");
      if (field) { return field; }
    }
    return null;
  }

  function addRow(section) {
    var template = section.querySelector(":scope > template");
    var body = section.querySelector(":scope > .scroll-wide > table > tbody");
    if (!template || !body) { return false; }
    var path = section.getAttribute("data-path");
    var title = section.getAttribute("data-title");
    var count = rowsOf(section).length;
    var copy = document.importNode(template.content, true);
    var nodes = Array.prototype.slice.call(copy.children);
    renumber(nodes, path, title, 0, count);
    body.appendChild(copy);
    showRows(section, true);
    if (window.NWSOrgPicker) { nodes.forEach(window.NWSOrgPicker.enhanceIn); }
    var field = firstField(nodes);
    if (field) { field.focus(); }
    return true;
  }

  function removeRow(section, button) {
    var rows = rowsOf(section);
    var tr = button.closest("tr.wf-row");
    var index = rows.findIndex(function (r) { return r[0] === tr; });
    if (index < 0) { return false; }
    var path = section.getAttribute("data-path");
    var title = section.getAttribute("data-title");
    rows[index].forEach(function (node) { node.remove(); });
    for (var j = index + 1; j < rows.length; j += 1) {
      renumber(rows[j], path, title, j, j - 1);
    }
    var left = rows.length - 1;
    showRows(section, left > 0);
    var next = left > 0 ? firstField(rows[Math.min(index + 1, left)]) : null;
    (next || section.querySelector(":scope > p > button[value^='add:']")).focus();
    return true;
  }

  function init() {
    var form = document.getElementById("webform");
    if (!form) { return; }
    var dirty = form.getAttribute("data-dirty") === "1";
    var submitting = false;
    function changed(event) {
      // typing in an organisation search is not a change of the form
      if (event && event.target.closest && event.target.closest(".org-search-fields")) { return; }
      dirty = true;
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=_action]");
      if (!button) { return; }
      var section = button.closest("section.wf-table[data-path]");
      if (!section) { return; }
      var done = false;
      if (button.value.indexOf("add:") === 0) { done = addRow(section); }
      else if (button.value.indexOf("remove:") === 0) { done = removeRow(section, button); }
      if (done) {
        event.preventDefault();
        dirty = true;
      }
    });
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
