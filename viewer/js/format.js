// Pure helpers of the dashboard viewer: units, decimals, colours, thresholds, value mappings,
// time ranges, query steps, template interpolation and legends. No DOM and no network here, so
// `node --test viewer/test/` checks them without a browser.

// Grafana's named colours (its classic theme's palette), so the dashboards' "green", "yellow",
// "red" and their shades look as they do in Grafana.
const NAMED_COLOURS = {
  green: "#73BF69", "dark-green": "#37872D", "semi-dark-green": "#56A64B",
  "light-green": "#96D98D", "super-light-green": "#C8F2C2",
  yellow: "#FADE2A", "dark-yellow": "#E0B400", "semi-dark-yellow": "#F2CC0C",
  "light-yellow": "#FFEE52", "super-light-yellow": "#FFF899",
  red: "#F2495C", "dark-red": "#C4162A", "semi-dark-red": "#E02F44",
  "light-red": "#FF7383", "super-light-red": "#FFA6B0",
  orange: "#FF9830", "dark-orange": "#FA6400", "semi-dark-orange": "#FF780A",
  "light-orange": "#FFB357", "super-light-orange": "#FFCB7D",
  blue: "#5794F2", "dark-blue": "#1F60C4", "semi-dark-blue": "#3274D9",
  "light-blue": "#8AB8FF", "super-light-blue": "#C0D8FF",
  purple: "#B877D9", "dark-purple": "#8F3BB8", "semi-dark-purple": "#A352CC",
  "light-purple": "#CA95E5", "super-light-purple": "#DEB6F2",
  transparent: "transparent", text: "#CCCCDC",
};

// Grafana's "palette-classic" series colours, in order.
export const CLASSIC_PALETTE = [
  "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
  "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
  "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0",
];

const FALLBACK_COLOUR = "#808080";

/** The CSS colour of a Grafana colour name or literal; anything else is the fallback grey, so a
 * dashboard file can never put arbitrary text into a style. */
export function colourHex(name) {
  if (typeof name !== "string") return FALLBACK_COLOUR;
  const key = name.trim();
  if (Object.hasOwn(NAMED_COLOURS, key)) return NAMED_COLOURS[key];
  if (/^#[0-9a-fA-F]{3,8}$/.test(key)) return key;
  if (/^rgba?\(\s*[0-9.]+\s*,\s*[0-9.]+\s*,\s*[0-9.]+\s*(,\s*[0-9.]+\s*)?\)$/.test(key)) return key;
  return FALLBACK_COLOUR;
}

/** The colour of `value` under a Grafana thresholds object (`{mode, steps}`): the last step whose
 * value is at or below it (the first step, value null, is the base). `min`/`max` are used in
 * percentage mode. */
export function thresholdColour(value, thresholds, min = 0, max = 100) {
  const steps = Array.isArray(thresholds?.steps) ? thresholds.steps : [];
  if (steps.length === 0 || value === null || !Number.isFinite(value)) return null;
  let compared = value;
  if (thresholds.mode === "percentage") {
    compared = max === min ? 0 : ((value - min) / (max - min)) * 100;
  }
  let colour = steps[0].color;
  for (const step of steps) {
    const limit = step.value === null || step.value === undefined ? -Infinity : Number(step.value);
    if (compared >= limit) colour = step.color;
  }
  return colourHex(colour);
}

/** Grafana value mappings (`value`, `range`, `special` null/NaN): `{text, colour}` or null. */
export function applyMappings(value, mappings) {
  if (!Array.isArray(mappings)) return null;
  for (const mapping of mappings) {
    const options = mapping?.options ?? {};
    let result = null;
    if (mapping.type === "value" && value !== null) {
      const key = Object.keys(options).find((k) => Number(k) === value || k === String(value));
      if (key !== undefined) result = options[key];
    } else if (mapping.type === "range" && value !== null) {
      const from = options.from ?? -Infinity;
      const to = options.to ?? Infinity;
      if (value >= from && value <= to) result = options.result;
    } else if (mapping.type === "special") {
      const match = options.match;
      if ((match === "null" && value === null) || (match === "nan" && Number.isNaN(value))) {
        result = options.result;
      }
    }
    if (result) {
      return { text: result.text ?? null, colour: result.color ? colourHex(result.color) : null };
    }
  }
  return null;
}

function fixed(value, decimals) {
  if (decimals !== undefined && decimals !== null) return value.toFixed(decimals);
  const magnitude = Math.abs(value);
  let auto;
  if (magnitude === 0 || magnitude >= 100) auto = 0;
  else if (magnitude >= 10) auto = 1;
  else if (magnitude >= 1) auto = 2;
  else auto = Math.min(6, 1 - Math.floor(Math.log10(magnitude)));
  let text = value.toFixed(auto);
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return text;
}

// Scales `value` by `base` through `suffixes` (the first one for the unscaled value).
function scaled(value, decimals, base, suffixes) {
  let index = 0;
  let current = value;
  while (Math.abs(current) >= base && index < suffixes.length - 1) {
    current /= base;
    index += 1;
  }
  return fixed(current, decimals) + suffixes[index];
}

const SHORT = ["", " K", " Mil", " Bil", " Tri"];
const IEC_BYTES = [" B", " KiB", " MiB", " GiB", " TiB", " PiB"];
const SI_BYTES = [" B", " kB", " MB", " GB", " TB", " PB"];
const PER_SECOND = { reqps: " req/s", rps: " req/s", ops: " ops/s", wps: " wps", iops: " io/s" };

function duration(seconds, decimals) {
  const magnitude = Math.abs(seconds);
  if (magnitude === 0) return fixed(0, decimals) + " s";
  if (magnitude < 1e-3) return fixed(seconds * 1e6, decimals) + " µs";
  if (magnitude < 1) return fixed(seconds * 1e3, decimals) + " ms";
  if (magnitude < 60) return fixed(seconds, decimals) + " s";
  if (magnitude < 3600) return fixed(seconds / 60, decimals) + " min";
  if (magnitude < 86400) return fixed(seconds / 3600, decimals) + " hour";
  return fixed(seconds / 86400, decimals) + " day";
}

/** `value` as Grafana shows it in `unit` (the units our dashboards use, and their neighbours);
 * an unknown unit is shown as a suffix, as Grafana does with custom units. */
export function formatValue(value, unit, decimals) {
  if (value === null || value === undefined || Number.isNaN(value)) return "No data";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  switch (unit ?? "") {
    case "":
    case "none":
      return fixed(value, decimals);
    case "short":
      return scaled(value, decimals, 1000, SHORT);
    case "percent":
      return fixed(value, decimals) + "%";
    case "percentunit":
      return fixed(value * 100, decimals) + "%";
    case "bytes":
      return scaled(value, decimals, 1024, IEC_BYTES);
    case "decbytes":
      return scaled(value, decimals, 1000, SI_BYTES);
    case "Bps":
      return scaled(value, decimals, 1000, SI_BYTES.map((s) => s + "/s"));
    case "binBps":
      return scaled(value, decimals, 1024, IEC_BYTES.map((s) => s + "/s"));
    case "bps":
      return scaled(value, decimals, 1000, [" b/s", " kb/s", " Mb/s", " Gb/s", " Tb/s"]);
    case "s":
      return duration(value, decimals);
    case "ms":
      return duration(value / 1e3, decimals);
    case "µs":
    case "us":
      return duration(value / 1e6, decimals);
    case "reqps":
    case "rps":
    case "ops":
    case "wps":
    case "iops":
      return scaled(value, decimals, 1000, SHORT) + PER_SECOND[unit];
    default:
      return fixed(value, decimals) + " " + unit;
  }
}

const NICE_STEPS = [
  1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200,
  86400,
];

/** The query_range step, in seconds, for `rangeSeconds` drawn `widthPx` wide: about one point
 * per pixel, never finer than the scrape interval, rounded up to a round number. */
export function chooseStep(rangeSeconds, widthPx, minStepSeconds) {
  const raw = Math.max(rangeSeconds / Math.max(widthPx, 1), minStepSeconds, 1);
  const nice = NICE_STEPS.find((step) => step >= raw);
  return nice ?? Math.ceil(raw / 86400) * 86400;
}

/** A Prometheus/Grafana duration ("15s", "5m", "1h30m") in seconds, or null. */
export function parseDuration(text) {
  if (typeof text !== "string") return null;
  const match = text.trim().match(/^((\d+)(ms|s|m|h|d|w|y))+$/);
  if (!match) return null;
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const [, count, unit] of text.trim().matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    total += Number(count) * units[unit];
  }
  return total;
}

/** A Grafana time ("now", "now-6h", epoch milliseconds) in seconds since the epoch, or null. */
export function parseTime(text, nowSeconds) {
  const value = String(text ?? "").trim();
  if (value === "now") return nowSeconds;
  const relative = value.match(/^now-(.+)$/);
  if (relative) {
    const offset = parseDuration(relative[1]);
    return offset === null ? null : nowSeconds - offset;
  }
  if (/^\d{10,}$/.test(value)) return Number(value) / 1000;
  return null;
}

// Grafana's prometheusSpecialRegexEscape: a value put inside a regex matcher matches itself.
export function regexEscape(value) {
  return String(value)
    .replace(/\\/g, "\\\\\\\\")
    .replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
}

/** The text a variable stands for in a PromQL expression, as Grafana's Prometheus data source
 * interpolates it: `allValue` (or every option) for All, one escaped value, or `(a|b)`. */
export function variableText(variable) {
  const selected = Array.isArray(variable.selected) ? variable.selected : [variable.selected];
  const all = selected.includes("$__all");
  if (all && variable.allValue) return variable.allValue;
  const values = all ? (variable.options ?? []) : selected;
  if (!variable.multi && !variable.includeAll) {
    return String(values[0] ?? "").replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  }
  if (values.length === 1) return regexEscape(values[0]);
  return "(" + values.map(regexEscape).join("|") + ")";
}

/** `expr` with `$name`, `${name}`, `${name:format}` and `[[name]]` replaced from `variables`
 * (name -> variable) and `builtins` (name -> text); unknown names are left as written, so
 * Prometheus reports them on the panel. */
export function interpolate(expr, variables, builtins = {}) {
  const lookup = (name) => {
    if (Object.hasOwn(builtins, name)) return builtins[name];
    if (Object.hasOwn(variables, name)) return variableText(variables[name]);
    return null;
  };
  return String(expr).replace(
    /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g,
    (whole, braced, bracketed, plain) => lookup(braced ?? bracketed ?? plain) ?? whole,
  );
}

/** Grafana's built-in interval variables for a query with `step` (seconds). */
export function intervalBuiltins(step, rangeSeconds, scrapeSeconds) {
  const rate = Math.max(step + scrapeSeconds, 4 * scrapeSeconds);
  return {
    __interval: `${step}s`,
    __interval_ms: String(step * 1000),
    __rate_interval: `${rate}s`,
    __range: `${Math.round(rangeSeconds)}s`,
    __range_s: String(Math.round(rangeSeconds)),
    __range_ms: String(Math.round(rangeSeconds * 1000)),
  };
}

/** A series' legend: `legendFormat` with `{{label}}` replaced, or Grafana's default
 * `name{label="value", ...}` when there is no format. */
export function legendText(legendFormat, labels) {
  if (legendFormat && legendFormat !== "__auto") {
    const text = legendFormat.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, name) => labels[name] ?? "");
    return text.trim();
  }
  const { __name__: name = "", ...rest } = labels;
  const pairs = Object.keys(rest)
    .sort()
    .map((key) => `${key}="${rest[key]}"`);
  if (pairs.length === 0) return name || "value";
  return `${name}{${pairs.join(", ")}}`;
}

/** `label_values(metric, label)` or `label_values(label)` as `{metric, label}`, or null. */
export function parseLabelValues(query) {
  const text = typeof query === "string" ? query : (query?.query ?? "");
  const match = text.trim().match(/^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s);
  if (!match) return null;
  return { metric: match[1] ?? null, label: match[2] };
}

/** Grafana's reducers for stat, gauge, bargauge and legends, over one series' values. */
export function reduce(values, calc) {
  const present = values.filter((v) => v !== null && !Number.isNaN(v));
  switch (calc) {
    case "lastNotNull":
      return present.length ? present[present.length - 1] : null;
    case "last":
      return values.length ? values[values.length - 1] : null;
    case "firstNotNull":
      return present.length ? present[0] : null;
    case "max":
      return present.length ? Math.max(...present) : null;
    case "min":
      return present.length ? Math.min(...present) : null;
    case "mean":
      return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
    case "sum":
      return present.reduce((a, b) => a + b, 0);
    default:
      return undefined;
  }
}

export const REDUCER_NAMES = {
  lastNotNull: "Last *", last: "Last", firstNotNull: "First *", max: "Max", min: "Min",
  mean: "Mean", sum: "Total",
};
