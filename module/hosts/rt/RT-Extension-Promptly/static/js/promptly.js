/* promptly.js - ticks the SLA countdowns of promptly's badges (added with
 * RT->AddJavaScript by 99-promptly.pm).  A badge with data-due (epoch
 * seconds, the due rt-promptly wrote) of a running metric shows
 * "due in 23m" or, once past, "overdue by 1h 5m" with the class
 * sla-breached; the same words as Elements/Promptly/Describe.  Paused,
 * met and met_late badges do not tick. */
(function () {
  "use strict";
  function dur(s) {
    s = Math.floor(Math.abs(s));
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24,
        m = Math.floor(s / 60) % 60;
    if (d) return d + "d " + h + "h";
    if (h) return m ? h + "h " + m + "m" : h + "h";
    if (m) return m + "m";
    return s + "s";
  }
  function tick() {
    var now = Date.now() / 1000;
    var els = document.querySelectorAll(".promptly-badge[data-due]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], st = el.getAttribute("data-state");
      if (st !== "running" && st !== "breached") continue;
      var diff = parseInt(el.getAttribute("data-due"), 10) - now;
      var text = diff < 0 ? "overdue by " + dur(-diff) : "due in " + dur(diff);
      var target = el.querySelector(".promptly-text");
      if (target) {
        var label = target.textContent.replace(/^.*\(/, "(");
        target.textContent = text + " " + label;
      } else {
        el.textContent = text;
      }
      if (diff < 0 && !el.classList.contains("sla-breached")) {
        el.classList.remove("sla-on_track", "sla-at_risk");
        el.classList.add("sla-breached");
      }
      el.setAttribute("data-ticks", String((parseInt(el.getAttribute("data-ticks") || "0", 10)) + 1));
    }
  }
  function start() { tick(); window.setInterval(tick, 1000); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
