// The timeseries panel (and the legacy graph panel, which Grafana migrates to it), with uPlot.

import uPlot from "../vendor/uplot/uPlot.esm.js";

import { el, withAlpha } from "./dom.js";
import {
  CLASSIC_PALETTE, REDUCER_NAMES, colourHex, formatValue, legendText, reduce,
} from "./format.js";

/** The series of every target as uPlot columns over the union of their timestamps. */
function columns(frames, field) {
  const named = [];
  for (const { target, series } of frames) {
    for (const one of series) {
      named.push({ name: legendText(target.legendFormat, one.labels), labels: one.labels, points: one.points });
    }
  }
  const times = [...new Set(named.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const raw = named.map((s) => {
    const values = new Array(times.length).fill(null);
    for (const [t, v] of s.points) values[index.get(t)] = Number.isFinite(v) ? v : null;
    return values;
  });
  let drawn = raw;
  if (field.custom?.stacking?.mode === "normal") {
    const running = new Array(times.length).fill(0);
    drawn = raw.map((values) =>
      values.map((v, i) => {
        if (v === null) return null;
        running[i] += v;
        return running[i];
      }),
    );
  }
  return { named, times, raw, drawn };
}

function thresholdLines(field) {
  const mode = field.custom?.thresholdsStyle?.mode ?? "off";
  if (mode === "off") return [];
  return (field.thresholds?.steps ?? [])
    .filter((step) => step.value !== null && step.value !== undefined)
    .map((step) => ({ value: Number(step.value), colour: colourHex(step.color) }));
}

function legend(named, raw, colours, options, field) {
  const legendOptions = options?.legend ?? {};
  if (legendOptions.showLegend === false || legendOptions.displayMode === "hidden") return null;
  const calcs = (legendOptions.calcs ?? []).filter((calc) => REDUCER_NAMES[calc]);
  const table = el("table", "legend");
  if (legendOptions.displayMode === "table" && calcs.length) {
    const head = el("tr", null, el("th", null, ""));
    for (const calc of calcs) head.append(el("th", null, REDUCER_NAMES[calc]));
    table.append(el("thead", null, head));
  }
  const rows = el("tbody");
  named.forEach((series, i) => {
    const swatch = el("span", "swatch");
    swatch.style.backgroundColor = colours[i];
    const row = el("tr", null, el("td", "legend-name", swatch, series.name));
    for (const calc of calcs) {
      row.append(el("td", "legend-value", formatValue(reduce(raw[i], calc), field.unit, field.decimals)));
    }
    rows.append(row);
  });
  table.append(rows);
  return el("div", "legend-box", table);
}

/** Draws (or redraws) the chart into `body`; `state` keeps the uPlot instance between refreshes. */
export function drawTimeseries(body, frames, field, options, range, state) {
  const { named, times, raw, drawn } = columns(frames, field);
  const colours = named.map((_, i) =>
    field.color?.mode === "fixed" ? colourHex(field.color.fixedColor) : CLASSIC_PALETTE[i % CLASSIC_PALETTE.length],
  );
  const fillOpacity = (field.custom?.fillOpacity ?? 10) / 100;
  const lines = thresholdLines(field);
  state.plot?.destroy();
  const chart = el("div", "chart");
  const legendBox = legend(named, raw, colours, options, field);
  body.replaceChildren(chart, ...(legendBox ? [legendBox] : []));
  const size = () => ({
    width: Math.max(chart.clientWidth, 50),
    height: Math.max(chart.clientHeight, 50),
  });
  const plot = new uPlot(
    {
      ...size(),
      legend: { show: false },
      scales: { x: { time: true, range: () => [range.start, range.end] } },
      axes: [
        { stroke: "#9fa7b3", space: 90, grid: { stroke: "#2c3235", width: 1 }, ticks: { stroke: "#2c3235" } },
        {
          stroke: "#9fa7b3",
          grid: { stroke: "#2c3235", width: 1 },
          ticks: { stroke: "#2c3235" },
          size: 72,
          values: (_, splits) => splits.map((v) => formatValue(v, field.unit, field.decimals)),
        },
      ],
      series: [
        {},
        ...named.map((series, i) => ({
          label: series.name,
          stroke: colours[i],
          width: field.custom?.lineWidth ?? 1,
          fill: fillOpacity > 0 ? withAlpha(colours[i], fillOpacity) : undefined,
          points: { show: false },
          spanGaps: field.custom?.spanNulls === true,
        })),
      ],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1;
            for (const line of lines) {
              const y = u.valToPos(line.value, "y", true);
              if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
              ctx.strokeStyle = line.colour;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    },
    [times, ...drawn],
    chart,
  );
  state.plot = plot;
  state.resize?.disconnect();
  state.resize = new ResizeObserver(() => plot.setSize(size()));
  state.resize.observe(chart);
  return named.map((series) => series.labels);
}
