// DOM helpers. Text from dashboards and from Prometheus (titles, label values, legends) only
// ever goes in as text nodes: nothing here parses HTML.

/** `<tag class=...>` with text children and element children, in order. */
export function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Black or white, whichever reads better on `hex` (Grafana's contrast text). */
export function contrastText(hex) {
  const match = /^#([0-9a-fA-F]{6})/.exec(hex ?? "");
  if (!match) return "#FFFFFF";
  const n = parseInt(match[1], 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.4 ? "#000000" : "#FFFFFF";
}

/** `#RRGGBB` with an alpha from 0 to 1, for fills. */
export function withAlpha(hex, alpha) {
  if (!/^#[0-9a-fA-F]{6}$/.test(hex)) return hex;
  const byte = Math.round(Math.min(1, Math.max(0, alpha)) * 255);
  return hex + byte.toString(16).padStart(2, "0");
}
