// The table panel: an instant query's series as rows (Time, the labels, Value), with Grafana's
// "organize" transformation, value mappings, thresholds and colour-background cells.

import { contrastText, el } from "./dom.js";
import { applyMappings, formatValue, thresholdColour } from "./format.js";

/** What this drawing does not do, for the panel's notice. */
export function unsupportedTableFeatures(panel) {
  return (panel.transformations ?? [])
    .filter((t) => t.id !== "organize")
    .map((t) => `transformation "${t.id}" not applied`);
}

function organize(columns, panel) {
  const spec = (panel.transformations ?? []).find((t) => t.id === "organize")?.options ?? {};
  const excluded = spec.excludeByName ?? {};
  const renamed = spec.renameByName ?? {};
  const order = spec.indexByName ?? {};
  return columns
    .filter((c) => !excluded[c.key])
    .map((c, i) => ({ ...c, title: renamed[c.key] || c.key, order: order[c.key] ?? 1000 + i }))
    .sort((a, b) => a.order - b.order);
}

export function drawTable(body, frames, field, panel) {
  const rows = frames.flatMap(({ series }) =>
    series.map((one) => ({ ...one.labels, Time: one.points.at(-1)?.[0] ?? null, Value: one.points.at(-1)?.[1] ?? null })),
  );
  const labelKeys = [...new Set(rows.flatMap((row) => Object.keys(row)))]
    .filter((key) => key !== "Time" && key !== "Value")
    .sort();
  const columns = organize(
    [{ key: "Time" }, ...labelKeys.map((key) => ({ key })), { key: "Value", numeric: true }],
    panel,
  );
  const sortBy = panel.options?.sortBy?.[0];
  const sortColumn = columns.find((c) => c.title === sortBy?.displayName);
  if (sortColumn) {
    rows.sort((a, b) => {
      const [x, y] = [a[sortColumn.key], b[sortColumn.key]];
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return sortBy.desc ? -order : order;
    });
  }
  const cellType = field.custom?.cellOptions?.type ?? field.custom?.displayMode ?? "auto";
  const table = el("table", "data-table");
  if (panel.options?.showHeader !== false) {
    table.append(el("thead", null, el("tr", null, ...columns.map((c) => el("th", null, c.title)))));
  }
  const tbody = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    for (const column of columns) {
      const value = row[column.key];
      let text;
      let colour = null;
      if (column.key === "Time") {
        text = value === null ? "" : new Date(value * 1000).toLocaleString();
      } else if (column.numeric) {
        const mapped = applyMappings(value, field.mappings);
        text = mapped?.text ?? formatValue(value, field.unit, field.decimals);
        colour = mapped?.colour ?? thresholdColour(value, field.thresholds);
      } else {
        text = value ?? "";
      }
      const td = el("td", null, text);
      // Only numbers are coloured: thresholds say nothing about a label's text.
      if (colour && /color-background/.test(cellType)) {
        td.style.backgroundColor = colour;
        td.style.color = contrastText(colour);
        td.dataset.colour = colour;
      } else if (colour && /color-text/.test(cellType)) {
        td.style.color = colour;
        td.dataset.colour = colour;
      }
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(tbody);
  body.replaceChildren(el("div", "table-box", table));
  return rows.map((row) => {
    const { Time: _t, Value: _v, ...labels } = row;
    return labels;
  });
}
