// Dashboard charts (Chart.js). Data comes from the json_script block "dashboard-data"; amounts are whole đồng.
(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const labels = document.getElementById("dashboard-labels").dataset;
  const million = (value) => Math.round(value / 1e6);
  const palette = ["#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#dc3545", "#6c757d"];
  // Axis ticks and tooltips group digits as the page's language does: 6.000 in Vietnamese, 6,000 in English.
  const locale = labels.locale || "vi-VN";
  Chart.defaults.locale = locale;
  const number = new Intl.NumberFormat(locale);
  const money = (context) => `${context.dataset.label}: ${number.format(context.parsed.y ?? context.parsed)} ${labels.million}`;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function bars(id, chart, options = {}) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: [
          { label: labels.outstanding, data: chart.outstanding.map(million), backgroundColor: "#0d6efd" },
          { label: labels.overdue, data: chart.overdue.map(million), backgroundColor: "#dc3545" },
        ],
      },
      options: { plugins: { tooltip: { callbacks: { label: money } } }, ...options },
    });
  }

  bars("chart-kinds", data.kinds);
  bars("chart-wards", data.wards, { indexAxis: "y", plugins: { tooltip: { callbacks: {
    label: (c) => `${c.dataset.label}: ${number.format(c.parsed.x)} ${labels.million}` } } } });

  const programs = document.getElementById("chart-programs");
  if (programs) {
    new Chart(programs, {
      type: "doughnut",
      data: { labels: data.programs.labels, datasets: [{ data: data.programs.outstanding.map(million), backgroundColor: palette }] },
      options: { plugins: { legend: { position: "right" } } },
    });
  }

  const trend = document.getElementById("chart-trend");
  if (trend) {
    const datasets = [];
    data.trend.series.forEach((series, index) => {
      const color = palette[index % palette.length];
      datasets.push({ type: "bar", label: series.label, data: series.outstanding.map(million), backgroundColor: color + "99",
                      yAxisID: "y", stack: "outstanding" });
      datasets.push({ type: "line", label: `${series.label} – ${labels.ratio}`, borderColor: color, backgroundColor: color,
                      yAxisID: "ratio", tension: 0.2, pointRadius: 2,
                      data: series.outstanding.map((value, i) => (value ? (series.overdue[i] * 100) / value : 0)) });
    });
    new Chart(trend, {
      data: { labels: data.trend.labels, datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { stacked: true, title: { display: true, text: labels.million } },
          ratio: { position: "right", min: 0, suggestedMax: 5, grid: { drawOnChartArea: false }, title: { display: true, text: "%" } },
        },
        plugins: { legend: { labels: { boxWidth: 12, font: { size: 11 } } } },
      },
    });
  }
})();
