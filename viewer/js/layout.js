// Grafana's grid: 24 columns, rows of 30 px. Panels keep their gridPos; panels without one (the
// seed's dashboard predates gridPos) flow left to right after the placed ones; a collapsed row
// holds its panels and, once expanded, pushes what follows down by their height.

const COLUMNS = 24;

function hasGridPos(def) {
  const pos = def.gridPos;
  return pos && ["x", "y", "w", "h"].every((key) => Number.isFinite(pos[key]));
}

function defaultSize(def) {
  if (def.type === "row") return { w: COLUMNS, h: 1 };
  if (def.type === "stat" || def.type === "gauge") return { w: 6, h: 5 };
  return { w: 12, h: 8 };
}

/** Positions for every top-level panel, without gridPos ones placed by flowing. */
function positioned(defs) {
  let bottom = 0;
  for (const def of defs) {
    if (hasGridPos(def)) bottom = Math.max(bottom, def.gridPos.y + def.gridPos.h);
  }
  const cursor = { x: 0, y: bottom, rowHeight: 0 };
  return defs.map((def) => {
    if (hasGridPos(def)) return { def, ...def.gridPos };
    const { w, h } = defaultSize(def);
    if (cursor.x + w > COLUMNS) {
      cursor.x = 0;
      cursor.y += cursor.rowHeight;
      cursor.rowHeight = 0;
    }
    const placed = { def, x: cursor.x, y: cursor.y, w, h };
    cursor.x += w;
    cursor.rowHeight = Math.max(cursor.rowHeight, h);
    return placed;
  });
}

/** Every cell to draw as `{def, x, y, w, h, row}` (row: the row a panel belongs to, or null);
 * `expanded` holds the ids of collapsed rows the reader opened. */
export function layout(defs, expanded) {
  const cells = [];
  let shift = 0;
  let currentRow = null;
  const ordered = positioned(defs).sort((a, b) => a.y - b.y || a.x - b.x);
  for (const item of ordered) {
    const cell = { ...item, y: item.y + shift, row: item.def.type === "row" ? null : currentRow };
    cells.push(cell);
    if (item.def.type !== "row") continue;
    currentRow = item.def;
    const children = item.def.collapsed ? (item.def.panels ?? []) : [];
    if (!children.length || !expanded.has(item.def.id)) continue;
    const inner = positioned(children);
    const top = Math.min(...inner.map((c) => c.y));
    const height = Math.max(...inner.map((c) => c.y + c.h)) - top;
    for (const child of inner) {
      cells.push({ ...child, y: cell.y + 1 + child.y - top, row: item.def });
    }
    shift += height;
  }
  return cells;
}
