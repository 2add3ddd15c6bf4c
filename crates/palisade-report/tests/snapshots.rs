//! Snapshots of every format for the shared fixture. Review changes with `cargo insta review`
//! (or `INSTA_UPDATE=always` and a diff of `tests/snapshots/`).

mod common;

use common::{Fixture, render_to_string};
use palisade_report::{Format, RenderOptions, render_checks};

#[test]
fn human() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Human, &fx.report(false), false));
}

#[test]
fn human_show_suppressed() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Human, &fx.report(true), false));
}

#[test]
fn json() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Json, &fx.report(false), false));
}

#[test]
fn json_show_suppressed() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Json, &fx.report(true), false));
}

#[test]
fn sarif() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Sarif, &fx.report(false), false));
}

#[test]
fn junit() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(Format::Junit, &fx.report(true), false));
}

#[test]
fn policyreport() {
    let fx = Fixture::new();
    insta::assert_snapshot!(render_to_string(
        Format::PolicyReport,
        &fx.report(false),
        false
    ));
}

#[test]
fn checks_human() {
    let mut out = Vec::new();
    render_checks(
        Format::Human,
        &common::checks(),
        &mut out,
        &RenderOptions { color: false },
    )
    .unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}
