/* beproduct-sync dashboard: draws the charts the server describes in data attributes and
   redraws them when htmx swaps a fragment in. No inline script anywhere (CSP script-src 'self'). */
(function () {
  "use strict";

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function eventsChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "events", data: data.values, backgroundColor: css("--chart-line"),
          borderWidth: 0, barPercentage: 1.0, categoryPercentage: 1.0 }]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: css("--muted"), maxTicksLimit: 12, autoSkip: true, maxRotation: 0 },
               grid: { display: false } },
          y: { beginAtZero: true, ticks: { color: css("--muted"), precision: 0 },
               grid: { color: css("--chart-grid") } }
        }
      }
    });
  }

  const builders = { events: eventsChart };

  function draw(root) {
    if (!window.Chart || !root || !root.querySelectorAll) { return; }
    const canvases = root.matches && root.matches("canvas[data-chart]") ? [root] : [];
    root.querySelectorAll("canvas[data-chart]").forEach(function (c) { canvases.push(c); });
    canvases.forEach(function (canvas) {
      const build = builders[canvas.dataset.chart];
      if (!build || window.Chart.getChart(canvas)) { return; }
      build(canvas, JSON.parse(canvas.dataset.series));
      canvas.dataset.drawn = "true";
    });
  }

  function forget(root) {
    if (!window.Chart || !root || !root.querySelectorAll) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const chart = window.Chart.getChart(canvas);
      if (chart) { chart.destroy(); }
    });
  }

  function staleFlag(show) {
    const flag = document.getElementById("stale-flag");
    if (flag) { flag.hidden = !show; }
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:beforeSwap", function (e) { forget(e.detail.target); });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.detail.elt); draw(document); });
  document.addEventListener("htmx:responseError", function () { staleFlag(true); });
  document.addEventListener("htmx:sendError", function () { staleFlag(true); });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) { staleFlag(false); }
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
    forget(document); draw(document);
  });
})();
