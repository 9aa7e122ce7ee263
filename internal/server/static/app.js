// keyage dashboard: small enhancements only; every page works without it.
(function () {
  "use strict";

  // Filters: submit when the stage changes.
  var filters = document.getElementById("filters");
  if (filters) {
    var stage = filters.querySelector("select[name=stage]");
    if (stage) {
      stage.addEventListener("change", function () { filters.submit(); });
    }
  }

  // Scan progress: poll the status API while a scan runs, reload when done.
  var progress = document.getElementById("scan-progress");
  if (progress && progress.dataset.running === "true") {
    var timer = setInterval(function () {
      fetch("/api/v1/status", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          if (!s.scan.running) {
            clearInterval(timer);
            window.location.reload();
            return;
          }
          document.getElementById("scan-done").textContent = s.scan.done;
          document.getElementById("scan-total").textContent = s.scan.total;
          var pct = s.scan.total > 0 ? Math.min(100, Math.floor(100 * s.scan.done / s.scan.total)) : 0;
          document.getElementById("scan-meter").setAttribute("width", String(pct));
        })
        .catch(function () {});
    }, 2000);
  }

  // Times: show in the browser's time zone as a tooltip.
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = d.toLocaleString(); }
  });
})();
