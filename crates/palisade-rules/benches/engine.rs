//! Criterion benches of the rules engine: condition evaluation on a synthetic event mix, and
//! loading/compiling a rules file. The upstream Falco files are measured by `scripts/bench-rules`
//! (they are not part of the repository); here the rules are our own.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_rules::state::{State, StateOptions};
use palisade_rules::{Engine, LoadOptions, RuleMatching, RuleSet, synth};
use std::hint::black_box;

const RULES: &str = r#"
- list: shells
  items: [bash, sh, zsh, dash, ash]
- list: sensitive_files
  items: [/etc/shadow, /etc/sudoers, /etc/gshadow, /root/.ssh/authorized_keys]
- list: package_managers
  items: [apt, apt-get, dpkg, rpm, yum, dnf, apk, pip, npm]
- macro: spawned
  condition: evt.type in (execve, execveat)
- macro: open_read
  condition: evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.typechar = f and fd.num >= 0
- macro: open_write
  condition: evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.typechar = f and fd.num >= 0
- macro: container
  condition: container.id != host
- rule: shell in container
  desc: a shell started in a container
  condition: spawned and container and proc.name in (shells) and proc.pname exists
  output: shell %proc.cmdline parent=%proc.pname container=%container.id
  priority: notice
- rule: sensitive read
  desc: credentials read by an unexpected program
  condition: open_read and fd.name in (sensitive_files) and not proc.name in (package_managers, sshd, sudo)
  output: "%proc.name read %fd.name"
  priority: warning
- rule: write below etc
  desc: configuration written
  condition: open_write and fd.name startswith /etc/ and not proc.aname in (package_managers)
  output: "%proc.name wrote %fd.name"
  priority: error
- rule: log truncation
  desc: a log file truncated
  condition: open_write and fd.directory = /var/log and evt.arg.flags contains O_TRUNC
  output: "%proc.name truncated %fd.name"
  priority: warning
- rule: api server contact
  desc: a container talks to the API server
  condition: evt.type = connect and container and fd.sip = 10.96.0.1 and fd.sport = 443 and not proc.name in (kubectl)
  output: "%proc.name -> %fd.name"
  priority: notice
- rule: stdio to socket
  desc: reverse shell
  condition: evt.type in (dup, dup2, dup3) and container and evt.rawres in (0, 1, 2) and fd.type in (ipv4, ipv6)
  output: "%proc.name %fd.name"
  priority: critical
- rule: package manager in container
  desc: x
  condition: spawned and container and proc.name in (package_managers)
  output: "%proc.cmdline"
  priority: error
"#;

fn bench(c: &mut Criterion) {
    let w = synth::generate(200_000, 300, 7);
    let (rs, _) = RuleSet::load_str(RULES, &LoadOptions::default()).expect("bench rules");
    let mut engine = Engine::new(rs);
    engine.set_rule_matching(RuleMatching::All);
    let mut st = State::new(StateOptions::isolated());
    for ct in &w.containers {
        st.insert_container(ct.clone());
    }
    for p in &w.processes {
        st.insert_process(p.clone());
    }
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(w.events.len() as u64));
    g.sample_size(10);
    g.bench_function("process 200k events (state + 7 rules)", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for ev in &w.events {
                st.apply(ev);
                engine.process(ev, &st, &mut |_| n += 1);
                st.finish(ev);
            }
            black_box(n)
        })
    });
    g.finish();
    c.bench_function("load and compile the bench rules", |b| {
        b.iter(|| RuleSet::load_str(black_box(RULES), &LoadOptions::default()).expect("rules"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
