// Loyalist pages: small charts (plotly.js served by the app itself) and upload progress.
function lineChart(id, rows, x, y, label, yformat) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  if (!rows || !rows.length) { el.textContent = "No data yet."; return; }
  Plotly.newPlot(el, [{x: rows.map(r => r[x]), y: rows.map(r => r[y]), mode: "lines+markers",
                        name: label}],
                 {margin: {l: 40, r: 10, t: 10, b: 40},
                  yaxis: yformat ? {title: label, tickformat: yformat} : {title: label}},
                 {displayModeBar: false, responsive: true});
}

function lossChart(id, rows, target) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined" || !rows.length) return;
  const x = rows.map(r => r.period);
  Plotly.newPlot(el, [
    {x: x, y: rows.map(r => r.annualised_loss_rate), mode: "lines+markers", name: "customers"},
    {x: x, y: x.map(() => target), mode: "lines", name: "target",
     line: {dash: "dash", color: "#b42318"}}],
    {margin: {l: 50, r: 10, t: 10, b: 40}, yaxis: {tickformat: ".0%"}},
    {displayModeBar: false, responsive: true});
}

function cohortChart(id, rows) {
  // one line per acquisition cohort: share still a customer after n months
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined" || !rows || !rows.length) return;
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
