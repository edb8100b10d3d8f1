// The console's live parts, and nothing else: pages work without this file.
// - an execution page swaps in its changing part on each event of the run's event stream
//   (EventSource, authenticated by the session cookie), and polls while no stream is open
//   but a change is expected (just after Retry or Cancel);
// - the executions list re-reads its rows every few seconds.
"use strict";

(function () {
  var FRAGMENT = { "X-Console-Fragment": "1" };
  var EVENTS = ["node.started", "node.waiting", "node.completed", "node.failed",
    "node.interrupted", "node.cancelled", "node.skipped",
    "execution.completed", "execution.failed", "execution.cancelled"];

  function fetchFragment(url) {
    return fetch(url, { headers: FRAGMENT, credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    });
  }

  function swap(target, html) {
    if (target.innerHTML.trim() === html.trim()) { return false; }
    // What the reader opened and where the keyboard was stay as they were.
    var focusedId = document.activeElement && document.activeElement.id;
    var opened = Array.prototype.map.call(
      target.querySelectorAll("details[id]"), function (d) { return d.open ? d.id : ""; });
    target.innerHTML = html;
    opened.forEach(function (id) {
      var details = id && document.getElementById(id);
      if (details) { details.open = true; }
    });
    if (focusedId) {
      var again = document.getElementById(focusedId);
      if (again) { again.focus(); }
    }
    return true;
  }

  function followExecution(live) {
    var source = null;
    var timer = null;
    var pending = false;
    var expectUntil = live.dataset.expectChange ? Date.now() + 60000 : 0;

    function isFinal() {
      var state = live.querySelector(".live-state");
      return state !== null && state.dataset.final === "true";
    }

    function refresh() {
      pending = false;
      fetchFragment(live.dataset.liveUrl).then(function (html) {
        swap(live, html);
        settle();
      }).catch(function () { /* the next event or poll tries again */ });
    }

    function soon() {
      // Events replayed at connect come in bursts: one read for the lot.
      if (!pending) { pending = true; window.setTimeout(refresh, 150); }
    }

    function settle() {
      if (!isFinal()) {
        expectUntil = 0;
        if (source === null) {
          source = new EventSource(live.dataset.eventsUrl);
          EVENTS.forEach(function (name) { source.addEventListener(name, soon); });
        }
      } else if (source !== null) {
        source.close();
        source = null;
      }
      var polling = (source === null && Date.now() < expectUntil) ||
        (source !== null && source.readyState === EventSource.CLOSED);
      window.clearTimeout(timer);
      // A stream's events are best effort: a slow poll beside it catches anything missed.
      timer = window.setTimeout(refresh, polling ? 1000 : 5000);
      if (isFinal() && !polling) { window.clearTimeout(timer); }
    }

    settle();
  }

  function followRows(rows) {
    window.setInterval(function () {
      if (document.hidden) { return; }
      fetchFragment(rows.dataset.liveRows).then(function (html) { swap(rows, html); })
        .catch(function () {});
    }, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live) { followExecution(live); }
    var rows = document.getElementById("rows");
    if (rows) { followRows(rows); }
  });
})();
