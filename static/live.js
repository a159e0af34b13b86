// Livestream enhancements; every page works without them.
// 1. A countdown beside a link's end time ([data-countdown] holds the end in ms since
//    1970, UTC); the server refuses orders after the end whatever the clock here says.
// 2. A live dashboard ([data-live-events] holds its event stream): each `figures` event
//    carries every link's figures, written into the cells marked data-figure="id.name".
(function () {
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Number(el.dataset.countdown) - Date.now()) / 1000));
      el.textContent = pad(Math.floor(left / 3600)) + ":" + pad(Math.floor(left / 60) % 60) + ":" + pad(left % 60);
    });
  }
  function set(key, value) {
    document.querySelectorAll('[data-figure="' + key + '"]').forEach(function (el) {
      el.textContent = String(value);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-countdown]")) {
      tick();
      setInterval(tick, 1000);
    }
    var board = document.querySelector("[data-live-events]");
    if (board && window.EventSource) {
      var source = new EventSource(board.dataset.liveEvents);
      source.addEventListener("figures", function (event) {
        var figures = JSON.parse(event.data);
        figures.items.forEach(function (item) {
          Object.keys(item).forEach(function (name) { set(item.id + "." + name, item[name]); });
        });
        Object.keys(figures.total).forEach(function (name) { set("total." + name, figures.total[name]); });
        board.dataset.updated = String(Date.now());
        // Off air: these are the last figures; the stream ends and is not opened again.
        if (figures.status !== "live") {
          source.close();
        }
      });
    }
  });
})();
