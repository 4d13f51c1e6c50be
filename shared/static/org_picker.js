/* The organisation picker (shared/templates/_org_picker.html), searched as one types.
   Without this script the picker works as it is: 「検索」 posts the form and the page
   comes back with the matches. With it, a picker that has data-search-url asks that URL
   (?pref=&q=, JSON {items, total}) and offers the matches in place; a match that is
   ticked moves to the chosen ones, so a new search never loses it.
   window.NWSOrgPicker.enhanceIn(root) enhances the pickers a script adds later (a row
   added by webform.js); a picker's name is read when used, as rows are renumbered. */
(function () {
  "use strict";

  function label(kind, name, org, checked) {
    var l = document.createElement("label");
    l.className = "org-choice";
    var input = document.createElement("input");
    input.type = kind;
    input.name = name;
    input.value = org.id;
    input.checked = !!checked;
    var code = document.createElement("span");
    code.className = "org-code";
    code.textContent = org.id;
    l.appendChild(input);
    l.appendChild(document.createTextNode(" " + org.name + " "));
    l.appendChild(code);
    return l;
  }

  function enhance(picker) {
    if (picker.getAttribute("data-enhanced")) { return; }
    picker.setAttribute("data-enhanced", "1");
    var url = picker.getAttribute("data-search-url");
    var kind = picker.getAttribute("data-kind");
    var pref = picker.querySelector(".org-pref");
    var q = picker.querySelector(".org-q");
    var button = picker.querySelector(".org-search-button");
    var results = picker.querySelector(".org-results");
    var chosen = picker.querySelector(".org-chosen");
    var timer = null;
    var asked = 0;

    function chosenIds() {
      var ids = {};
      chosen.querySelectorAll("input").forEach(function (i) { ids[i.value] = true; });
      return ids;
    }

    function search() {
      var params = new URLSearchParams({ pref: pref.value, q: q.value.trim() });
      if (picker.getAttribute("data-applying")) { params.set("applying", "1"); }
      var ticket = ++asked;
      results.textContent = "検索しています…";
      fetch(url + "?" + params.toString(), { credentials: "same-origin",
                                             headers: { Accept: "application/json" } })
        .then(function (res) {
          if (!res.ok) { throw new Error(String(res.status)); }
          return res.json();
        })
        .then(function (data) {
          if (ticket !== asked) { return; }
          var have = chosenIds();
          var items = data.items.filter(function (o) { return !have[o.id]; });
          results.textContent = "";
          var note = document.createElement("p");
          note.className = "small";
          note.textContent = items.length
            ? data.total + "件" + (data.total > data.items.length
                ? "（先頭の" + data.items.length + "件を表示。都道府県や名称で絞り込んでください）" : "")
              + "。一覧から選んでください。"
            : "該当する機関はありません。";
          results.appendChild(note);
          var name = picker.getAttribute("data-name");
          items.forEach(function (o) { results.appendChild(label(kind, name, o, false)); });
        })
        .catch(function () {
          if (ticket === asked) {
            results.textContent = "検索できませんでした。「検索」ボタンを押してください。";
          }
        });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    }

    q.addEventListener("input", later);
    pref.addEventListener("change", search);
    q.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); search(); }
    });
    button.addEventListener("click", function (e) { e.preventDefault(); search(); });
    results.addEventListener("change", function (e) {
      var input = e.target;
      if (!input.checked) { return; }
      var none = chosen.querySelector(".org-none");
      if (none) { none.remove(); }
      if (kind === "radio") {   // one organisation: the new one replaces the chosen
        chosen.querySelectorAll("label").forEach(function (l) { l.remove(); });
      }
      chosen.appendChild(input.closest("label"));
    });
  }

  function enhanceIn(root) {
    root.querySelectorAll("fieldset.org-picker[data-search-url]").forEach(enhance);
  }

  window.NWSOrgPicker = { enhanceIn: enhanceIn };
  document.addEventListener("DOMContentLoaded", function () { enhanceIn(document); });
})();
