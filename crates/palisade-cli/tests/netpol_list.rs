//! End-to-end tests of `palisade netpol list` and `palisade netpol diff`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run palisade")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const HARDENED: &str = "examples/guestbook-hardened";
const CONTEXT: &str = "crates/palisade-netpol/testdata/context/dns-and-ingress-controller.yaml";
/// Policies for the user service and its database, kept out of the example itself.
const USER_DB: &str = "crates/palisade-netpol/testdata/context/user-service-database.yaml";

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn hardened_guestbook_alone_lists_exactly_its_paths() {
    let out = palisade(&["netpol", "list", "-f", HARDENED], &root());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    // Without the DNS server and the ingress controller in the input, only the application's
    // own paths are left: frontend -> message-service -> redis, and nothing else.
    assert_eq!(
        lines(&stdout(&out)),
        [
            "guestbook/frontend[Deployment] => guestbook/message-service[Deployment] : TCP 8080",
            "guestbook/message-service[Deployment] => guestbook/redis[StatefulSet] : TCP 6379",
        ]
    );
}

#[test]
fn hardened_guestbook_in_a_cluster_adds_dns_and_the_ingress_controller() {
    let out = palisade(&["netpol", "list", "-f", HARDENED, CONTEXT], &root());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let guestbook: Vec<&str> = text.lines().filter(|l| l.contains("guestbook/")).collect();
    assert_eq!(
        guestbook,
        [
            "guestbook/frontend[Deployment] => guestbook/message-service[Deployment] : TCP 8080",
            "guestbook/frontend[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
            "guestbook/message-service[Deployment] => guestbook/redis[StatefulSet] : TCP 6379",
            "guestbook/message-service[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
            "guestbook/redis[StatefulSet] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
            "guestbook/user-service[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
            "ingress-nginx/ingress-nginx-controller[Deployment] => guestbook/frontend[Deployment] : TCP 8080",
        ]
    );
    // The two unisolated workloads talk freely, with each other and with the outside.
    for l in [
        "0.0.0.0-255.255.255.255[External] => ingress-nginx/ingress-nginx-controller[Deployment] : All Connections",
        "ingress-nginx/ingress-nginx-controller[Deployment] => kube-system/coredns[Deployment] : All Connections",
        "kube-system/coredns[Deployment] => ingress-nginx/ingress-nginx-controller[Deployment] : All Connections",
    ] {
        assert!(text.lines().any(|x| x == l), "missing {l}:\n{text}");
    }
}

#[test]
fn focus_workload_by_namespace_and_name() {
    let out = palisade(
        &[
            "netpol",
            "list",
            "-f",
            HARDENED,
            CONTEXT,
            "--focus-workload",
            "guestbook/redis",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        lines(&stdout(&out)),
        [
            "guestbook/message-service[Deployment] => guestbook/redis[StatefulSet] : TCP 6379",
            "guestbook/redis[StatefulSet] => kube-system/coredns[Deployment] : TCP 53,UDP 53",
        ]
    );
    let out = palisade(
        &[
            "netpol",
            "list",
            "-f",
            HARDENED,
            "--focus-workload",
            "guestbook/nope",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("guestbook/nope"), "{}", stderr(&out));
}

#[test]
fn json_csv_md_dot_formats() {
    let out = palisade(
        &["netpol", "list", "-f", HARDENED, USER_DB, "-o", "json"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["src"], "guestbook/message-service[Deployment]");
    assert_eq!(rows[2]["dst"], "guestbook/redis[StatefulSet]");
    assert_eq!(rows[2]["conn"], "TCP 6379");

    let out = palisade(
        &["netpol", "list", "-f", HARDENED, CONTEXT, "-o", "csv"],
        &root(),
    );
    let csv = stdout(&out);
    assert_eq!(csv.lines().next(), Some("src,dst,conn"));
    assert!(
        csv.lines().any(|l| l
            == "guestbook/redis[StatefulSet],kube-system/coredns[Deployment],\"TCP 53,UDP 53\"")
    );

    let out = palisade(&["netpol", "list", "-f", HARDENED, "-o", "md"], &root());
    let md = stdout(&out);
    assert_eq!(
        md.lines().take(2).collect::<Vec<_>>(),
        ["| src | dst | conn |", "|-----|-----|------|"]
    );
    // Header, separator, and the example's two connections.
    assert_eq!(md.lines().count(), 4);

    let out = palisade(&["netpol", "list", "-f", HARDENED, "-o", "dot"], &root());
    let dot = stdout(&out);
    assert!(
        dot.starts_with("digraph {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    assert!(dot.contains("subgraph \"cluster_guestbook[namespace]\""));
    assert!(dot.contains(
        "\"guestbook/message-service[Deployment]\" -> \"guestbook/redis[StatefulSet]\" [label=\"TCP 6379\""
    ));
    assert_eq!(dot.matches(" -> ").count(), 2);

    let out = palisade(&["netpol", "list", "-f", HARDENED, "-o", "yaml"], &root());
    assert_eq!(out.status.code(), Some(2));
}

/// The `<td>` cells of a grid row whose header is `src`, as (class, data-dst, data-conn).
fn row_cells(html: &str, src: &str) -> Vec<(String, String, String)> {
    let start = format!("<tr><th class=\"row\" scope=\"row\">{src}</th>");
    let row = html
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row for {src}"));
    let attr = |cell: &str, name: &str| -> String {
        let key = format!("{name}=\"");
        let i = cell.find(&key).expect(name) + key.len();
        cell[i..].split('"').next().unwrap_or("").to_string()
    };
    row.split("<td ")
        .skip(1)
        .map(|cell| {
            (
                attr(cell, "class"),
                attr(cell, "data-dst"),
                attr(cell, "data-conn"),
            )
        })
        .collect()
}

#[test]
fn html_grid_is_self_contained_and_coloured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.html");
    let out = palisade(
        &[
            "netpol",
            "list",
            "-f",
            HARDENED,
            CONTEXT,
            USER_DB,
            "-o",
            "html",
            "--output-file",
            file.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "--output-file: nothing on stdout");
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    // Self-contained: no external scripts, styles, images or links.
    for needle in ["src=\"http", "href=", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "page references {needle}");
    }
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );
    assert_eq!(html.matches("<tr>").count(), html.matches("</tr>").count());
    // 6 workloads + 3 outside ranges (everything, cut around the users database's
    // 10.20.0.0/24) = 9 columns; one row each.
    let peers = 9;
    assert_eq!(html.matches("<th class=\"col\"").count(), peers);
    assert_eq!(html.matches("<th class=\"row\"").count(), peers);
    let frontend = row_cells(&html, "guestbook/frontend[Deployment]");
    assert_eq!(frontend.len(), peers);
    let cell = |cells: &[(String, String, String)], dst: &str| {
        cells
            .iter()
            .find(|c| c.1 == dst)
            .cloned()
            .unwrap_or_else(|| panic!("no cell for {dst}"))
    };
    let c = cell(&frontend, "guestbook/message-service[Deployment]");
    assert_eq!((c.0.as_str(), c.2.as_str()), ("some", "TCP 8080"));
    let c = cell(&frontend, "guestbook/redis[StatefulSet]");
    assert_eq!((c.0.as_str(), c.2.as_str()), ("none", "No Connections"));
    let c = cell(&frontend, "guestbook/frontend[Deployment]");
    assert_eq!(c.0, "self");
    let dns = row_cells(&html, "kube-system/coredns[Deployment]");
    let c = cell(&dns, "ingress-nginx/ingress-nginx-controller[Deployment]");
    assert_eq!((c.0.as_str(), c.2.as_str()), ("all", "All Connections"));
    // Outside ranges are cut on each other's boundaries: the ingress controller may reach
    // everything, the users database included; the user service only the database.
    let nginx = row_cells(&html, "ingress-nginx/ingress-nginx-controller[Deployment]");
    for r in [
        "0.0.0.0-10.19.255.255[External]",
        "10.20.0.0-10.20.0.255[External]",
        "10.20.1.0-255.255.255.255[External]",
    ] {
        assert_eq!(cell(&nginx, r).0, "all", "{r}");
    }
    let users = row_cells(&html, "guestbook/user-service[Deployment]");
    let c = cell(&users, "10.20.0.0-10.20.0.255[External]");
    assert_eq!((c.0.as_str(), c.2.as_str()), ("some", "TCP 5432"));
    assert_eq!(
        cell(&users, "10.20.1.0-255.255.255.255[External]").0,
        "none"
    );
    // Hovering explains: the cell carries the engine's reason.
    assert!(
        html.contains("data-why=\"TCP 8080: allowed"),
        "no explanation on an allowed cell"
    );
    assert!(
        html.contains("data-why=\"TCP 6379: denied"),
        "no explanation on a denied cell"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn diff_between_versions_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new");
    copy_dir(&root().join(HARDENED), &new);
    // The new version lets the frontend talk to Redis directly.
    let np = new.join("network-policies.yaml");
    let text = std::fs::read_to_string(&np).unwrap();
    let text = text.replacen(
        "              tier: messages\n      ports:\n        - protocol: TCP\n          port: 6379",
        "              tier: messages\n        - podSelector:\n            matchLabels:\n              app: guestbook\n              tier: frontend\n      ports:\n        - protocol: TCP\n          port: 6379",
        1,
    );
    let text = text.replacen(
        "              tier: messages\n      ports:\n        - protocol: TCP\n          port: 8080",
        "              tier: messages\n      ports:\n        - protocol: TCP\n          port: 8080\n    - to:\n        - podSelector:\n            matchLabels:\n              tier: redis\n      ports:\n        - protocol: TCP\n          port: 6379",
        1,
    );
    std::fs::write(&np, text).unwrap();
    let new_s = new.to_str().unwrap();
    let out = palisade(&["netpol", "diff", "-f", HARDENED, "--f2", new_s], &root());
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert_eq!(
        lines(&stdout(&out)),
        [
            "Connectivity diff:",
            "diff-type: added, source: guestbook/frontend[Deployment], destination: guestbook/redis[StatefulSet], old: No Connections, new: TCP 6379",
        ]
    );
    // The issue's spelling, `-f OLD -f2 NEW`, and the short `-2`.
    for args in [
        vec!["netpol", "diff", "-f", HARDENED, "-f2", new_s],
        vec!["netpol", "diff", "-f", HARDENED, "-2", new_s, "-o", "csv"],
    ] {
        let out = palisade(&args, &root());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("guestbook/redis[StatefulSet]"),
            "{args:?}"
        );
    }
    let out = palisade(
        &["netpol", "diff", "-f", HARDENED, "--f2", HARDENED],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "No connectivity changes\n");
    let out = palisade(&["netpol", "diff", "-f", HARDENED], &root());
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(
        &["netpol", "diff", "-f", HARDENED, "--f2", "/nonexistent/dir"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Renders the page in headless Chromium, hovers a cell and reads the tooltip back from the
/// DOM. Skipped (with a note) when no Chromium is installed.
#[test]
fn html_hover_in_headless_chromium() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("note: no Chromium on PATH; hover test skipped");
        return;
    };
    let out = palisade(
        &["netpol", "list", "-f", HARDENED, CONTEXT, "-o", "html"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0));
    let html = stdout(&out);
    let hover = r#"<script>var td=document.querySelector('td[data-src="guestbook/frontend[Deployment]"][data-dst="guestbook/message-service[Deployment]"]');td.dispatchEvent(new MouseEvent("mouseover",{bubbles:true,clientX:5,clientY:5}));</script></body>"#;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("hover.html");
    std::fs::write(&page, html.replacen("</body>", hover, 1)).unwrap();
    let dom = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let tip = dom
        .split("<div id=\"tip\"")
        .nth(1)
        .and_then(|t| t.split("</div>").next())
        .expect("tooltip element");
    assert!(!tip.contains("hidden"), "tooltip still hidden: {tip}");
    assert!(
        tip.contains(
            "guestbook/frontend[Deployment] =&gt; guestbook/message-service[Deployment]\nTCP 8080"
        ),
        "{tip}"
    );
    assert!(tip.contains("TCP 8080: allowed"), "{tip}");
    assert!(dom.contains("<th class=\"row hl\" scope=\"row\">guestbook/frontend[Deployment]</th>"));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: [not, a, map]\n  ingress:\n  - from: [{ipBlock: {cidr: 300.1.1.1/99, except: [nonsense]}}]\n    ports: [{port: -5, endPort: 99999}]\n---\n: : :\n  - [unbalanced\n",
    )
    .unwrap();
    let bad_s = bad.to_str().unwrap();
    for args in [
        vec!["netpol", "list", "-f", bad_s],
        vec!["netpol", "list", "-f", bad_s, "-o", "html"],
        vec!["netpol", "diff", "-f", bad_s, "--f2", HARDENED],
    ] {
        let out = palisade(&args, &root());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
