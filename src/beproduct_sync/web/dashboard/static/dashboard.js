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

  function dayLabel(origin, days) {
    const d = new Date(origin + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + Math.round(days));
    return d.toISOString().slice(0, 10);
  }

  // A vertical line at the plan's end date (Chart.js has no built-in annotation).
  const planEndLine = {
    id: "planEnd",
    afterDatasetsDraw: function (chart, _args, options) {
      if (options.day === null || options.day === undefined) { return; }
      const x = chart.scales.x.getPixelForValue(options.day);
      const area = chart.chartArea;
      if (x < area.left || x > area.right) { return; }  // the plan ends outside this chart
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = css("--bad");
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.fillStyle = css("--bad");
      ctx.fillText("plan end", Math.min(x + 4, area.right - 50), area.top + 10);
      ctx.restore();
    }
  };

  function ganttChart(canvas, data) {
    const projectedColours = data.late.map(function (late) {
      return late ? css("--bad") : css("--chart-line");
    });
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "planned", data: data.planned, backgroundColor: css("--s-not_started"),
            borderWidth: 0, barPercentage: 0.9, categoryPercentage: 0.8 },
          { label: "projected", data: data.projected, backgroundColor: projectedColours,
            borderWidth: 0, barPercentage: 0.9, categoryPercentage: 0.8 }
        ]
      },
      plugins: [planEndLine],
      options: {
        indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          planEnd: { day: data.plan_end },
          legend: { labels: { color: css("--fg") } },
          tooltip: { callbacks: { label: function (item) {
            const v = item.raw;
            if (!v) { return item.dataset.label + ": no dates"; }
            return item.dataset.label + ": " + dayLabel(data.origin, v[0]) + " → " +
              dayLabel(data.origin, v[1]);
          } } }
        },
        scales: {
          x: { type: "linear", ticks: { color: css("--muted"), maxTicksLimit: 10,
                 callback: function (v) { return dayLabel(data.origin, v); } },
               grid: { color: css("--chart-grid") } },
          y: { ticks: { color: css("--fg"), autoSkip: false }, grid: { display: false } }
        }
      }
    });
  }

  const builders = { events: eventsChart, gantt: ganttChart };

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
