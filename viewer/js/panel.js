// One dashboard panel: its frame, its queries (one per target per refresh) and its drawing.
// Its state is on the element as data-state: loading, ok, empty, error or unsupported.

import { drawBarGauge, drawGauge, drawStat, reducedValues } from "./draw-single.js";
import { drawTable, unsupportedTableFeatures } from "./draw-table.js";
import { drawTimeseries } from "./draw-timeseries.js";
import { el } from "./dom.js";
import { chooseStep, interpolate, intervalBuiltins } from "./format.js";
import { queryInstant, queryRange } from "./prometheus.js";

const DRAWN = new Set(["stat", "gauge", "bargauge", "timeseries", "graph", "table"]);

export class PanelView {
  constructor(def) {
    this.def = def;
    this.type = def.type === "graph" ? "timeseries" : def.type;
    this.field = def.fieldConfig?.defaults ?? {};
    this.chartState = {};
    this.notices = this.unsupportedFeatures();
    this.body = el("div", "panel-body");
    this.message = el("p", "panel-message");
    this.message.hidden = true;
    const header = el("header", "panel-header", el("h2", "panel-title", def.title ?? ""));
    if (def.description) header.title = def.description;
    if (this.notices.length) header.append(el("span", "panel-notice", `⚠ ${this.notices.join("; ")}`));
    this.element = el("section", "panel", header, this.body, this.message);
    this.element.dataset.panelId = String(def.id ?? "");
    this.element.dataset.type = def.type ?? "";
    this.element.dataset.title = def.title ?? "";
    this.snapshot = { queries: [], series: [], step: null, width: 0 };
    this.setState("loading", "");
  }

  /** Features of this panel the viewer does not draw: said on the panel, never dropped silently. */
  unsupportedFeatures() {
    const notes = [];
    if (this.def.type === "graph") notes.push("legacy graph panel drawn as a timeseries");
    if ((this.def.fieldConfig?.overrides ?? []).length) notes.push("field overrides not applied");
    if (this.type === "table") notes.push(...unsupportedTableFeatures(this.def));
    else if ((this.def.transformations ?? []).length) notes.push("transformations not applied");
    if (this.def.repeat) notes.push(`repeat by $${this.def.repeat} not applied`);
    if (this.def.options?.reduceOptions?.values === true) notes.push("'all values' not supported, last value shown");
    return notes;
  }

  setState(state, message) {
    this.state = state;
    this.element.dataset.state = state;
    this.message.textContent = message;
    this.message.hidden = !message;
    this.message.className = `panel-message ${state}`;
  }

  targets() {
    return (this.def.targets ?? []).filter((t) => !t.hide && typeof t.expr === "string" && t.expr.trim());
  }

  /** Range queries, except where the target asks for an instant one and for tables. */
  instant(target) {
    return this.type === "table" || target.instant === true;
  }

  /** Runs this panel's queries for `view` ({start, end, scrapeSeconds, variables}) and draws. */
  async refresh(view) {
    if (!DRAWN.has(this.def.type)) {
      this.body.replaceChildren();
      this.setState("unsupported", `Panel type "${this.def.type}" is not supported by this viewer.`);
      return;
    }
    const targets = this.targets();
    if (targets.length === 0) {
      this.setState("empty", "This panel has no queries.");
      return;
    }
    const width = this.body.clientWidth || 600;
    const rangeSeconds = view.end - view.start;
    const step = chooseStep(rangeSeconds, width, view.scrapeSeconds);
    const builtins = intervalBuiltins(step, rangeSeconds, view.scrapeSeconds);
    const start = Math.floor(view.start / step) * step;
    const queries = targets.map((target) => ({
      target,
      expr: interpolate(target.expr, view.variables, builtins),
      instant: this.instant(target),
    }));
    this.snapshot = { queries: queries.map((q) => q.expr), series: [], step, width };
    let frames;
    try {
      frames = await Promise.all(
        queries.map(async ({ target, expr, instant }) => ({
          target,
          series: instant ? await queryInstant(expr, view.end) : await queryRange(expr, start, view.end, step),
        })),
      );
    } catch (err) {
      this.chartState.plot?.destroy();
      this.chartState.plot = null;
      this.body.replaceChildren();
      this.setState("error", err.message);
      return;
    }
    if (frames.every((frame) => frame.series.length === 0)) {
      this.chartState.plot?.destroy();
      this.chartState.plot = null;
      this.body.replaceChildren();
      this.setState("empty", "No data");
      return;
    }
    // Visible before drawing: the chart takes the size of its box.
    this.setState("ok", "");
    try {
      this.snapshot.series = this.draw(frames, { start, end: view.end });
    } catch (err) {
      // A dashboard shape this viewer did not foresee: said on the panel, never a blank one.
      this.body.replaceChildren();
      this.setState("error", `This panel could not be drawn: ${err.message}`);
    }
  }

  draw(frames, range) {
    const labels = () => frames.flatMap((f) => f.series.map((s) => s.labels));
    switch (this.type) {
      case "timeseries":
        return drawTimeseries(this.body, frames, this.field, this.def.options, range, this.chartState);
      case "table":
        return drawTable(this.body, frames, this.field, this.def);
      case "stat":
        drawStat(this.body, reducedValues(frames, this.field, this.def.options), this.def.options);
        return labels();
      case "gauge":
        drawGauge(this.body, reducedValues(frames, this.field, this.def.options), this.field);
        return labels();
      case "bargauge":
        drawBarGauge(this.body, reducedValues(frames, this.field, this.def.options), this.field, this.def.options);
        return labels();
      default:
        return [];
    }
  }
}
