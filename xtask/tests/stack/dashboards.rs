//! The Grafana dashboard: rebuilt from the seed's as provisionable raw JSON, keeping its panels
//! and green/yellow/red thresholds. (That every query returns data is shown by the end-to-end
//! test against the running stack.)

use std::collections::BTreeSet;

use serde_json::Value;

use super::support::{repo, seed};

pub fn shipped() -> Value {
    let text = std::fs::read_to_string(repo().join("grafana/dashboards/sistema-monitoreo.json"))
        .expect("the dashboard file");
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

pub fn original() -> Value {
    let path = seed().join("grafana/provisioning/dashboards/system_monitoring.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the seed's dashboard is expected at {}: {err}",
            path.display()
        )
    });
    let value: Value = serde_json::from_str(&text).expect("the seed's dashboard parses");
    value.get("dashboard").cloned().unwrap_or(value)
}

/// Every panel, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().cloned().unwrap_or_default() {
        all.extend(panel["panels"].as_array().cloned().unwrap_or_default());
        all.push(panel);
    }
    all
}

/// Every query expression, with the dashboard's variables set to "all".
pub fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    panels(dashboard)
        .iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |target| {
                    let expr = target["expr"].as_str()?;
                    Some((
                        title.clone(),
                        expr.replace("$node", ".+").replace("$app_instance", ".+"),
                    ))
                })
        })
        .collect()
}

#[test]
fn shipped_dashboard_is_provisionable_and_current() {
    let dashboard = shipped();
    assert!(
        dashboard.get("dashboard").is_none(),
        "file provisioning wants the bare dashboard"
    );
    assert_eq!(dashboard["title"], "Sistema de Monitoreo Completo");
    assert!(
        dashboard["uid"]
            .as_str()
            .is_some_and(|uid| !uid.is_empty() && uid.len() <= 40)
    );
    let provisioning =
        std::fs::read_to_string(repo().join("grafana/provisioning/datasources/prometheus.yml"))
            .unwrap();
    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        let kind = panel["type"].as_str().unwrap_or_default();
        assert!(
            ["row", "stat", "timeseries", "table", "bargauge"].contains(&kind),
            "panel {title:?} has type {kind:?}"
        );
        assert!(
            ids.insert(panel["id"].as_i64().expect("panel id")),
            "duplicate id in {title:?}"
        );
        for key in ["h", "w", "x", "y"] {
            assert!(
                panel["gridPos"][key].is_i64(),
                "panel {title:?} lacks gridPos.{key}"
            );
        }
        if kind != "row" {
            let uid = panel["datasource"]["uid"].as_str().unwrap_or_default();
            assert!(
                provisioning.contains(&format!("uid: {uid}")),
                "panel {title:?} uses datasource {uid:?}"
            );
        }
    }
    let rows: Vec<String> = panels(&dashboard)
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    for wanted in ["balanceo", "mysql", "nginx", "contenedores"] {
        assert!(
            rows.iter().any(|r| r.contains(wanted)),
            "no row for {wanted}: {rows:?}"
        );
    }
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .map(|vars| vars.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        variables.contains(&"node") && variables.contains(&"app_instance"),
        "{variables:?}"
    );
}

#[test]
fn every_seed_panel_is_kept_with_its_thresholds() {
    let shipped_panels = panels(&shipped());
    for old in panels(&original()) {
        let title = old["title"].as_str().unwrap_or_default();
        let new = shipped_panels
            .iter()
            .find(|p| p["title"] == old["title"])
            .unwrap_or_else(|| panic!("the seed's panel {title:?} is gone"));
        let expected_type = if old["type"] == "graph" {
            "timeseries"
        } else {
            old["type"].as_str().unwrap_or_default()
        };
        assert_eq!(new["type"], expected_type, "panel {title:?}");
        let old_steps = &old["fieldConfig"]["defaults"]["thresholds"]["steps"];
        if let Some(steps) = old_steps.as_array() {
            let colours = |steps: &[Value]| -> Vec<(String, Option<f64>)> {
                steps
                    .iter()
                    .map(|s| {
                        (
                            s["color"].as_str().unwrap_or_default().to_owned(),
                            s["value"].as_f64(),
                        )
                    })
                    .collect()
            };
            let new_steps = new["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .unwrap_or_else(|| panic!("panel {title:?} lost its thresholds"));
            let (old_c, new_c) = (colours(steps), colours(new_steps));
            for step in &old_c {
                assert!(
                    new_c.contains(step),
                    "panel {title:?}: threshold {step:?} missing in {new_c:?}"
                );
            }
        }
        // Deliberate fix: the seed graphed nginx's raw request counter; the panel now shows the
        // rate, in requests per second.
        let deliberate = [("Tráfico Nginx", "short", "reqps")];
        let (old_unit, new_unit) = (
            &old["fieldConfig"]["defaults"]["unit"],
            &new["fieldConfig"]["defaults"]["unit"],
        );
        if old_unit != new_unit {
            assert!(
                deliberate
                    .iter()
                    .any(|(t, o, n)| *t == title && old_unit == o && new_unit == n),
                "panel {title:?} changed unit from {old_unit} to {new_unit}"
            );
        }
    }
}

#[test]
fn compose_mounts_what_provisioning_expects() {
    let provider =
        std::fs::read_to_string(repo().join("grafana/provisioning/dashboards/octo.yml")).unwrap();
    let compose = std::fs::read_to_string(repo().join("compose.yml")).unwrap();
    assert!(provider.contains("path: /var/lib/grafana/dashboards"));
    assert!(compose.contains("./grafana/dashboards:/var/lib/grafana/dashboards:ro"));
    assert!(compose.contains("./grafana/provisioning:/etc/grafana/provisioning:ro"));
}
