// The query page works without this file. With it, Ctrl+Enter (Cmd+Enter on a Mac) in the editor
// runs the query, and "a table on this page" leaves format= out of the URL, so links stay short.
(function () {
  "use strict";
  function ready() {
    var form = document.getElementById("query-form");
    if (!form) {
      return;
    }
    var editor = form.querySelector("textarea[name=query]");
    var format = form.querySelector("select[name=format]");
    if (editor) {
      editor.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          if (form.requestSubmit) {
            form.requestSubmit();
          } else {
            form.submit();
          }
        }
      });
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.title = "Ctrl+Enter in the editor runs the query too";
      }
    }
    if (format) {
      form.addEventListener("submit", function () {
        if (format.value === "") {
          format.disabled = true;  // a disabled control is not submitted
        }
      });
      // Coming back to the page from the answer (back button, page cache) must find it usable.
      window.addEventListener("pageshow", function () {
        format.disabled = false;
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
