//! What the evaluator reads from the system state: [`StateView`].
//!
//! The engine evaluates fields against any `StateView`; the live state of [`crate::state`]
//! implements it, and [`MemState`] is a plain in-memory table for tests, fixtures and benches.

use crate::state::{ContainerInfo, Process, State};
use std::collections::HashMap;

/// Read access to the process, fd, user and container tables.
pub trait StateView {
    /// A process by host pid (thread group id).
    fn process(&self, host_pid: u32) -> Option<&Process>;
    /// Container metadata by id.
    fn container(&self, id: &str) -> Option<&ContainerInfo>;
    /// User name of `uid` as the container (or the host, for an empty id) names it.
    fn user_name(&self, uid: u32, container_id: &str) -> Option<&str>;
    /// Group name of `gid` as the container (or the host) names it.
    fn group_name(&self, gid: u32, container_id: &str) -> Option<&str>;
    /// Home directory of `uid`.
    fn user_home(&self, _uid: u32, _container_id: &str) -> Option<&str> {
        None
    }
    /// Login shell of `uid`.
    fn user_shell(&self, _uid: u32, _container_id: &str) -> Option<&str> {
        None
    }
    /// Environment (`NAME=value` strings) of a process, when known.
    fn env(&self, _host_pid: u32) -> Option<&[String]> {
        None
    }
    /// Name a reverse DNS lookup gives for an address (`fd.sip.name`), when known.
    fn ip_name(&self, _ip: &std::net::IpAddr) -> Option<&str> {
        None
    }
}

/// A plain in-memory state: tables filled by the caller.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    /// Processes by host pid.
    pub processes: HashMap<u32, Process>,
    /// Containers by id.
    pub containers: HashMap<String, ContainerInfo>,
    /// User names by (container id, uid); the host is the empty id.
    pub users: HashMap<(String, u32), String>,
    /// Group names by (container id, gid).
    pub groups: HashMap<(String, u32), String>,
    /// Environments by host pid.
    pub envs: HashMap<u32, Vec<String>>,
    /// Names of addresses.
    pub ip_names: HashMap<std::net::IpAddr, String>,
}

impl StateView for MemState {
    fn process(&self, host_pid: u32) -> Option<&Process> {
        self.processes.get(&host_pid)
    }
    fn container(&self, id: &str) -> Option<&ContainerInfo> {
        self.containers.get(id)
    }
    fn user_name(&self, uid: u32, container_id: &str) -> Option<&str> {
        self.users
            .get(&(container_id.to_string(), uid))
            .map(String::as_str)
    }
    fn group_name(&self, gid: u32, container_id: &str) -> Option<&str> {
        self.groups
            .get(&(container_id.to_string(), gid))
            .map(String::as_str)
    }
    fn env(&self, host_pid: u32) -> Option<&[String]> {
        self.envs.get(&host_pid).map(Vec::as_slice)
    }
    fn ip_name(&self, ip: &std::net::IpAddr) -> Option<&str> {
        self.ip_names.get(ip).map(String::as_str)
    }
}

impl StateView for State {
    #[inline]
    fn process(&self, host_pid: u32) -> Option<&Process> {
        State::process(self, host_pid)
    }
    fn container(&self, id: &str) -> Option<&ContainerInfo> {
        State::container(self, id)
    }
    fn user_name(&self, uid: u32, container_id: &str) -> Option<&str> {
        State::user_name(self, uid, container_id)
    }
    fn group_name(&self, gid: u32, container_id: &str) -> Option<&str> {
        State::group_name(self, gid, container_id)
    }
    fn user_home(&self, uid: u32, container_id: &str) -> Option<&str> {
        State::user_home(self, uid, container_id)
    }
    fn user_shell(&self, uid: u32, container_id: &str) -> Option<&str> {
        State::user_shell(self, uid, container_id)
    }
}
