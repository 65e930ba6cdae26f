// Trend chart of the dashboard; the data comes from the page (#trend-data, JSON).
(function () {
  var el = document.getElementById("trend-chart");
  var data = document.getElementById("trend-data");
  if (!el || !data || typeof echarts === "undefined") return;
  var trend = JSON.parse(data.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    animation: false,
    legend: { top: 0, data: ["受理", "办结"] },
    grid: { left: 40, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: trend.days },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "受理", type: "line", data: trend.received },
      { name: "办结", type: "bar", data: trend.resolved }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
