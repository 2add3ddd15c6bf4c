//! The field registry: every field conditions and outputs may use, with its type and argument.

/// Type of a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Text.
    Str,
    /// Signed integer.
    Int,
    /// Boolean.
    Bool,
    /// IP address (compared against addresses or networks).
    Ip,
    /// Port number.
    Port,
    /// Absolute time (ns since the epoch); printed as a time of day.
    AbsTime,
    /// Duration in ns.
    RelTime,
    /// Raw bytes.
    Bytes,
    /// A list of strings.
    StrList,
}

/// What may follow the name in brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSpec {
    /// No argument.
    None,
    /// An optional non-negative index (`proc.aname[2]`); without it, any ancestor.
    OptIndex,
    /// A required key (`proc.env[HOME]`... optional for some).
    Key,
    /// An optional key.
    OptKey,
    /// `evt.arg.NAME`, `evt.arg[N]`.
    EvtArg,
}

macro_rules! fields {
    ($( $id:ident => $name:literal, $ty:ident, $arg:ident, $desc:literal; )*) => {
        /// A field the engine knows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $(
                #[doc = $desc]
                $id,
            )*
        }

        /// Every field, with name, type, argument and description.
        pub static FIELDS: &[FieldInfo] = &[
            $( FieldInfo { field: Field::$id, name: $name, ty: FieldType::$ty, arg: ArgSpec::$arg, desc: $desc }, )*
        ];
    };
}

/// Registry entry of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// Identity.
    pub field: Field,
    /// Name as written in rules.
    pub name: &'static str,
    /// Value type.
    pub ty: FieldType,
    /// Argument form.
    pub arg: ArgSpec,
    /// One-line description.
    pub desc: &'static str,
}

fields! {
    EvtType => "evt.type", Str, None, "Event type, Falco's name (open, execve, procexit...).";
    EvtDir => "evt.dir", Str, None, "Direction; every event here is an exit event, '<'.";
    EvtNum => "evt.num", Int, None, "Event number (counts events processed by the engine).";
    EvtTime => "evt.time", AbsTime, None, "Event time (printed HH:MM:SS.nnnnnnnnn UTC, ns in JSON).";
    EvtTimeS => "evt.time.s", Str, None, "Event time as HH:MM:SS.";
    EvtTimeIso => "evt.time.iso8601", Str, None, "Event time, ISO 8601 with ns.";
    EvtDatetime => "evt.datetime", Str, None, "Event date and time, YYYY-MM-DD HH:MM:SS.nnnnnnnnn.";
    EvtRawTime => "evt.rawtime", Int, None, "Event time, ns since the epoch.";
    EvtCpu => "evt.cpu", Int, None, "CPU the event was captured on.";
    EvtRes => "evt.res", Str, None, "Result: SUCCESS, or the errno name (ENOENT) when it failed.";
    EvtRawRes => "evt.rawres", Int, None, "Return value as a number.";
    EvtFailed => "evt.failed", Bool, None, "Whether the call failed.";
    EvtIsOpenRead => "evt.is_open_read", Bool, None, "An open for reading.";
    EvtIsOpenWrite => "evt.is_open_write", Bool, None, "An open for writing.";
    EvtIsOpenExec => "evt.is_open_exec", Bool, None, "An open creating an executable file (mode with an x bit).";
    EvtIsOpenCreate => "evt.is_open_create", Bool, None, "An open that creates the file (O_CREAT).";
    EvtArgs => "evt.args", Str, None, "All arguments as name=value pairs.";
    EvtInfo => "evt.info", Str, None, "Same as evt.args.";
    EvtArg => "evt.arg", Str, EvtArg, "One argument, rendered (flags symbolically): evt.arg.NAME or evt.arg[N].";
    EvtRawArg => "evt.rawarg", Str, EvtArg, "One argument, raw (numbers stay numbers).";
    EvtBuffer => "evt.buffer", Bytes, None, "I/O buffer of read/write calls (not captured: never has a value).";
    EvtHostname => "evt.hostname", Str, None, "Host name of the machine the event happened on.";
    EvtSource => "evt.source", Str, None, "Event source, syscall.";
    EvtIsSyscall => "evt.is_syscall", Bool, None, "Whether the event is a system call.";

    ProcPid => "proc.pid", Int, None, "Process id (host view).";
    ProcVpid => "proc.vpid", Int, None, "Process id in its pid namespace.";
    ProcPpid => "proc.ppid", Int, None, "Parent process id (host view).";
    ProcVpgid => "proc.vpgid", Int, None, "Process group id.";
    ProcSid => "proc.sid", Int, None, "Session id.";
    ProcName => "proc.name", Str, None, "Program name (comm).";
    ProcExe => "proc.exe", Str, None, "argv[0] as given to exec.";
    ProcExepath => "proc.exepath", Str, None, "Full path of the executable.";
    ProcArgs => "proc.args", Str, None, "Arguments without argv[0], joined with spaces.";
    ProcCmdline => "proc.cmdline", Str, None, "Name and arguments (proc.name proc.args).";
    ProcExeline => "proc.exeline", Str, None, "argv[0] and arguments.";
    ProcCmdnargs => "proc.cmdnargs", Int, None, "Number of arguments.";
    ProcCmdlenargs => "proc.cmdlenargs", Int, None, "Total length of the arguments.";
    ProcCwd => "proc.cwd", Str, None, "Working directory (with a trailing /).";
    ProcTty => "proc.tty", Int, None, "Controlling terminal, 0 when none.";
    ProcSname => "proc.sname", Str, None, "Name of the session leader.";
    ProcIsSidLeader => "proc.is_sid_leader", Bool, None, "Whether the process leads its session.";
    ProcIsVpgidLeader => "proc.is_vpgid_leader", Bool, None, "Whether the process leads its process group.";
    ProcPname => "proc.pname", Str, None, "Parent's name.";
    ProcPexe => "proc.pexe", Str, None, "Parent's argv[0].";
    ProcPexepath => "proc.pexepath", Str, None, "Parent's executable path.";
    ProcPcmdline => "proc.pcmdline", Str, None, "Parent's command line.";
    ProcAname => "proc.aname", Str, OptIndex, "Name of the Nth ancestor (0 = self); without index, any ancestor.";
    ProcApid => "proc.apid", Int, OptIndex, "Pid of the Nth ancestor; without index, any ancestor.";
    ProcAexe => "proc.aexe", Str, OptIndex, "argv[0] of the Nth ancestor; without index, any ancestor.";
    ProcAexepath => "proc.aexepath", Str, OptIndex, "Executable path of the Nth ancestor; without index, any ancestor.";
    ProcAcmdline => "proc.acmdline", Str, OptIndex, "Command line of the Nth ancestor; without index, any ancestor.";
    ProcDuration => "proc.duration", RelTime, None, "Time since the process started (ns).";
    ProcStartTs => "proc.pid.ts", AbsTime, None, "Start time of the process.";
    ProcEnv => "proc.env", Str, OptKey, "Environment (all, or the value of one variable).";
    ProcIsExeFromMemfd => "proc.is_exe_from_memfd", Bool, None, "Executable is a memfd or deleted file.";
    ProcIsExeUpperLayer => "proc.is_exe_upper_layer", Bool, None, "Executable was written in the container's upper layer.";
    ProcIsExeWritable => "proc.is_exe_writable", Bool, None, "Executable is writable by the process's user (not tracked: false).";
    ProcExeInoCtime => "proc.exe_ino.ctime", AbsTime, None, "Change time of the executable's inode.";
    ProcExeInoMtime => "proc.exe_ino.mtime", AbsTime, None, "Modification time of the executable's inode.";
    ProcExeInoCtimeDurationProcStart => "proc.exe_ino.ctime_duration_proc_start", RelTime, None, "Process start minus executable change time (ns).";
    ProcIsContainerHealthcheck => "proc.is_container_healthcheck", Bool, None, "Container health check (not tracked: false).";
    ProcIsContainerLivenessProbe => "proc.is_container_liveness_probe", Bool, None, "Liveness probe (not tracked: false).";
    ProcIsContainerReadinessProbe => "proc.is_container_readiness_probe", Bool, None, "Readiness probe (not tracked: false).";

    ThreadTid => "thread.tid", Int, None, "Thread id (host view).";
    ThreadVtid => "thread.vtid", Int, None, "Thread id in its pid namespace.";
    ThreadIsMain => "thread.ismain", Bool, None, "Whether the thread is the thread-group leader.";
    ThreadCapEffective => "thread.cap_effective", Str, None, "Effective capabilities (CAP_X names, space separated).";
    ThreadCapPermitted => "thread.cap_permitted", Str, None, "Permitted capabilities.";
    ThreadCapInheritable => "thread.cap_inheritable", Str, None, "Inheritable capabilities.";

    UserUid => "user.uid", Int, None, "User id.";
    UserName => "user.name", Str, None, "User name (from the container's or host's /etc/passwd).";
    UserLoginuid => "user.loginuid", Int, None, "Audit login uid, -1 when unset.";
    UserLoginname => "user.loginname", Str, None, "Name of the login uid.";
    UserHomedir => "user.homedir", Str, None, "Home directory.";
    UserShell => "user.shell", Str, None, "Login shell.";
    GroupGid => "group.gid", Int, None, "Group id.";
    GroupName => "group.name", Str, None, "Group name.";

    FdNum => "fd.num", Int, None, "File descriptor number (-1 for a failed open).";
    FdType => "fd.type", Str, None, "file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, memfd.";
    FdTypechar => "fd.typechar", Str, None, "Type as one letter (f d 4 6 u p e s l i t n m o).";
    FdName => "fd.name", Str, None, "Path, or connection tuple for sockets.";
    FdNameraw => "fd.nameraw", Str, None, "Name as given (same as fd.name here).";
    FdDirectory => "fd.directory", Str, None, "Directory of a file.";
    FdFilename => "fd.filename", Str, None, "Last path component of a file.";
    FdIp => "fd.ip", Ip, None, "Client or server address (matches either).";
    FdCip => "fd.cip", Ip, None, "Client address.";
    FdSip => "fd.sip", Ip, None, "Server address.";
    FdLip => "fd.lip", Ip, None, "Local address.";
    FdRip => "fd.rip", Ip, None, "Remote address.";
    FdPort => "fd.port", Port, None, "Client or server port (matches either).";
    FdCport => "fd.cport", Port, None, "Client port.";
    FdSport => "fd.sport", Port, None, "Server port.";
    FdLport => "fd.lport", Port, None, "Local port.";
    FdRport => "fd.rport", Port, None, "Remote port.";
    FdL4proto => "fd.l4proto", Str, None, "tcp, udp, icmp or raw.";
    FdSockfamily => "fd.sockfamily", Str, None, "ip or unix.";
    FdIsServer => "fd.is_server", Bool, None, "Whether the process is the server side.";
    FdNet => "fd.net", Ip, None, "Client or server address, compared against networks.";
    FdCnet => "fd.cnet", Ip, None, "Client address, compared against networks.";
    FdSnet => "fd.snet", Ip, None, "Server address, compared against networks.";
    FdLnet => "fd.lnet", Ip, None, "Local address, compared against networks.";
    FdRnet => "fd.rnet", Ip, None, "Remote address, compared against networks.";
    FdConnected => "fd.connected", Bool, None, "Whether the socket is connected.";
    FdNameChanged => "fd.name_changed", Bool, None, "Whether the name changed with this event (connect, accept, bind).";
    FdCipName => "fd.cip.name", Str, None, "Domain name of the client address.";
    FdSipName => "fd.sip.name", Str, None, "Domain name of the server address.";
    FdLipName => "fd.lip.name", Str, None, "Domain name of the local address.";
    FdRipName => "fd.rip.name", Str, None, "Domain name of the remote address.";
    FdTypes => "fd.types", StrList, OptKey, "Types of the process's fds (or of fd N with fd.types[N]).";

    ContainerId => "container.id", Str, None, "Container id (12 characters), 'host' on the host.";
    ContainerFullId => "container.full_id", Str, None, "Full container id, 'host' on the host.";
    ContainerName => "container.name", Str, None, "Container name, 'host' on the host.";
    ContainerImage => "container.image", Str, None, "Image reference.";
    ContainerImageRepository => "container.image.repository", Str, None, "Image repository.";
    ContainerImageTag => "container.image.tag", Str, None, "Image tag.";
    ContainerImageDigest => "container.image.digest", Str, None, "Image digest.";
    ContainerPrivileged => "container.privileged", Bool, None, "Whether the container is privileged.";
    ContainerStartTs => "container.start_ts", AbsTime, None, "Container start time.";
    ContainerDuration => "container.duration", RelTime, None, "Time since the container started.";
    ContainerType => "container.type", Str, None, "Runtime type (host, containerd, cri-o, docker, runc).";
    ContainerMounts => "container.mounts", Str, None, "Mounts (not tracked: no value).";
    ContainerMountDest => "container.mount.dest", Str, Key, "Destination of a mount by source (not tracked: always <NA>, as for no such mount).";
    ContainerMountSource => "container.mount.source", Str, Key, "Source of a mount by destination (not tracked: always <NA>, as for no such mount).";

    K8sPodName => "k8s.pod.name", Str, None, "Pod name (CRI labels).";
    K8sNsName => "k8s.ns.name", Str, None, "Pod namespace.";
    K8sPodUid => "k8s.pod.uid", Str, None, "Pod uid.";
    K8sPodId => "k8s.pod.id", Str, None, "Pod uid (legacy name).";
    K8sPodLabel => "k8s.pod.label", Str, Key, "One pod label.";
    K8sPodLabels => "k8s.pod.labels", Str, None, "Pod labels, key:value comma separated.";
}

impl Field {
    /// The registry entry.
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self as usize]
    }

    /// Name as written in rules.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether this engine has no data source for the field (it parses, but never has a value
    /// or is always false).
    pub fn has_no_source(self) -> bool {
        matches!(
            self,
            Field::EvtBuffer
                | Field::ContainerMounts
                | Field::ContainerMountDest
                | Field::ContainerMountSource
                | Field::ProcIsExeWritable
                | Field::ProcIsContainerHealthcheck
                | Field::ProcIsContainerLivenessProbe
                | Field::ProcIsContainerReadinessProbe
        )
    }

    /// Whether the unindexed form means "any ancestor".
    pub fn is_ancestor_field(self) -> bool {
        matches!(
            self,
            Field::ProcAname
                | Field::ProcApid
                | Field::ProcAexe
                | Field::ProcAexepath
                | Field::ProcAcmdline
        )
    }
}

/// Looks a field up by name.
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<&'static str, usize>> =
        std::sync::OnceLock::new();
    let map = MAP.get_or_init(|| {
        FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect()
    });
    map.get(name).map(|&i| &FIELDS[i])
}

/// A field with its argument, as resolved from `name[arg]` or `evt.arg.NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// The field.
    pub field: Field,
    /// The argument.
    pub arg: FieldArg,
}

/// Argument of a resolved field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldArg {
    /// None.
    None,
    /// An index.
    Index(usize),
    /// A key or argument name.
    Key(String),
}

/// Why a field reference did not resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// No such field.
    Unknown(String),
    /// The argument is not valid for the field.
    BadArg(String),
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldError::Unknown(n) => write!(f, "unknown field '{n}'"),
            FieldError::BadArg(m) => f.write_str(m),
        }
    }
}

/// Resolves `name` with an optional bracket argument.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
    for (prefix, field) in [
        ("evt.arg.", Field::EvtArg),
        ("evt.rawarg.", Field::EvtRawArg),
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if arg.is_some() || rest.is_empty() {
                return Err(FieldError::BadArg(format!(
                    "field '{name}' takes no bracket argument"
                )));
            }
            return Ok(FieldRef {
                field,
                arg: FieldArg::Key(rest.to_string()),
            });
        }
    }
    let Some(info) = lookup(name) else {
        return Err(FieldError::Unknown(name.to_string()));
    };
    let farg = match (info.arg, arg) {
        (ArgSpec::None, None) => FieldArg::None,
        (ArgSpec::None, Some(a)) => {
            return Err(FieldError::BadArg(format!(
                "field '{name}' takes no argument, got '[{a}]'"
            )));
        }
        (ArgSpec::OptIndex, None) | (ArgSpec::OptKey, None) => FieldArg::None,
        (ArgSpec::OptIndex, Some(a)) => match a.parse::<usize>() {
            Ok(n) => FieldArg::Index(n),
            Err(_) => {
                return Err(FieldError::BadArg(format!(
                    "field '{name}' needs a numeric index, got '[{a}]'"
                )));
            }
        },
        (ArgSpec::Key, None) => {
            return Err(FieldError::BadArg(format!(
                "field '{name}' needs an argument in brackets"
            )));
        }
        (ArgSpec::Key, Some(a)) | (ArgSpec::OptKey, Some(a)) => FieldArg::Key(a.to_string()),
        (ArgSpec::EvtArg, None) => {
            return Err(FieldError::BadArg(format!(
                "field '{name}' needs an argument: evt.arg.NAME or evt.arg[N]"
            )));
        }
        (ArgSpec::EvtArg, Some(a)) => match a.parse::<usize>() {
            Ok(n) => FieldArg::Index(n),
            Err(_) => FieldArg::Key(a.to_string()),
        },
    };
    Ok(FieldRef {
        field: info.field,
        arg: farg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.field as usize, i, "{} out of order", f.name);
            assert_eq!(lookup(f.name).map(|x| x.field), Some(f.field));
        }
    }

    #[test]
    fn resolving_arguments() {
        assert_eq!(
            resolve("proc.aname", Some("2")).unwrap(),
            FieldRef {
                field: Field::ProcAname,
                arg: FieldArg::Index(2)
            }
        );
        assert_eq!(
            resolve("evt.arg.flags", None).unwrap().arg,
            FieldArg::Key("flags".into())
        );
        assert_eq!(
            resolve("evt.arg", Some("0")).unwrap().arg,
            FieldArg::Index(0)
        );
        assert!(matches!(
            resolve("proc.nope", None),
            Err(FieldError::Unknown(_))
        ));
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(FieldError::BadArg(_))
        ));
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(FieldError::BadArg(_))
        ));
        assert!(matches!(
            resolve("container.mount.dest", None),
            Err(FieldError::BadArg(_))
        ));
        assert_eq!(
            resolve("proc.env", Some("HOME")).unwrap().arg,
            FieldArg::Key("HOME".into())
        );
    }
}
