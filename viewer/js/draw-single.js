// Panels that reduce each series to one value: stat, gauge, bargauge.

import { contrastText, el, svg, withAlpha } from "./dom.js";
import {
  applyMappings, colourHex, formatValue, legendText, reduce, thresholdColour,
} from "./format.js";

/** Each series reduced to one value, with its display text and colour. */
export function reducedValues(frames, field, options) {
  const calc = options?.reduceOptions?.calcs?.[0] ?? "lastNotNull";
  const values = [];
  for (const { target, series } of frames) {
    for (const one of series) {
      const raw = one.points.map(([, v]) => v);
      let value = reduce(raw, calc);
      if (value === undefined) value = reduce(raw, "lastNotNull");
      const mapped = applyMappings(value, field.mappings);
      const colour =
        mapped?.colour ??
        (field.color?.mode === "fixed" ? colourHex(field.color.fixedColor) : null) ??
        thresholdColour(value, field.thresholds, field.min ?? 0, field.max ?? 100) ??
        colourHex("green");
      values.push({
        name: field.displayName || legendText(target.legendFormat, one.labels),
        labels: one.labels,
        value,
        text: mapped?.text ?? formatValue(value, field.unit, field.decimals),
        colour,
        points: one.points,
      });
    }
  }
  return values;
}

function sparkline(points, colour) {
  const line = svg("svg", { class: "sparkline", viewBox: "0 0 100 100", preserveAspectRatio: "none" });
  const finite = points.filter(([, v]) => Number.isFinite(v));
  if (finite.length < 2) return line;
  const ts = finite.map(([t]) => t);
  const vs = finite.map(([, v]) => v);
  const [t0, t1] = [Math.min(...ts), Math.max(...ts)];
  const [v0, v1] = [Math.min(...vs), Math.max(...vs)];
  const x = (t) => ((t - t0) / (t1 - t0 || 1)) * 100;
  const y = (v) => 100 - ((v - v0) / (v1 - v0 || 1)) * 60 - 5;
  const path = finite.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(2)},${y(v).toFixed(2)}`);
  line.append(svg("path", { d: `${path.join("")}L100,100L0,100Z`, fill: withAlpha(colour, 0.25), stroke: "none" }));
  line.append(svg("path", { d: path.join(""), fill: "none", stroke: colour, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
  return line;
}

export function drawStat(body, values, options) {
  const colorMode = options?.colorMode ?? "value";
  const graphMode = options?.graphMode ?? "area";
  const grid = el("div", "stat-grid");
  for (const item of values) {
    const tile = el("div", "stat-tile");
    const value = el("div", "stat-value", item.text);
    if (colorMode === "background") {
      const sparkColour = contrastText(item.colour) === "#000000" ? "#00000066" : "#FFFFFF66";
      tile.style.backgroundColor = item.colour;
      tile.style.color = contrastText(item.colour);
      if (graphMode === "area") tile.append(sparkline(item.points, sparkColour.slice(0, 7)));
    } else {
      if (colorMode === "value") value.style.color = item.colour;
      if (graphMode === "area") tile.append(sparkline(item.points, item.colour));
    }
    tile.dataset.colour = item.colour;
    if (values.length > 1) tile.append(el("div", "stat-name", item.name));
    tile.append(value);
    grid.append(tile);
  }
  grid.style.gridTemplateColumns = `repeat(${Math.min(values.length, 4)}, 1fr)`;
  body.replaceChildren(grid);
}

const GAUGE_SWEEP = 240;

function arcPath(cx, cy, r, fromFraction, toFraction) {
  const angle = (f) => ((-90 - GAUGE_SWEEP / 2 + f * GAUGE_SWEEP) * Math.PI) / 180;
  const [a0, a1] = [angle(fromFraction), angle(toFraction)];
  const large = (toFraction - fromFraction) * GAUGE_SWEEP > 180 ? 1 : 0;
  const point = (a) => `${(cx + r * Math.cos(a)).toFixed(2)},${(cy + r * Math.sin(a)).toFixed(2)}`;
  return `M${point(a0)}A${r},${r} 0 ${large} 1 ${point(a1)}`;
}

export function drawGauge(body, values, field) {
  const min = field.min ?? 0;
  const max = field.max ?? 100;
  const fraction = (v) => Math.min(1, Math.max(0, (v - min) / (max - min || 1)));
  const grid = el("div", "stat-grid");
  for (const item of values) {
    const tile = el("div", "gauge-tile");
    const gauge = svg("svg", { class: "gauge", viewBox: "0 0 100 80" });
    gauge.append(svg("path", { d: arcPath(50, 50, 38, 0, 1), class: "gauge-track" }));
    const steps = field.thresholds?.steps ?? [];
    steps.forEach((step, i) => {
      const from = i === 0 ? 0 : fraction(Number(step.value));
      const to = i + 1 < steps.length ? fraction(Number(steps[i + 1].value)) : 1;
      if (to > from) {
        gauge.append(svg("path", { d: arcPath(50, 50, 45, from, to), stroke: colourHex(step.color), "stroke-width": 3, fill: "none" }));
      }
    });
    if (Number.isFinite(item.value)) {
      gauge.append(svg("path", { d: arcPath(50, 50, 38, 0, Math.max(0.005, fraction(item.value))), stroke: item.colour, "stroke-width": 9, fill: "none" }));
    }
    const text = svg("text", { x: 50, y: 55, "text-anchor": "middle", class: "gauge-text", fill: item.colour });
    text.textContent = item.text;
    gauge.append(text);
    tile.dataset.colour = item.colour;
    tile.append(gauge);
    if (values.length > 1) tile.append(el("div", "stat-name", item.name));
    grid.append(tile);
  }
  grid.style.gridTemplateColumns = `repeat(${Math.min(values.length, 4)}, 1fr)`;
  body.replaceChildren(grid);
}

export function drawBarGauge(body, values, field, options) {
  const min = field.min ?? 0;
  const max = field.max ?? Math.max(...values.map((v) => v.value ?? 0), 1);
  const base = colourHex(field.thresholds?.steps?.[0]?.color ?? "green");
  const list = el("div", "bargauge");
  for (const item of values) {
    const fraction = Math.min(1, Math.max(0, ((item.value ?? min) - min) / (max - min || 1)));
    const bar = el("div", "bargauge-bar");
    bar.style.width = `${(fraction * 100).toFixed(2)}%`;
    bar.style.background =
      options?.displayMode === "gradient"
        ? `linear-gradient(to right, ${withAlpha(base, 0.6)}, ${item.colour})`
        : item.colour;
    const track = el("div", options?.showUnfilled === false ? "bargauge-track bare" : "bargauge-track", bar);
    const value = el("span", "bargauge-value", item.text);
    value.style.color = item.colour;
    const row = el("div", "bargauge-row", el("span", "bargauge-name", item.name), track, value);
    row.dataset.colour = item.colour;
    list.append(row);
  }
  body.replaceChildren(list);
}
