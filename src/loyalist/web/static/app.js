// Loyalist pages: small charts (plotly.js served by the app itself) and upload progress.
// Dates on the x axis hold for one point and for several on one day: a date axis would
// spread one point over sub-millisecond ticks and draw same-day points as a vertical
// line, so those are shown as labelled categories ("2025-01-01 (2)") instead.
function xAxisOf(xs) {
  const days = xs.map(v => String(v).slice(0, 10));
  const distinct = new Set(days).size;
  if (distinct === xs.length && distinct > 1) return {x: xs, axis: {}};
  const seen = {};
  const labels = days.map(d => { seen[d] = (seen[d] || 0) + 1;
                                 return days.filter(e => e === d).length > 1 ? d + " (" + seen[d] + ")" : d; });
  return {x: labels, axis: {type: "category"}};
}

function emptyChart(el) { el.style.height = "auto"; el.textContent = ""; }

function lineChart(id, rows, x, y, label, yformat) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { emptyChart(el); return; }
  const ax = xAxisOf(rows.map(r => r[x]));
  const ys = rows.map(r => r[y]);
  const yaxis = {title: label};
  if (yformat) {
    yaxis.tickformat = yformat;
    if (yformat.endsWith("%") && ys.every(v => v >= 0 && v <= 1)) yaxis.range = [0, 1.02];
  }
  Plotly.newPlot(el, [{x: ax.x, y: ys, mode: rows.length > 1 ? "lines+markers" : "markers",
                       name: label, marker: {size: 8}}],
                 {margin: {l: 50, r: 10, t: 10, b: 50}, xaxis: ax.axis, yaxis: yaxis},
                 {displayModeBar: false, responsive: true});
}

function lossChart(id, rows, target) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { emptyChart(el); return; }
  const ax = xAxisOf(rows.map(r => r.period));
  Plotly.newPlot(el, [
    {x: ax.x, y: rows.map(r => r.annualised_loss_rate), mode: rows.length > 1 ? "lines+markers" : "markers",
     name: "customers"},
    {x: ax.x, y: ax.x.map(() => target), mode: "lines", name: "target",
     line: {dash: "dash", color: "#b42318"}}],
    {margin: {l: 50, r: 10, t: 10, b: 40}, xaxis: ax.axis, yaxis: {tickformat: ".0%", rangemode: "tozero"}},
    {displayModeBar: false, responsive: true});
}

function cohortChart(id, rows) {
  // one line per acquisition cohort: share still a customer after n months
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { emptyChart(el); return; }
  const cohorts = [...new Set(rows.map(r => r.cohort))];
  const traces = cohorts.map(c => {
    const mine = rows.filter(r => r.cohort === c);
    return {x: mine.map(r => r.months), y: mine.map(r => r.retained), mode: "lines",
            name: String(c).slice(0, 7) + " (" + mine[0].customers + ")"};
  });
  Plotly.newPlot(el, traces, {margin: {l: 50, r: 10, t: 10, b: 40},
                              xaxis: {title: "months since first purchase"},
                              yaxis: {tickformat: ".0%", range: [0, 1.02]}},
                 {displayModeBar: false, responsive: true});
}

const QUADRANT_COLOURS = {"concentrate here": "#c0392b", "keep up the good work": "#1e8449",
                          "low priority": "#7f8c8d", "possible overkill": "#e07b39"};

function quadrantChart(id, rows) {
  // importance-performance map: one point per attribute with 95% intervals, the
  // averages as cross-hairs, the four quadrants named in their corners
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { emptyChart(el); return; }
  const names = Object.keys(QUADRANT_COLOURS);
  const traces = names.map(q => {
    const mine = rows.filter(r => r.quadrant === q);
    return {x: mine.map(r => r.performance), y: mine.map(r => r.importance), name: q,
            text: mine.map(r => r.label), mode: "markers+text", textposition: "top right",
            marker: {color: QUADRANT_COLOURS[q], size: 9},
            error_x: {type: "data", symmetric: false, thickness: 1, width: 2,
                      array: mine.map(r => r.performance_high - r.performance),
                      arrayminus: mine.map(r => r.performance - r.performance_low)},
            error_y: {type: "data", symmetric: false, thickness: 1, width: 2,
                      array: mine.map(r => r.importance_high - r.importance),
                      arrayminus: mine.map(r => r.importance - r.importance_low)},
            hovertemplate: "%{text}<br>get %{x:.2f}, want %{y:.2f}<extra>" + q + "</extra>"};
  }).filter(t => t.x.length);
  const lows = rows.flatMap(r => [r.performance_low, r.importance_low]);
  const highs = rows.flatMap(r => [r.performance_high, r.importance_high]);
  const range = [Math.min(...lows) - 0.3, Math.max(...highs) + 0.3];
  const cx = rows[0].centre_performance, cy = rows[0].centre_importance;
  const dash = {color: "#9ca3af", width: 1, dash: "dash"};
  const corner = (x, y, xa, ya, q) => ({xref: "paper", yref: "paper", x: x, y: y, xanchor: xa,
                                        yanchor: ya, text: q, showarrow: false,
                                        font: {color: QUADRANT_COLOURS[q], size: 11}});
  Plotly.newPlot(el, traces, {
    margin: {l: 50, r: 10, t: 10, b: 45}, showlegend: false,
    xaxis: {title: "performance (how well you deliver)", range: range},
    yaxis: {title: "importance (how much customers care)", range: range},
    shapes: [{type: "line", x0: cx, x1: cx, yref: "paper", y0: 0, y1: 1, line: dash},
             {type: "line", y0: cy, y1: cy, xref: "paper", x0: 0, x1: 1, line: dash}],
    annotations: [corner(0, 1, "left", "top", "concentrate here"),
                  corner(1, 1, "right", "top", "keep up the good work"),
                  corner(0, 0, "left", "bottom", "low priority"),
                  corner(1, 0, "right", "bottom", "possible overkill")]},
    {displayModeBar: false, responsive: true});
}

function barsChart(id, rows, x, y, label) {
  // horizontal bars, largest on top, with intervals from the rows' low and high
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { emptyChart(el); return; }
  const r = rows.slice().reverse();
  Plotly.newPlot(el, [{type: "bar", orientation: "h", x: r.map(d => d[x]), y: r.map(d => d[y]),
                       marker: {color: "#1f6feb"},
                       error_x: {type: "data", symmetric: false, thickness: 1, width: 3,
                                 array: r.map(d => d.high - d[x]),
                                 arrayminus: r.map(d => d[x] - d.low)},
                       text: r.map(d => d.share == null ? "" : Math.round(100 * d.share) + "%"),
                       textposition: "outside", cliponaxis: false,
                       hovertemplate: "%{y}: %{x:.3f}<extra></extra>"}],
                 {margin: {l: 10, r: 40, t: 10, b: 50}, yaxis: {automargin: true},
                  xaxis: {title: label, rangemode: "tozero"}},
                 {displayModeBar: false, responsive: true});
}

// Charts are declared in the page (data-chart on a div, its rows in a JSON script block
// beside it): no inline script, so the Content-Security-Policy can forbid it.
function drawCharts() {
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    const source = document.getElementById(el.id + "-data");
    const rows = source ? JSON.parse(source.textContent) : [];
    const d = el.dataset;
    if (d.chart === "line") lineChart(el.id, rows, d.x, d.y, d.label, d.format);
    else if (d.chart === "loss") lossChart(el.id, rows, Number(d.target));
    else if (d.chart === "cohorts") cohortChart(el.id, rows);
    else if (d.chart === "quadrants") quadrantChart(el.id, rows);
    else if (d.chart === "bars") barsChart(el.id, rows, d.x, d.y, d.label);
  });
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawCharts);
else drawCharts();

(function () {
  const form = document.getElementById("upload");
  if (!form || !window.XMLHttpRequest) return;
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const xhr = new XMLHttpRequest();
    bar.hidden = false;
    xhr.upload.onprogress = e => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
    xhr.upload.onload = () => { status.textContent = "Uploaded; checking and ingesting…"; };
    xhr.onload = () => {
      if (xhr.responseURL && xhr.status < 400) { window.location = xhr.responseURL; return; }
      document.open(); document.write(xhr.responseText); document.close();
    };
    xhr.onerror = () => { status.textContent = "The upload failed; try again."; };
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
})();
