// Refreshes a page's status area (#status) in place while something in it is queued or running, so the rest of
// the page, a chosen file among it, stays as it is. The server renders the area (its data-status-url); this only
// swaps it in. Without scripts, the page's <noscript> meta refresh reloads the whole page instead.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var failures = 0;

  function period() {
    // The area says how often while it shows something unfinished (data-active, seconds); else it is final.
    var active = box.querySelector("[data-active]");
    return active ? Number(active.getAttribute("data-active")) : 0;
  }

  function schedule(seconds) {
    if (seconds > 0) {
      window.setTimeout(refresh, seconds * 1000);
    }
  }

  function refresh() {
    var seconds = period();
    window
      .fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          throw new Error("final"); // signed out or gone: a reload shows why
        }
        if (!response.ok) {
          throw new Error("retry");
        }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html; // server-rendered and escaped there
        failures = 0;
        box.setAttribute("data-refreshes", String(Number(box.getAttribute("data-refreshes") || 0) + 1));
        schedule(period());
      })
      .catch(function (error) {
        if (error.message !== "final") {
          failures += 1; // the server restarting, the network gone: ask again, less often
          schedule(Math.min(seconds * Math.pow(2, failures), 60));
        }
      });
  }

  schedule(period());
})();
