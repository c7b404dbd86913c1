// Prometheus's read-only HTTP API, reached through the server that serves the viewer (which
// passes on only GET /api/v1/{query,query_range,series,labels,label/<name>/values}).

const TIMEOUT_MS = 30000;

/** Counts the requests of the current refresh, so the test can check they are bounded. */
export const counters = { queries: 0, metadata: 0 };

export class PrometheusError extends Error {}

async function get(path, params) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of params) url.searchParams.append(key, value);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, { signal: abort.signal, cache: "no-store" });
  } catch (err) {
    const why = err.name === "AbortError" ? `no answer within ${TIMEOUT_MS / 1000} s` : err.message;
    throw new PrometheusError(`Prometheus unreachable: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // nginx's own error pages (502 when Prometheus is down) are not JSON.
  }
  if (!response.ok || body?.status !== "success") {
    const detail = body?.error ? `${body.errorType ?? "error"}: ${body.error}` : response.statusText;
    throw new PrometheusError(`Prometheus answered ${response.status}: ${detail}`);
  }
  return body.data;
}

/** A range query: the matrix's series as `{labels, points: [[t, v], ...]}`. */
export async function queryRange(expr, start, end, step) {
  counters.queries += 1;
  const data = await get("api/v1/query_range", [
    ["query", expr], ["start", String(start)], ["end", String(end)], ["step", String(step)],
  ]);
  return (data.result ?? []).map((series) => ({
    labels: series.metric ?? {},
    points: (series.values ?? []).map(([t, v]) => [Number(t), Number(v)]),
  }));
}

/** An instant query: each series as `{labels, points: [[t, v]]}` (scalars as one series). */
export async function queryInstant(expr, time) {
  counters.queries += 1;
  const data = await get("api/v1/query", [["query", expr], ["time", String(time)]]);
  if (data.resultType === "scalar" || data.resultType === "string") {
    return [{ labels: {}, points: [[Number(data.result[0]), Number(data.result[1])]] }];
  }
  return (data.result ?? []).map((series) => ({
    labels: series.metric ?? {},
    points: [[Number(series.value[0]), Number(series.value[1])]],
  }));
}

/** The values of `label`, among the series of `match` if given, within [start, end]. */
export async function labelValues(label, match, start, end) {
  counters.metadata += 1;
  const params = [["start", String(start)], ["end", String(end)]];
  if (match) params.push(["match[]", match]);
  return get(`api/v1/label/${encodeURIComponent(label)}/values`, params);
}
