// lothub web application: the only script. It tells the hub the
// browser's time zone (a cookie the pages read to show times), and asks
// before actions marked with data-confirm.
(function () {
  "use strict";
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz) {
      var had = document.cookie.split("; ").some(function (c) { return c === "tz=" + encodeURIComponent(tz); });
      document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Strict";
      var zone = document.getElementById("zone");
      // First visit in this zone: show the page again in it, once.
      if (!had && zone && zone.textContent !== tz && document.cookie.indexOf("tz=") >= 0 && !sessionStorage.getItem("tz-reloaded")) {
        sessionStorage.setItem("tz-reloaded", "1");
        location.reload();
      }
    }
  } catch (e) { /* no Intl: times stay in UTC, and say so */ }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });
})();
