// Dashboard charts (Chart.js). Data comes from the json_script block "dashboard-data"; amounts are whole đồng,
// overdue ratios are percents. Words and units come translated from the template's #dashboard-labels.
(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const labels = document.getElementById("dashboard-labels").dataset;
  // Millions with one decimal, so a small ward still shows a bar and a tooltip that is not "0".
  const million = (value) => Math.round(value / 1e5) / 10;
  // Ratios arrive as Decimal strings; null (nothing outstanding) leaves a gap rather than a false 0 %.
  const ratio = (value) => (value === null || value === undefined ? null : Number(value));
  const palette = ["#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#dc3545", "#6c757d"];
  const OUTSTANDING = "#0d6efd";
  const OVERDUE = "#dc3545";
  // Axis ticks and tooltips group digits as the page's language does: 6.000 in Vietnamese, 6,000 in English.
  const locale = labels.locale || "vi-VN";
  Chart.defaults.locale = locale;
  const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  const percentNumber = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  const amount = (value) => `${number.format(value)} ${labels.million}`;
  const percent = (value) => `${percentNumber.format(value)} ${labels.percent}`;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  const amountAxis = (extra = {}) => ({
    beginAtZero: true,
    title: { display: true, text: `${labels.outstanding} (${labels.million})` },
    ticks: { callback: (value) => number.format(value) },
    ...extra,
  });
  // The overdue ratio has its own axis scaled to its own figures: next to billions of outstanding, 0,1 % must show.
  const ratioAxis = (extra = {}) => ({
    beginAtZero: true,
    grace: "10%",
    grid: { drawOnChartArea: false },
    title: { display: true, text: `${labels.ratio} (${labels.percent})`, color: OVERDUE },
    ticks: { color: OVERDUE, callback: (value) => percent(value) },
    ...extra,
  });
  // Tooltips carry units; the ratio line also names the overdue amount behind it.
  const tooltip = (chart, valueAxis) => ({
    callbacks: {
      label: (context) => {
        const value = context.parsed[valueAxis];
        if (context.dataset.yAxisID === "ratio" || context.dataset.xAxisID === "ratio") {
          return [`${context.dataset.label}: ${value === null ? "–" : percent(value)}`,
                  `${labels.overdue}: ${amount(million(chart.overdue[context.dataIndex]))}`];
        }
        return `${context.dataset.label}: ${amount(value)}`;
      },
    },
  });
  // Legend in dataset order (outstanding first), whatever order the datasets are drawn in.
  const legend = { labels: { boxWidth: 12, font: { size: 11 }, sort: (a, b) => a.datasetIndex - b.datasetIndex } };

  // Outstanding bars against the amount axis, overdue-ratio bars against their own axis: upright per organization,
  // lying down per ward (names read better along the side).
  const barsWithRatio = (canvas, figures, horizontal) => {
    if (!canvas) return;
    const value = horizontal ? "x" : "y";
    const axisKey = horizontal ? "xAxisID" : "yAxisID";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: figures.labels,
        datasets: [
          { label: labels.outstanding, data: figures.outstanding.map(million), backgroundColor: OUTSTANDING, [axisKey]: value },
          { label: labels.ratio, data: figures.overdue_ratio.map(ratio), backgroundColor: OVERDUE, [axisKey]: "ratio" },
        ],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false, ...(horizontal ? { axis: "y" } : {}) },
        scales: {
          [value]: amountAxis(),
          ratio: ratioAxis({ axis: value, position: horizontal ? "top" : "right" }),
        },
        plugins: { legend, tooltip: tooltip(figures, value) },
      },
    });
  };
  barsWithRatio(document.getElementById("chart-kinds"), data.kinds, false);
  barsWithRatio(document.getElementById("chart-wards"), data.wards, true);

  const programs = document.getElementById("chart-programs");
  if (programs) {
    new Chart(programs, {
      type: "doughnut",
      data: { labels: data.programs.labels, datasets: [{ label: labels.outstanding, data: data.programs.outstanding.map(million), backgroundColor: palette }] },
      options: {
        plugins: {
          legend: { position: "right" },
          tooltip: { callbacks: { label: (context) => `${labels.outstanding}: ${amount(context.parsed)}` } },
        },
      },
    });
  }

  // The trend sums the organizations: one outstanding bar and one overdue-ratio line per month end.
  const trend = document.getElementById("chart-trend");
  if (trend) {
    new Chart(trend, {
      data: {
        labels: data.trend.labels,
        datasets: [
          { type: "bar", label: labels.outstanding, data: data.trend.outstanding.map(million), backgroundColor: OUTSTANDING + "99",
            yAxisID: "y", order: 2 },
          { type: "line", label: labels.ratio, data: data.trend.overdue_ratio.map(ratio), borderColor: OVERDUE,
            backgroundColor: OVERDUE, yAxisID: "ratio", tension: 0.2, pointRadius: 3, spanGaps: true, order: 1 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { y: amountAxis(), ratio: ratioAxis({ axis: "y", position: "right" }) },
        plugins: { legend, tooltip: tooltip(data.trend, "y") },
      },
    });
  }
})();
