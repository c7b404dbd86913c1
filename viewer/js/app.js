// The dashboard viewer: loads a Grafana dashboard JSON file as the server lists it
// (dashboards/index.json), draws its panels on Grafana's grid, and refreshes them from
// Prometheus. A viewer, not Grafana: nothing is edited or stored; the reader's choices (time
// range, refresh, variables) live in the URL, with Grafana's parameter names.

import { el } from "./dom.js";
import { parseDuration, parseLabelValues, parseTime, interpolate } from "./format.js";
import { layout } from "./layout.js";
import { PanelView } from "./panel.js";
import { counters, labelValues } from "./prometheus.js";

const TIME_RANGES = [
  ["now-5m", "Last 5 minutes"], ["now-15m", "Last 15 minutes"], ["now-30m", "Last 30 minutes"],
  ["now-1h", "Last 1 hour"], ["now-3h", "Last 3 hours"], ["now-6h", "Last 6 hours"],
  ["now-12h", "Last 12 hours"], ["now-24h", "Last 24 hours"], ["now-2d", "Last 2 days"],
  ["now-7d", "Last 7 days"],
];
const REFRESHES = ["off", "5s", "10s", "30s", "1m", "5m", "15m", "1h"];

async function fetchJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${response.statusText}`);
  return response.json();
}

function select(className, options, selected, onChange) {
  const node = el("select", className);
  for (const [value, text] of options) {
    const option = el("option", null, text);
    option.value = value;
    option.selected = value === selected;
    node.append(option);
  }
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

class Variable {
  constructor(def, urlValues) {
    this.def = def;
    this.name = def.name;
    this.multi = def.multi === true;
    this.includeAll = def.includeAll === true;
    this.allValue = def.allValue || null;
    this.options = [];
    this.error = null;
    const current = def.current?.value;
    const initial = urlValues.length ? urlValues : Array.isArray(current) ? current : current != null ? [current] : [];
    this.selected = initial.map((v) => (v === "All" || v === "__all" ? "$__all" : String(v)));
  }

  /** Loads the options (label_values queries, custom lists, constants). */
  async load(variables, start, end) {
    const def = this.def;
    if (def.type === "custom") {
      this.options = String(def.query ?? "").split(",").map((v) => v.trim()).filter(Boolean);
    } else if (def.type === "constant" || def.type === "textbox") {
      this.options = [String(def.query ?? def.current?.value ?? "")];
    } else if (def.type === "query") {
      const parsed = parseLabelValues(def.query ?? def.definition);
      if (!parsed) {
        this.error = "only label_values(...) queries are supported";
        return;
      }
      try {
        const match = parsed.metric ? interpolate(parsed.metric, variables) : null;
        this.options = (await labelValues(parsed.label, match, start, end)).map(String);
        this.error = null;
      } catch (err) {
        this.error = err.message;
        return;
      }
    } else {
      this.error = `variable type "${def.type}" is not supported`;
      return;
    }
    this.sortOptions();
    const known = this.selected.filter((v) => v === "$__all" || this.options.includes(v));
    if (known.length) this.selected = known;
    else this.selected = this.includeAll ? ["$__all"] : this.options.slice(0, 1);
  }

  sortOptions() {
    const sort = this.def.sort ?? 0;
    const numeric = (v) => Number(v.match(/\d+/)?.[0] ?? NaN);
    if (sort === 1 || sort === 5) this.options.sort((a, b) => a.localeCompare(b));
    if (sort === 2 || sort === 6) this.options.sort((a, b) => b.localeCompare(a));
    if (sort === 3) this.options.sort((a, b) => numeric(a) - numeric(b));
    if (sort === 4) this.options.sort((a, b) => numeric(b) - numeric(a));
  }

  /** What format.js's interpolation needs. */
  get value() {
    return { selected: this.selected, options: this.options, multi: this.multi, includeAll: this.includeAll, allValue: this.allValue };
  }

  choose(value, checked) {
    if (value === "$__all" || !this.multi) {
      this.selected = [value];
      return;
    }
    const rest = this.selected.filter((v) => v !== "$__all" && v !== value);
    this.selected = checked ? [...rest, value] : rest;
    if (!this.selected.length) this.selected = this.includeAll ? ["$__all"] : this.options.slice(0, 1);
  }

  summary() {
    return this.selected.includes("$__all") ? "All" : this.selected.join(" + ");
  }
}

class Viewer {
  constructor(index, entry, dashboard) {
    this.index = index;
    this.entry = entry;
    this.dashboard = dashboard;
    this.params = new URLSearchParams(location.search);
    this.from = this.params.get("from") ?? dashboard.time?.from ?? "now-6h";
    this.to = this.params.get("to") ?? dashboard.time?.to ?? "now";
    this.refreshEvery = this.params.get("refresh") ?? (dashboard.refresh || "off");
    this.scrapeSeconds = parseDuration(index.scrapeInterval) ?? 15;
    this.variables = (dashboard.templating?.list ?? [])
      .filter((def) => def.name)
      .map((def) => new Variable(def, this.params.getAll(`var-${def.name}`)));
    this.variablesLoaded = false;
    this.expandedRows = new Set();
    this.refreshes = 0;
    this.lastRefresh = null;
    this.running = false;
    this.again = false;
    this.timer = null;
    this.panels = [];
  }

  start() {
    document.title = `${this.dashboard.title ?? "Dashboard"} · Octo`;
    this.bar = el("header", "bar");
    this.grid = el("main", "grid");
    document.body.replaceChildren(this.bar, this.grid);
    this.drawBar();
    this.drawGrid();
    this.requestRefresh();
  }

  drawBar() {
    const dashboards = select(
      "dashboard-picker",
      this.index.dashboards.map((d) => [d.id, d.title || d.file]),
      this.entry.id,
      (id) => {
        location.search = `?dashboard=${encodeURIComponent(id)}`;
      },
    );
    const variables = this.variables.map((variable) => this.variableControl(variable));
    const ranges = TIME_RANGES.some(([from]) => from === this.from) || this.to !== "now"
      ? [...TIME_RANGES]
      : [[this.from, this.from], ...TIME_RANGES];
    const time = select("time-picker", ranges, this.from, (from) => {
      this.from = from;
      this.to = "now";
      this.variablesLoaded = false;
      this.saveUrl();
      this.requestRefresh();
    });
    const refreshes = REFRESHES.includes(this.refreshEvery) ? REFRESHES : [this.refreshEvery, ...REFRESHES];
    const refresh = select("refresh-picker", refreshes.map((r) => [r, r === "off" ? "Auto refresh off" : `Every ${r}`]), this.refreshEvery, (every) => {
      this.refreshEvery = every;
      this.saveUrl();
      this.schedule();
    });
    const now = el("button", "refresh-now", "Refresh");
    now.type = "button";
    now.addEventListener("click", () => this.requestRefresh());
    this.status = el("span", "status", "");
    this.bar.replaceChildren(
      el("h1", null, this.dashboard.title ?? "Dashboard"),
      dashboards,
      ...variables,
      el("span", "spacer"),
      time,
      refresh,
      now,
      this.status,
    );
  }

  variableControl(variable) {
    const box = el("div", "variable");
    box.dataset.variable = variable.name;
    const label = el("span", "variable-label", variable.def.label || variable.name);
    if (variable.def.hide === 2) box.hidden = true;
    if (variable.error) {
      box.append(label, el("span", "variable-error", `⚠ ${variable.error}`));
      return box;
    }
    const choices = [...(variable.includeAll ? [["$__all", "All"]] : []), ...variable.options.map((o) => [o, o])];
    if (!variable.multi) {
      box.append(label, select("variable-select", choices, variable.selected[0], (value) => this.chooseVariable(variable, value, true)));
      return box;
    }
    const menu = el("details", "variable-menu", el("summary", null, variable.summary()));
    for (const [value, text] of choices) {
      const input = el("input");
      input.type = "checkbox";
      input.value = value;
      input.checked = variable.selected.includes(value);
      input.addEventListener("change", () => this.chooseVariable(variable, value, input.checked));
      menu.append(el("label", null, input, text));
    }
    box.append(label, menu);
    return box;
  }

  chooseVariable(variable, value, checked) {
    variable.choose(value, checked);
    this.saveUrl();
    this.drawBar();
    this.requestRefresh();
  }

  saveUrl() {
    const params = new URLSearchParams();
    params.set("dashboard", this.entry.id);
    params.set("from", this.from);
    params.set("to", this.to);
    params.set("refresh", this.refreshEvery);
    for (const variable of this.variables) {
      for (const value of variable.selected) params.append(`var-${variable.name}`, value);
    }
    history.replaceState(null, "", `?${params}`);
  }

  drawGrid() {
    for (const panel of this.panels) panel.chartState.resize?.disconnect();
    const previous = new Map(this.panels.map((p) => [p.def, p]));
    this.panels = [];
    const cells = layout(this.dashboard.panels ?? [], this.expandedRows);
    const nodes = [];
    for (const cell of cells) {
      let node;
      if (cell.def.type === "row") {
        node = this.rowHeader(cell.def);
      } else {
        const panel = previous.get(cell.def) ?? new PanelView(cell.def);
        this.panels.push(panel);
        node = panel.element;
      }
      node.style.gridColumn = `${cell.x + 1} / span ${cell.w}`;
      node.style.gridRow = `${cell.y + 1} / span ${cell.h}`;
      nodes.push(node);
    }
    this.grid.replaceChildren(...nodes);
  }

  rowHeader(def) {
    const collapsible = def.collapsed && (def.panels ?? []).length > 0;
    const open = this.expandedRows.has(def.id);
    const title = el("h2", "row-title", `${collapsible ? (open ? "▾ " : "▸ ") : ""}${def.title ?? ""}`);
    const node = el("div", "row", title);
    if (collapsible) {
      node.classList.add("collapsible");
      node.addEventListener("click", () => {
        if (open) this.expandedRows.delete(def.id);
        else this.expandedRows.add(def.id);
        this.drawGrid();
        this.requestRefresh();
      });
    }
    return node;
  }

  /** Refreshes now, or right after the refresh under way: never two at once. */
  async requestRefresh() {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    clearTimeout(this.timer);
    try {
      do {
        this.again = false;
        await this.refreshOnce();
      } while (this.again);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  schedule() {
    clearTimeout(this.timer);
    const seconds = parseDuration(this.refreshEvery);
    if (seconds) this.timer = setTimeout(() => this.requestRefresh(), seconds * 1000);
  }

  async refreshOnce() {
    const began = performance.now();
    const now = Date.now() / 1000;
    const start = parseTime(this.from, now);
    const end = parseTime(this.to, now);
    if (start === null || end === null || start >= end) {
      this.status.textContent = `⚠ cannot read the time range ${this.from} to ${this.to}`;
      return;
    }
    counters.queries = 0;
    counters.metadata = 0;
    if (!this.variablesLoaded || this.variables.some((v) => v.error)) {
      const values = {};
      for (const variable of this.variables) {
        await variable.load(values, start, end);
        values[variable.name] = variable.value;
      }
      this.variablesLoaded = true;
      this.drawBar();
    }
    const variables = Object.fromEntries(this.variables.map((v) => [v.name, v.value]));
    const view = { start, end, scrapeSeconds: this.scrapeSeconds, variables };
    await Promise.all(this.panels.map((panel) => panel.refresh(view)));
    this.refreshes += 1;
    this.lastRefresh = {
      at: new Date().toISOString(),
      milliseconds: Math.round(performance.now() - began),
      queries: counters.queries,
      targets: this.panels.reduce((n, p) => n + (p.state === "unsupported" ? 0 : p.targets().length), 0),
      metadata: counters.metadata,
    };
    document.body.dataset.refreshes = String(this.refreshes);
    const failed = this.panels.filter((p) => p.state === "error").length;
    this.status.textContent = `${failed ? `⚠ ${failed} panels failed · ` : ""}updated ${new Date().toLocaleTimeString()}`;
  }

  /** What the tests read: every panel's state, queries and series labels. */
  snapshot() {
    return {
      refreshes: this.refreshes,
      lastRefresh: this.lastRefresh,
      running: this.running,
      range: { from: this.from, to: this.to, refresh: this.refreshEvery },
      variables: this.variables.map((v) => ({ name: v.name, options: v.options, selected: v.selected, error: v.error })),
      panels: this.panels.map((p) => ({
        id: p.def.id ?? null,
        title: p.def.title ?? "",
        type: p.def.type,
        state: p.state,
        message: p.message.textContent,
        notices: p.notices,
        ...p.snapshot,
      })),
    };
  }
}

async function main() {
  const index = await fetchJson("dashboards/index.json");
  const wanted = new URLSearchParams(location.search).get("dashboard");
  const entry = index.dashboards.find((d) => d.id === wanted) ?? index.dashboards[0];
  if (!entry) throw new Error("the server lists no dashboard");
  const file = await fetchJson(entry.path);
  const viewer = new Viewer(index, entry, file.dashboard ?? file);
  window.octoViewer = {
    snapshot: () => viewer.snapshot(),
    refresh: () => viewer.requestRefresh(),
  };
  viewer.start();
}

main().catch((err) => {
  const message = el("p", "fatal", `The dashboard could not be loaded: ${err.message}`);
  document.body.replaceChildren(message);
  document.body.dataset.fatal = err.message;
});
