//! The filter's kernel plan as the sensor's `KernelFilter` (the events crate does not depend on
//! the sensor; the CLI joins them).

use palisade_events::filter::KernelPlan;
use palisade_sensor::KernelFilter;

/// Convert field by field.
pub fn kernel_filter(p: KernelPlan) -> KernelFilter {
    KernelFilter {
        events: p.events,
        uid_range: p.uid_range,
        pid_range: p.pid_range,
        pids: p.pids,
        not_pids: p.not_pids,
        mntns: p.mntns,
        not_mntns: p.not_mntns,
        pidns: p.pidns,
        not_pidns: p.not_pidns,
        container: p.container,
        new_pids: p.new_pids,
        new_containers: p.new_containers,
        follow: p.follow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_events::filter::{Filter, Flag};

    #[test]
    fn lowering_keeps_every_field() {
        let f = Filter::parse([
            (Flag::Trace, "uid>=1000"),
            (Flag::Trace, "pid=510,1709"),
            (Flag::Trace, "mntns!=4026531840"),
            (Flag::Trace, "container"),
            (Flag::Trace, "follow"),
            (Flag::Events, "openat"),
        ])
        .unwrap();
        let k = kernel_filter(f.kernel_plan());
        assert_eq!(k.uid_range, Some((1000, u32::MAX)));
        assert_eq!(k.pid_range, Some((510, 1709)));
        assert_eq!(k.pids.into_iter().collect::<Vec<_>>(), [510, 1709]);
        assert_eq!(k.not_mntns.into_iter().collect::<Vec<_>>(), [4026531840]);
        assert_eq!(k.container, Some(true));
        assert!(k.follow);
        // follow needs the process events for the tree.
        let names: Vec<_> = k.events.iter().map(|e| e.name().into_owned()).collect();
        assert!(names.contains(&"openat".to_owned()));
        assert!(names.contains(&"sched_process_fork".to_owned()));
    }

    #[test]
    fn tree_filters_leave_narrowing_to_user_space() {
        let f = Filter::parse([(Flag::Scope, "tree=1"), (Flag::Scope, "uid=0")]).unwrap();
        let k = kernel_filter(f.kernel_plan());
        assert_eq!(k.uid_range, None);
        assert!(!k.events.is_empty());
    }
}
