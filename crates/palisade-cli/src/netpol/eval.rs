//! `palisade netpol eval`: whether one connection is allowed, and why.

use anyhow::{Result, bail};
use ipnet::IpNet;
use palisade_netpol::{Cluster, Endpoint, Protocol, SideExplanation, endpoint_name, evaluate};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Endpoints are workloads (`ns/name`, or `name` when only one workload has it) or addresses outside the cluster (`203.0.113.7`, `10.0.0.0/24`, `2001:db8::1`). Ports are `6379`, `6379/UDP`, or a named port of the destination (`http`, `dns/UDP`). Pod IPs are not modelled: ipBlock peers apply to addresses outside the cluster only.\n\nExamples:\n  palisade netpol eval -f k8s/ --src shop/web --dst shop/redis --port 6379\n  palisade netpol eval -f k8s/ --src shop/web --dst 10.20.0.5 --port 5432/TCP -o json\n  palisade netpol eval -f k8s/ --src 0.0.0.0 --dst shop/web --port http\n\nExit codes: 0 allowed, 1 denied, 2 usage or input error."
)]
pub struct Args {
    /// Manifest files or directories (`-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "MANIFESTS", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Source: `ns/name` of a workload, or an address outside the cluster.
    #[arg(long, value_name = "NS/NAME|IP")]
    pub src: String,
    /// Destination: `ns/name` of a workload, or an address outside the cluster.
    #[arg(long, value_name = "NS/NAME|IP")]
    pub dst: String,
    /// Port: `6379`, `6379/UDP`, or a named port of the destination (`http`, `dns/UDP`).
    #[arg(long, value_name = "PORT[/PROTOCOL]")]
    pub port: String,
    /// Output format.
    #[arg(short, long, value_name = "FORMAT", default_value = "txt", value_parser = ["txt", "json"])]
    pub output: String,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
}

/// Parses an endpoint: an address or CIDR, else a workload name (`ns/name`, `name`, with an
/// optional `[Kind]` suffix as the list prints it).
fn endpoint(c: &Cluster, spec: &str, flag: &str) -> Result<Endpoint> {
    let s = spec.trim();
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(Endpoint::External(IpNet::from(a)));
    }
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(Endpoint::External(n.trunc()));
    }
    let (name, kind) = match s.strip_suffix(']').and_then(|x| x.split_once('[')) {
        Some((n, k)) => (n, Some(k)),
        None => (s, None),
    };
    let found: Vec<usize> = c
        .workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            let name_ok = match name.split_once('/') {
                Some((ns, n)) => w.namespace == ns && w.name == n,
                None => w.name == name,
            };
            name_ok && kind.is_none_or(|k| w.kind == k)
        })
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [i] => Ok(Endpoint::Workload(*i)),
        [] => bail!("{flag} {spec}: no workload of that name in the manifests (nor an IP address)"),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|i| endpoint_name(c, &Endpoint::Workload(*i)))
                .collect();
            bail!("{flag} {spec}: ambiguous, it names {}", names.join(", "))
        }
    }
}

/// Parses `--port` and resolves a named port against the destination's container ports.
fn port(c: &Cluster, spec: &str, dst: &Endpoint) -> Result<(Protocol, u16, Option<String>)> {
    let (p, proto) = match spec.rsplit_once('/') {
        Some((p, pr)) => match Protocol::parse(pr) {
            Some(x) => (p, Some(x)),
            None => bail!("--port {spec}: unknown protocol {pr:?} (TCP, UDP or SCTP)"),
        },
        None => (spec, None),
    };
    if let Ok(n) = p.parse::<u16>() {
        if n == 0 {
            bail!("--port {spec}: ports run from 1 to 65535");
        }
        return Ok((proto.unwrap_or(Protocol::TCP), n, None));
    }
    if p.is_empty() || p.parse::<i64>().is_ok() {
        bail!("--port {spec}: expected a port number from 1 to 65535 or a port name");
    }
    let Endpoint::Workload(i) = dst else {
        bail!("--port {spec}: a named port needs a workload as destination");
    };
    let w = &c.workloads[*i];
    let hits: Vec<_> = w
        .ports
        .iter()
        .filter(|np| np.name == p && proto.is_none_or(|x| x == np.protocol))
        .collect();
    match hits.first() {
        Some(np) => Ok((np.protocol, np.port, Some(p.to_string()))),
        None => bail!(
            "--port {spec}: {} has no container port named {p}{}",
            endpoint_name(c, dst),
            proto
                .map(|x| format!(" with protocol {x}"))
                .unwrap_or_default()
        ),
    }
}

fn side_text(out: &mut String, label: &str, s: &SideExplanation) {
    let _ = writeln!(out, "  {label}: {}", s.reason);
}

/// Runs `palisade netpol eval`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let loaded = super::list::load(&a.files, &a.namespace)?;
    let c = &loaded.cluster;
    let src = endpoint(c, &a.src, "--src")?;
    let dst = endpoint(c, &a.dst, "--dst")?;
    if matches!((&src, &dst), (Endpoint::External(_), Endpoint::External(_))) {
        bail!("--src and --dst are both outside the cluster; name a workload on one side");
    }
    if src == dst {
        bail!("--src and --dst are the same workload; traffic of a pod to itself is not policed");
    }
    let (protocol, number, name) = port(c, &a.port, &dst)?;
    let v = evaluate(c, &src, &dst, protocol, number);
    let (sname, dname) = (endpoint_name(c, &src), endpoint_name(c, &dst));
    let text = if a.output == "json" {
        let j = serde_json::json!({
            "allowed": v.allowed,
            "src": sname,
            "dst": dname,
            "protocol": protocol,
            "port": number,
            "portName": name,
            "egress": v.egress,
            "ingress": v.ingress,
        });
        format!("{}\n", serde_json::to_string_pretty(&j)?)
    } else {
        let mut s = String::new();
        let named = name.map(|n| format!(" ({n})")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{}: {sname} => {dname} : {protocol} {number}{named}",
            if v.allowed { "allowed" } else { "denied" }
        );
        side_text(&mut s, "egress ", &v.egress);
        side_text(&mut s, "ingress", &v.ingress);
        s
    };
    super::list::emit(&text, None)?;
    Ok(if loaded.errors {
        ExitCode::from(2)
    } else if v.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
