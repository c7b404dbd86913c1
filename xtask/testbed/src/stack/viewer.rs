//! The dashboard viewer's server: a server block of the stack's nginx that serves the static
//! viewer (`viewer/` in the repository), the configured Grafana dashboard files (read in place
//! through symbolic links, listed in `dashboards/index.json`), and passes on to Prometheus only
//! the GET requests of its read-only query API. Everything else is 404 (403 for another method
//! on a query path).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::options::{StackOptions, StackPorts};
use crate::error::TestbedError;
use crate::files::write_file;

/// Where, under nginx's prefix, the links to the dashboard files and their index go.
pub(super) const DASHBOARDS_DIR: &str = "viewer-dashboards";

/// Prometheus's read-only endpoints the viewer uses, passed on as exact paths.
const QUERY_PATHS: &[&str] = &[
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
];

fn start_error(detail: String) -> TestbedError {
    TestbedError::Start {
        service: "dashboard viewer".into(),
        detail,
    }
}

/// The dashboard files `paths` name: files as given, directories as their `*.json` files in
/// name order.
fn dashboard_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TestbedError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| TestbedError::Io {
                context: format!("listing the dashboards in {}", path.display()),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|ext| ext == "json") && p.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(start_error(format!(
                "the dashboard {} does not exist",
                path.display()
            )));
        }
    }
    Ok(files)
}

/// A dashboard's title: `title`, or `dashboard.title` for files wrapped as Grafana's HTTP API
/// exports them (the seed's).
fn dashboard_title(file: &Path) -> Result<String, TestbedError> {
    let text = std::fs::read_to_string(file).map_err(|source| TestbedError::Io {
        context: format!("reading the dashboard {}", file.display()),
        source,
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        start_error(format!(
            "the dashboard {} is not JSON: {err}",
            file.display()
        ))
    })?;
    let dashboard = value.get("dashboard").unwrap_or(&value);
    Ok(dashboard["title"].as_str().unwrap_or_default().to_owned())
}

/// Links every configured dashboard into `dir` as `<n>.json` and writes `index.json`, which
/// tells the viewer what there is and the scrape interval (its shortest useful query step).
pub(super) fn publish_dashboards(dir: &Path, options: &StackOptions) -> Result<(), TestbedError> {
    std::fs::create_dir_all(dir).map_err(|source| TestbedError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    let mut listed = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (n, file) in dashboard_files(&options.dashboards)?.iter().enumerate() {
        let title = dashboard_title(file)?;
        let target = file.canonicalize().map_err(|source| TestbedError::Io {
            context: format!("resolving {}", file.display()),
            source,
        })?;
        let link = dir.join(format!("{n}.json"));
        std::os::unix::fs::symlink(&target, &link).map_err(|source| TestbedError::Io {
            context: format!("linking {} to {}", link.display(), target.display()),
            source,
        })?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut id = stem.clone();
        let mut suffix = 2;
        while !ids.insert(id.clone()) {
            id = format!("{stem}-{suffix}");
            suffix += 1;
        }
        listed.push(serde_json::json!({
            "id": id,
            "title": title,
            "file": file.file_name().map(|f| f.to_string_lossy().into_owned()),
            "path": format!("dashboards/{n}.json"),
        }));
    }
    let index = serde_json::json!({
        "scrapeInterval": format!("{}s", options.scrape_interval.max(Duration::from_secs(1)).as_secs()),
        "dashboards": listed,
    });
    write_file(&dir.join("index.json"), &index.to_string())
}

/// `path` as an nginx string; fails on characters nginx would read as syntax or variables.
fn nginx_path(path: &Path) -> Result<String, TestbedError> {
    let text = path.display().to_string();
    if text
        .chars()
        .any(|c| c.is_control() || "\"'\\$;{}".contains(c))
    {
        return Err(start_error(format!(
            "nginx cannot be given the path {text:?} safely; move the checkout"
        )));
    }
    Ok(format!("\"{text}\""))
}

/// The viewer's nginx server block.
pub(super) fn nginx_server(
    repo: &Path,
    ports: &StackPorts,
    dashboards: &Path,
) -> Result<String, TestbedError> {
    let root = nginx_path(&repo.join("viewer"))?;
    let dashboards = nginx_path(&dashboards.join(""))?;
    let prometheus = format!("http://127.0.0.1:{}", ports.prometheus);
    let proxy = |upstream_path: &str| {
        format!(
            "    limit_except GET {{ deny all; }}\n    \
             proxy_pass {prometheus}{upstream_path}$is_args$args;\n    \
             proxy_pass_request_body off;\n    proxy_set_header Content-Length \"\";\n    \
             proxy_set_header Cookie \"\";\n    proxy_set_header Authorization \"\";\n    \
             proxy_connect_timeout 2s;\n    proxy_read_timeout 60s;\n"
        )
    };
    let mut api = String::new();
    for path in QUERY_PATHS {
        api.push_str(&format!("  location = {path} {{\n{}  }}\n", proxy(path)));
    }
    api.push_str(&format!(
        "  location ~ ^/api/v1/label/([a-zA-Z_][a-zA-Z0-9_]*)/values$ {{\n{}  }}\n",
        proxy("/api/v1/label/$1/values")
    ));
    Ok(format!(
        "server {{\n  listen 127.0.0.1:{port};\n  \
         # Not the public site: its requests stay out of the access log and nginx's metrics.\n  \
         access_log off;\n  server_tokens off;\n  root {root};\n  \
         types {{ text/html html; text/css css; text/javascript js; application/json json; }}\n  \
         default_type application/octet-stream;\n  charset utf-8;\n  \
         charset_types text/css text/javascript application/json;\n  \
         add_header Content-Security-Policy \"default-src 'none'; script-src 'self'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'\" always;\n  \
         add_header X-Content-Type-Options nosniff always;\n  \
         add_header Referrer-Policy no-referrer always;\n  \
         add_header Cache-Control no-cache always;\n  \
         location = / {{ try_files /index.html =404; }}\n  \
         location = /index.html {{ }}\n  location = /viewer.css {{ }}\n  \
         location ^~ /js/ {{ }}\n  \
         location = /vendor/uplot/uPlot.esm.js {{ }}\n  \
         location = /vendor/uplot/uPlot.min.css {{ }}\n  \
         location ^~ /dashboards/ {{ alias {dashboards}; }}\n\
         {api}  location / {{ return 404; }}\n}}\n",
        port = ports.viewer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_is_never_given_a_path_it_would_read_as_syntax() {
        assert_eq!(
            nginx_path(Path::new("/work/octo/viewer")).unwrap(),
            "\"/work/octo/viewer\""
        );
        for bad in ["/a\"b", "/a$uri", "/a;b", "/a{b", "/a\nb", "/a'b", "/a\\b"] {
            assert!(nginx_path(Path::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dashboards_are_files_or_the_json_files_of_directories_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.json", "a.json", "notes.txt"] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        let single = dir.path().join("a.json");
        let files = dashboard_files(&[dir.path().to_owned(), single.clone()]).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.json"), dir.path().join("b.json"), single]
        );
        assert!(dashboard_files(&[dir.path().join("missing.json")]).is_err());
    }
}
