// The viewer's pure helpers: `node --test viewer/test/` (run by the xtask stack tests too).
import assert from "node:assert/strict";
import test from "node:test";

import {
  applyMappings, chooseStep, colourHex, formatValue, interpolate, legendText, parseLabelValues,
  parseTime, reduce, thresholdColour,
} from "../js/format.js";

test("units as Grafana shows them", () => {
  assert.equal(formatValue(42.345, "percent", 1), "42.3%");
  assert.equal(formatValue(0.0512, "percentunit", 2), "5.12%");
  assert.equal(formatValue(1536, "bytes"), "1.5 KiB");
  assert.equal(formatValue(3 * 1024 ** 3, "bytes", 1), "3.0 GiB");
  assert.equal(formatValue(2500, "Bps"), "2.5 kB/s");
  assert.equal(formatValue(0.0042, "s", 3), "4.200 ms");
  assert.equal(formatValue(90, "s"), "1.5 min");
  assert.equal(formatValue(250, "ms"), "250 ms");
  assert.equal(formatValue(12.5, "reqps"), "12.5 req/s");
  assert.equal(formatValue(15300, "short"), "15.3 K");
  assert.equal(formatValue(3, "none"), "3");
  assert.equal(formatValue(7, "widgets"), "7 widgets");
  assert.equal(formatValue(null, "percent"), "No data");
});

test("thresholds pick the last step at or below the value", () => {
  const thresholds = { mode: "absolute", steps: [
    { color: "green", value: null }, { color: "yellow", value: 5 }, { color: "red", value: 10 },
  ] };
  assert.equal(thresholdColour(0, thresholds), "#73BF69");
  assert.equal(thresholdColour(5, thresholds), "#FADE2A");
  assert.equal(thresholdColour(9.99, thresholds), "#FADE2A");
  assert.equal(thresholdColour(50, thresholds), "#F2495C");
  assert.equal(thresholdColour(50, { mode: "percentage", steps: thresholds.steps }, 0, 1000), "#FADE2A");
  assert.equal(thresholdColour(null, thresholds), null);
});

test("colours never carry arbitrary text into a style", () => {
  assert.equal(colourHex("dark-red"), "#C4162A");
  assert.equal(colourHex("#abcdef"), "#abcdef");
  assert.equal(colourHex("rgb(1, 2, 3)"), "rgb(1, 2, 3)");
  assert.equal(colourHex("red; background: url(x)"), "#808080");
  assert.equal(colourHex("__proto__"), "#808080");
});

test("value mappings", () => {
  const mappings = [{ type: "value", options: { 0: { text: "DOWN", color: "red" }, 1: { text: "UP", color: "green" } } }];
  assert.deepEqual(applyMappings(1, mappings), { text: "UP", colour: "#73BF69" });
  assert.deepEqual(applyMappings(0, mappings), { text: "DOWN", colour: "#F2495C" });
  assert.equal(applyMappings(2, mappings), null);
});

test("the step follows the panel width, never below the scrape interval, rounded", () => {
  assert.equal(chooseStep(3600, 600, 15), 15);
  assert.equal(chooseStep(3600, 100, 15), 60);
  assert.equal(chooseStep(300, 1000, 1), 1);
  assert.equal(chooseStep(7 * 86400, 500, 15), 1800);
  assert.ok(3600 / chooseStep(3600, 577, 1) <= 577);
});

test("template variables as Grafana's Prometheus data source interpolates them", () => {
  const instance = { selected: ["$__all"], options: ["a:1", "b:2"], multi: true, includeAll: true, allValue: ".+" };
  assert.equal(interpolate('up{instance=~"$instance"}', { instance }), 'up{instance=~".+"}');
  const one = { ...instance, selected: ["127.0.0.1:5000"] };
  assert.equal(interpolate('up{instance=~"${instance}"}', { instance: one }), 'up{instance=~"127\\\\.0\\\\.0\\\\.1:5000"}');
  const two = { ...instance, selected: ["a:1", "b:2"] };
  assert.equal(interpolate("x{i=~\"[[instance]]\"}", { instance: two }), 'x{i=~"(a:1|b:2)"}');
  const noAllValue = { ...instance, allValue: null };
  assert.equal(interpolate('$instance', { instance: noAllValue }), "(a:1|b:2)");
  assert.equal(interpolate("rate(x[$__rate_interval]) $unknown", {}, { __rate_interval: "60s" }), "rate(x[60s]) $unknown");
  assert.equal(interpolate("$node_x", { node: instance }), "$node_x");
});

test("legends, label_values, reducers, times", () => {
  assert.equal(legendText("{{method}} {{endpoint}}", { method: "GET", endpoint: "/" }), "GET /");
  assert.equal(legendText("p95", {}), "p95");
  assert.equal(legendText("", { __name__: "up", job: "app" }), 'up{job="app"}');
  assert.deepEqual(parseLabelValues("label_values(node_uname_info, instance)"), { metric: "node_uname_info", label: "instance" });
  assert.deepEqual(parseLabelValues('label_values(http_requests_total{job="app"}, instance)'), { metric: 'http_requests_total{job="app"}', label: "instance" });
  assert.deepEqual(parseLabelValues("label_values(job)"), { metric: null, label: "job" });
  assert.equal(parseLabelValues("query_result(up)"), null);
  assert.equal(reduce([1, 5, null], "lastNotNull"), 5);
  assert.equal(reduce([1, 5, null], "max"), 5);
  assert.equal(parseTime("now-1h", 10000), 6400);
  assert.equal(parseTime("now", 10000), 10000);
  assert.equal(parseTime("1700000000000", 0), 1700000000);
  assert.equal(parseTime("yesterday", 0), null);
});
