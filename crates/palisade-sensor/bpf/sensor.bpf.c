// SPDX-License-Identifier: GPL-2.0
// Palisade sensor: system calls (entry/exit paired) and process events, filtered in the kernel,
// delivered through one BPF ring buffer. The record layouts are mirrored in src/record.rs.
//
// Built by scripts/build-bpf (clang -O2 -g -target bpf, CO-RE against the pinned vmlinux.h).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

// ---------------------------------------------------------------------------------------------
// Configuration, fixed at load time (aya `override_global`); the verifier prunes what is unused.

#define CF_UID_RANGE (1u << 0)
#define CF_PID_RANGE (1u << 1)
#define CF_PIDS (1u << 2)
#define CF_NOT_PIDS (1u << 3)
#define CF_MNTNS (1u << 4)
#define CF_NOT_MNTNS (1u << 5)
#define CF_PIDNS (1u << 6)
#define CF_NOT_PIDNS (1u << 7)
#define CF_CONTAINER (1u << 8)
#define CF_HOST (1u << 9)
#define CF_NEW_PIDS (1u << 10)
#define CF_NEW_CONTAINERS (1u << 11)
#define CF_FOLLOW (1u << 12)

// Slots of the descriptor table: syscalls by number, then the three process events.
#define NSLOTS 516
#define SLOT_FORK 512
#define SLOT_EXEC 513
#define SLOT_EXIT 514

// Descriptor of one slot: bit 63 = selected; bit 62 = strings are read at entry (execve).
// Fields of 3 bits hold a raw argument index + 1 (0 = none): up to three strings, one socket
// address (with the index of its length argument, and whether that argument points to the
// length), one 24-byte user structure, one argv array. A fixed shape keeps verification small.
#define D_SELECTED (1ull << 63)
#define D_AT_ENTRY (1ull << 62)
#define D_CTX_RESET (1ull << 61) // setns, unshare, sethostname: the task's context changes
// Bit 60: with tp_btf, filtered and captured at exit only, from the registers the call was
// made with (the kernel does not change them): no work at entry and no task storage written.
// Not set for calls whose entry matters: execve (strings at entry), exit (never returns), the
// clone family (the child returns too), credential changes (the filter sees the caller's
// credentials at entry) and context resets.
#define D_AT_EXIT (1ull << 60)
#define D_MOVES_PATHS (1ull << 59) // rename, mount...: when it succeeds, path_gen is bumped
#define D_STR(d, k) (((d) >> (3 * (k))) & 7) // k = 0, 1, 2
#define D_SOCK(d) (((d) >> 9) & 7)
#define D_SOCK_LEN(d) (((d) >> 12) & 7)
#define D_SOCK_PLEN (1ull << 15)
#define D_STRUCT(d) (((d) >> 16) & 7)
#define D_ARGV(d) (((d) >> 19) & 7)
#define D_STRINGS_MASK 0x3fffffull
// Bit 22 + k: string k is a path; bits 25 + 3k: its directory-fd argument index + 1 (0 = cwd).
// A relative path gets a base item (I_BASE_SLOT, I_BASE_REV): the absolute path of its directory.
#define D_IS_PATH(d, k) (((d) >> (22 + (k))) & 1)
#define D_DIRFD(d, k) (((d) >> (25 + 3 * (k))) & 7)
// Bits 56-58: how many leading raw arguments user space decodes (0-6). A fixed record carries
// only those: 64 bytes plus 8 per argument.
#define D_NARGS(d) (((d) >> 56) & 7)

const volatile u32 cfg_self_tgid = 0;
const volatile u32 cfg_flags = 0;
const volatile u32 cfg_uid_min = 0;
const volatile u32 cfg_uid_max = 0;
const volatile u32 cfg_pid_min = 0;
const volatile u32 cfg_pid_max = 0;
const volatile u64 cfg_start_boottime = 0;
const volatile u64 cfg_wake_every = 2048;
const volatile u32 cfg_ring_mask = 0; // rings in use - 1 (a power of two, at most NRINGS)
// The cgroup v1 controller whose hierarchy the task context also reports (V1_*; 0: none). On a
// host without cgroup v2 containers, or with runtimes that use only the v1 controllers, the v2
// cgroup of every event is the root: the task's v1 cgroup then names its container, read here
// rather than from /proc (a process gone before its events are decoded keeps its container).
#define V1_MEMORY 1
#define V1_PIDS 2
#define V1_CPU 3
#define V1_DEVICES 4
#define V1_FREEZER 5
#define V1_CPUSET 6
const volatile u32 cfg_v1_subsys = 0;

// Set once a call has been kept: until then the exit program has no pending call to look for.
u32 kept_once = 0;
// Bumped by every successful rename, mount, umount2, move_mount or pivot_root anywhere: the
// paths of cached base directories may have changed, so every thread's slots are dropped.
u64 path_gen = 0;
const volatile u64 cfg_desc[NSLOTS] = {};

// ---------------------------------------------------------------------------------------------
// Maps.

// One ring buffer per CPU (CPU & cfg_ring_mask when there are more CPUs than rings): producers
// on different CPUs share no lock and no cache line, and each ring is in time order. User space
// merges them by timestamp. The rings are created with their sizes by the loader and put into
// `rings`; the unused ones keep one page.
#define NRINGS 8
struct ring_def {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};
struct ring_def ring0 SEC(".maps");
struct ring_def ring1 SEC(".maps");
struct ring_def ring2 SEC(".maps");
struct ring_def ring3 SEC(".maps");
struct ring_def ring4 SEC(".maps");
struct ring_def ring5 SEC(".maps");
struct ring_def ring6 SEC(".maps");
struct ring_def ring7 SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NRINGS);
	__type(key, u32);
	__array(values, struct ring_def);
} rings SEC(".maps");

// Counters per CPU: events kept by the filter, filtered, lost (no ring space); auxiliary
// records (task context, execve strings) lost; records written (wake-up pacing). Seen = kept + filtered (one counter
// update per dropped event).
#define C_KEPT 0
#define C_FILTERED 1
#define C_LOST 2
#define C_UNUSED 3 // (was: submitted; delivered is counted in user space)
#define C_AUX_LOST 4
#define C_RECORDS 5 // records written by this CPU (wake-up pacing)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 6);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

#define SET(name, k)                                                                               \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, 1024);                                                         \
		__type(key, k);                                                                    \
		__type(value, u8);                                                                 \
	} name SEC(".maps")

SET(pids, u32);
SET(not_pids, u32);
SET(mntns_set, u32);
SET(not_mntns_set, u32);
SET(pidns_set, u32);
SET(not_pidns_set, u32);

// Followed processes (tgid); a fork of a followed or matching process adds the child.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, u8);
} followed SEC(".maps");

// cgroup id -> class, filled by user space: 1 host, 2 container present at start, 3 new container.
#define CG_HOST 1
#define CG_CONTAINER 2
#define CG_NEW_CONTAINER 3
#define CG_BY_V1 4 // a v2 cgroup that names no container (the root): look at the v1 cgroup
// The key of a cgroup of the v1 hierarchy in cg_class and cg_sent: its id with this bit set (v1
// and v2 ids are numbered apart and may collide). user space: cgroups::V1_KEY.
#define V1_KEY (1ull << 63)
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, u8);
} cg_class SEC(".maps");

// cgroup ids whose path was sent to user space (a record per cgroup, so that user space knows a
// short-lived container's cgroup even when it is gone before the events are decoded).
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, u8);
} cg_sent SEC(".maps");

// Per task: the pending system call (entry seen, exit not yet) and whether user space has the
// task's context.
struct task_state {
	u64 args[6];
	u32 id;
	u8 pending;
	u8 ctx_sent;
	u8 undecided;
	u8 followed; // the task's thread group is in `followed` (it leaves only when the group is gone)
	u8 pad[4];
	// The thread's base slots: the keys of the last four directories whose paths its records
	// carried (0: empty), which user space keeps too. A relative path against one of them, or
	// against a directory below one, is walked only up to it (see put_path).
	u64 slot_key[4];
	u32 slot_gen;  // path_gen when the slots were written; any other value: all empty
	u8 slot_order; // the slots from most (bits 0-1) to least (bits 6-7) recently used
	u8 pad2[3];
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_st SEC(".maps");

// Scratch space for records with strings. Offsets are masked to HALF-1 and single reads are at
// most MAX_READ bytes, so every access stays inside the buffer.
#define SCRATCH 32768
#define HALF 16384
#define MAX_READ 4096
#define MAX_ARGV 64
struct scratch {
	// Per-CPU values are at most 32 KiB: the buffer gives up the two keys' bytes (the highest
	// offset used is below 29 KiB: the walk areas).
	u8 buf[SCRATCH - 96];
	// The task's base slots as this record was begun (keys all 0 when stale or unknown).
	u64 slot_key[4];
	u64 gen;        // path_gen as the record was begun
	// The slots this record's bases use, in order: a key to write (0: a hit, no write).
	u64 use_key[3];
	u8 use_slot[3];
	u8 nuse;
	u8 slot_order;
	u8 use_slots; // 1 when the record has a task whose slots it may use
	u8 pad[2];
	// The walk's state between steps, kept here rather than in registers: values loaded from
	// memory are unknown to the verifier, so the states of different paths through a step
	// are the same at the next one (in registers the verifier tracks them, and paths multiply).
	u32 walk_w;   // bytes of components written
	u32 walk_anc; // the slot the walk stopped at (NO_SLOT: none)
	u64 walk_key; // the key of the base directory itself (0: not known)
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

// ---------------------------------------------------------------------------------------------
// Records (little endian; mirrored in src/record.rs).

#define R_SYS 1       // struct rec_sys
#define R_SYS_EXT 2   // struct rec_sys + items
#define R_ENTRY_EXT 3 // struct rec_sys + items, sent at entry (execve strings), no ret
#define R_TASK 4      // struct rec_task
#define R_FORK 5      // struct rec_fork
#define R_EXEC 6      // struct rec_hdr + items
#define R_EXIT 7      // struct rec_exit
#define R_NORET 8     // struct rec_sys, a call that does not return (exit, exit_group)
#define R_CGROUP 9    // struct rec_hdr + a string item: the path of h.cgroup below the root

#define HF_UNDECIDED 1 // the container filter could not be decided in the kernel (unknown cgroup)
#define HF_TRUNCATED 2 // strings were cut
#define HF_V1 4        // R_CGROUP: the cgroup is in the v1 hierarchy of cfg_v1_subsys (id in h.cgroup)

struct rec_hdr {
	u64 ts;
	u64 cgroup;
	u32 tid;
	u32 pid;
	u32 uid;
	u32 gid;
	u16 id;
	u8 kind;
	u8 flags;
	u16 cpu;
	u16 len;
	char comm[16];
};

struct rec_sys {
	struct rec_hdr h;
	s64 ret;
	u64 args[6];
};

struct rec_task {
	struct rec_hdr h;
	u32 ppid;
	u32 ns_pid;
	u32 ns_tid;
	u32 ns_ppid;
	u32 mntns;
	u32 pidns;
	u64 start_time;
	u32 sid;
	u32 loginuid;
	char uts[65];
	u8 pad[7];
	u64 v1_cgroup; // the task's cgroup in the v1 hierarchy of cfg_v1_subsys (0: none)
};

struct rec_fork {
	struct rec_hdr h;
	u32 parent_tid;
	u32 parent_ns_tid;
	u32 parent_pid;
	u32 parent_ns_pid;
	u32 child_tid;
	u32 child_ns_tid;
	u32 child_pid;
	u32 child_ns_pid;
	u64 child_start_time;
};

struct rec_exit {
	struct rec_hdr h;
	s32 exit_code;
	u8 group_exit;
	u8 pad[3];
};

// Item types after a rec_sys / rec_hdr: {u8 arg; u8 type; u16 len; bytes[len]}, 4-aligned.
#define I_STR 1
#define I_ARGV 2 // NUL-separated strings
#define I_SOCK 3
#define I_BYTES 4
#define I_TTY 5
// (6 and 7 were whole and "same as last" base directories, before base slots)
#define I_BASE_REV 8 // I_BASE with its components leaf first, each followed by '/' ("c/b/a/" = /a/b/c)
// {u8 anc; u8 slot; u16 0; components leaf first}: the path is the thread's base slot `anc`
// (0xff: the root) followed by the components; it then fills slot `slot` (0xff: none).
#define I_BASE_SLOT 9
#define NO_SLOT 0xff

// ---------------------------------------------------------------------------------------------
// Helpers.

// cfg_desc[slot] with a bound the verifier sees.
static __always_inline u64 desc_at(u32 slot)
{
	asm volatile("" : "+r"(slot));
	if (slot >= NSLOTS)
		return 0;
	return cfg_desc[slot];
}

static __always_inline void count(u32 which)
{
	u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

// This CPU's ring buffer (NULL only if user space did not fill `rings`).
static __always_inline void *cpu_ring(void)
{
	u32 k = bpf_get_smp_processor_id() & cfg_ring_mask;
	return bpf_map_lookup_elem(&rings, &k);
}

// Records are submitted without waking the reader, except every cfg_wake_every-th record of a
// CPU (about one chunk of the ring): no per-event wake-up, no ring-buffer queries.
static __always_inline u64 wake_flags(void)
{
	u32 k = C_RECORDS;
	u64 *c = bpf_map_lookup_elem(&counters, &k);
	if (!c)
		return BPF_RB_NO_WAKEUP;
	*c += 1;
	// cfg_wake_every is a power of two: a mask, not a division.
	return (*c & (cfg_wake_every - 1)) == 0 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline u32 pid_nr_at(struct pid *p, u32 level)
{
	struct upid up = {};
	u32 plevel = BPF_CORE_READ(p, level);
	if (level > plevel || level > 31)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level]);
	return up.nr;
}

// The inode of the pid namespace the task's pid lives in (what /proc/<pid>/ns/pid shows).
static __always_inline u32 pidns_of(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	u32 level = BPF_CORE_READ(p, level);
	struct upid up = {};
	if (level > 31)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level]);
	return BPF_CORE_READ(up.ns, ns.inum);
}

static __always_inline u32 task_level(struct task_struct *t)
{
	return BPF_CORE_READ(t, thread_pid, level);
}

static __always_inline u32 ns_tid_of(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	return pid_nr_at(p, BPF_CORE_READ(p, level));
}

static __always_inline u32 ns_tgid_of(struct task_struct *t, u32 level)
{
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	return pid_nr_at(p, level);
}

static __always_inline void fill_hdr(struct rec_hdr *h, u8 kind, u16 id, u16 len, u8 flags)
{
	// Plain loads through the current task's BTF pointer: each helper call or probe read costs
	// more than the loads on this path, which runs once per delivered event.
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *cred = t->cred;
	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup = t->cgroups->dfl_cgrp->kn->id;
	h->tid = t->pid;
	h->pid = t->tgid;
	h->uid = cred->uid.val;
	h->gid = cred->gid.val;
	h->id = id;
	h->kind = kind;
	h->flags = flags;
	h->cpu = bpf_get_smp_processor_id();
	h->len = len;
	*(u64 *)&h->comm[0] = *(u64 *)&t->comm[0];
	*(u64 *)&h->comm[8] = *(u64 *)&t->comm[8];
}

static __always_inline struct kernfs_node *task_v1_kn(struct task_struct *t);

// The task filter (everything but the event bitmap). Returns 0 to drop, 1 to keep, 2 to keep
// with the container part left to user space.
// `st`, when not NULL, is the task's storage: a task found in `followed` once is marked there, so
// its later calls skip the hash lookup.
static __always_inline int task_passes_st(struct task_struct *t, u32 tgid, struct task_state *st)
{
	u32 flags = cfg_flags;
	if (tgid == cfg_self_tgid)
		return 0;
	if (flags & CF_FOLLOW) {
		if (st && st->followed)
			return 1;
		if (bpf_map_lookup_elem(&followed, &tgid)) {
			if (st)
				st->followed = 1;
			return 1;
		}
	}
	if (flags & CF_UID_RANGE) {
		// Only read when the filter has a uid range; through the task pointer (plain loads)
		// rather than one more helper call on every syscall.
		if (!t)
			t = bpf_get_current_task_btf();
		u32 uid = t->cred->uid.val;
		if (uid < cfg_uid_min || uid > cfg_uid_max)
			return 0;
	}
	if ((flags & CF_PID_RANGE) && (tgid < cfg_pid_min || tgid > cfg_pid_max))
		return 0;
	if ((flags & CF_PIDS) && !bpf_map_lookup_elem(&pids, &tgid))
		return 0;
	if ((flags & CF_NOT_PIDS) && bpf_map_lookup_elem(&not_pids, &tgid))
		return 0;
	if (!t && (flags & (CF_MNTNS | CF_NOT_MNTNS | CF_PIDNS | CF_NOT_PIDNS | CF_NEW_PIDS)))
		t = bpf_get_current_task_btf();
	if (flags & (CF_MNTNS | CF_NOT_MNTNS)) {
		u32 mntns = t->nsproxy->mnt_ns->ns.inum;
		if ((flags & CF_MNTNS) && !bpf_map_lookup_elem(&mntns_set, &mntns))
			return 0;
		if ((flags & CF_NOT_MNTNS) && bpf_map_lookup_elem(&not_mntns_set, &mntns))
			return 0;
	}
	if (flags & (CF_PIDNS | CF_NOT_PIDNS)) {
		u32 pidns = pidns_of(t);
		if ((flags & CF_PIDNS) && !bpf_map_lookup_elem(&pidns_set, &pidns))
			return 0;
		if ((flags & CF_NOT_PIDNS) && bpf_map_lookup_elem(&not_pidns_set, &pidns))
			return 0;
	}
	if (flags & CF_NEW_PIDS) {
		u64 st = t->group_leader->start_boottime;
		if (st < cfg_start_boottime)
			return 0;
	}
	if (flags & (CF_CONTAINER | CF_HOST | CF_NEW_CONTAINERS)) {
		u64 cg = bpf_get_current_cgroup_id();
		u8 *cls = bpf_map_lookup_elem(&cg_class, &cg);
		if (cls && *cls == CG_BY_V1) {
			// The v2 cgroup says nothing (the root on a v1 host): the task's cgroup in the
			// reported v1 hierarchy decides, classified by user space under its tagged key.
			cls = 0;
			if (!cfg_v1_subsys)
				return 2;
			if (!t)
				t = bpf_get_current_task_btf();
			struct kernfs_node *kn = task_v1_kn(t);
			if (kn) {
				u64 key = BPF_CORE_READ(kn, id) ^ V1_KEY;
				cls = bpf_map_lookup_elem(&cg_class, &key);
			}
		}
		if (!cls)
			return 2;
		if ((flags & CF_CONTAINER) && *cls == CG_HOST)
			return 0;
		if ((flags & CF_HOST) && *cls != CG_HOST)
			return 0;
		if ((flags & CF_NEW_CONTAINERS) && *cls != CG_NEW_CONTAINER)
			return 0;
	}
	return 1;
}

static __always_inline int task_passes(struct task_struct *t, u32 tgid)
{
	return task_passes_st(t, tgid, 0);
}

static __always_inline void send_cgroup(struct task_struct *t);
__noinline int send_cgroup_kn(u64 node, u32 v1);

// Sends the task's context (namespaces, ids, uts name) once per task, and again after exec,
// setns, unshare or sethostname.
static __always_inline void send_task(struct task_struct *t, struct task_state *st)
{
	void *ring = cpu_ring();
	struct rec_task *r = ring ? bpf_ringbuf_reserve(ring, sizeof(*r), 0) : 0;
	if (!r) {
		count(C_AUX_LOST);
		return;
	}
	fill_hdr(&r->h, R_TASK, 0, sizeof(*r), 0);
	u32 level = task_level(t);
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);
	r->ppid = BPF_CORE_READ(parent, tgid);
	r->ns_tid = ns_tid_of(t);
	r->ns_pid = ns_tgid_of(t, level);
	r->ns_ppid = ns_tgid_of(parent, level);
	r->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	r->pidns = pidns_of(t);
	r->start_time = BPF_CORE_READ(t, group_leader, start_boottime);
	r->sid = pid_nr_at(BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]), level);
	if (bpf_core_field_exists(t->loginuid))
		r->loginuid = BPF_CORE_READ(t, loginuid.val);
	bpf_probe_read_kernel_str(&r->uts, sizeof(r->uts), BPF_CORE_READ(t, nsproxy, uts_ns, name.nodename));
	struct kernfs_node *v1 = cfg_v1_subsys ? task_v1_kn(t) : 0;
	r->v1_cgroup = v1 ? BPF_CORE_READ(v1, id) : 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	if (st)
		st->ctx_sent = 1;
	send_cgroup(t);
	if (v1)
		send_cgroup_kn((u64)v1, 1);
}

// The context of a task with a kept event: the task record when not sent yet (it brings the
// cgroup's path), else the path of the task's cgroup when the container filter is left to user
// space (`pass` 2) and that cgroup was never sent: the task may have moved into a container's
// cgroup since its context was sent, and user space needs the path even if the cgroup is gone by
// the time it decodes the event (send_cgroup sends each id once).
static __always_inline void send_context(struct task_struct *t, struct task_state *st, int pass)
{
	if (!st->ctx_sent)
		send_task(t, st);
	else if (pass == 2)
		send_cgroup(t);
}

// An offset into the scratch buffer, masked so that the verifier sees the bound (the empty asm
// stops clang from proving the mask redundant and dropping it).
static __always_inline u32 bnd(u32 x)
{
	asm volatile("" : "+r"(x));
	return x & (HALF - 1);
}

// Writes one item header at off.
static __always_inline void put_item(u8 *buf, u32 off, u8 arg, u8 type, u32 len)
{
	off = bnd(off);
	buf[off] = arg;
	buf[off + 1] = type;
	buf[off + 2] = len & 0xff;
	buf[off + 3] = (len >> 8) & 0xff;
}

static __always_inline u32 align4(u32 x)
{
	return (x + 3) & ~3u;
}

// Kernels before 6.15 name the kernfs parent pointer `parent`.
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

// The subsystem index (enum cgroup_subsys_id, as the running kernel numbers it) of the v1
// controller cfg_v1_subsys names; -1 when none, or when this kernel lacks that controller.
#define V1_INDEX(name)                                                                             \
	(bpf_core_enum_value_exists(enum cgroup_subsys_id, name) ?                                 \
		 (int)bpf_core_enum_value(enum cgroup_subsys_id, name) :                            \
		 -1)
static __always_inline int v1_index(void)
{
	switch (cfg_v1_subsys) {
	case V1_MEMORY:
		return V1_INDEX(memory_cgrp_id);
	case V1_PIDS:
		return V1_INDEX(pids_cgrp_id);
	case V1_CPU:
		return V1_INDEX(cpu_cgrp_id);
	case V1_DEVICES:
		return V1_INDEX(devices_cgrp_id);
	case V1_FREEZER:
		return V1_INDEX(freezer_cgrp_id);
	case V1_CPUSET:
		return V1_INDEX(cpuset_cgrp_id);
	default:
		return -1;
	}
}

// The kernfs node of the task's cgroup in the v1 hierarchy of cfg_v1_subsys (NULL: none).
static __always_inline struct kernfs_node *task_v1_kn(struct task_struct *t)
{
	int i = v1_index();
	if (i < 0 || i >= 64)
		return 0;
	struct css_set *cgs = BPF_CORE_READ(t, cgroups);
	struct cgroup_subsys_state *css = 0;
	// The subsys array by address: its index is only known at load time.
	bpf_probe_read_kernel(&css, sizeof(css),
			      (u8 *)cgs + bpf_core_field_offset(struct css_set, subsys) + 8 * i);
	if (!css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn);
}

// Sends the path of a cgroup (v2, or with `v1` the v1 hierarchy of cfg_v1_subsys) the first time
// its id is seen. The path is built leaf first in the walk area of the scratch buffer (CG_DEPTH
// components at most; a deeper path keeps its last components and the record is flagged
// truncated). A global function: verified once, whichever hierarchy it is called for.
#define CG_DEPTH 12
#define CG_AREA 24576
#define CG_LEN 4096
__noinline int send_cgroup_kn(u64 node, u32 v1)
{
	struct kernfs_node *kn = (struct kernfs_node *)node;
	if (!kn)
		return 0;
	u64 id = BPF_CORE_READ(kn, id);
	u64 key = v1 ? id ^ V1_KEY : id;
	if (bpf_map_lookup_elem(&cg_sent, &key))
		return 0;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	u8 *buf = s->buf;
	u8 flags = v1 ? HF_V1 : 0;
	u32 pos = CG_LEN;
	int i;
	for (i = 0; i < CG_DEPTH; i++) {
		struct kernfs_node *up = kn_parent(kn);
		if (!up)
			break; // kn is the root: its name is not part of the path
		const char *name = BPF_CORE_READ(kn, name);
		long n = bpf_probe_read_kernel_str(&buf[CG_AREA + 2048], 256, name);
		if (n <= 1)
			break;
		u32 len = n - 1;
		asm volatile("" : "+r"(len));
		len &= 255;
		if (pos < len + 1)
			break;
		pos -= len + 1;
		asm volatile("" : "+r"(pos));
		pos &= CG_LEN - 1;
		buf[CG_AREA + pos] = '/';
		if (len)
			bpf_probe_read_kernel(&buf[CG_AREA + ((pos + 1) & (CG_LEN - 1))], len,
					      &buf[CG_AREA + 2048]);
		kn = up;
	}
	if (i == CG_DEPTH && kn_parent(kn))
		flags |= HF_TRUNCATED;
	if (pos >= CG_LEN) {
		pos = CG_LEN - 1;
		buf[CG_AREA + pos] = '/';
	}
	u64 n = CG_LEN - pos;
	asm volatile("" : "+r"(n));
	if (n == 0 || n > CG_LEN - 1)
		return 0;
	u32 off = sizeof(struct rec_hdr);
	if (bpf_probe_read_kernel(&buf[off + 4], n, &buf[CG_AREA + (pos & (CG_LEN - 1))]) < 0)
		return 0;
	buf[(off + 4 + n) & (HALF - 1)] = 0;
	put_item(buf, off, 0, I_STR, n + 1);
	off = align4(off + 4 + n + 1);
	off &= HALF - 1;
	struct rec_hdr *h = (struct rec_hdr *)buf;
	fill_hdr(h, R_CGROUP, 0, off, flags);
	h->cgroup = id;
	if (off < sizeof(*h))
		return 0;
	void *ring = cpu_ring();
	if (!ring || bpf_ringbuf_output(ring, buf, off, 0) < 0) {
		count(C_AUX_LOST);
		return 0;
	}
	u8 one = 1;
	bpf_map_update_elem(&cg_sent, &key, &one, BPF_ANY);
	return 0;
}

// The path of the task's v2 cgroup, once per cgroup.
static __always_inline void send_cgroup(struct task_struct *t)
{
	send_cgroup_kn((u64)BPF_CORE_READ(t, cgroups, dfl_cgrp, kn), 0);
}

static __always_inline u32 read_argv(u8 *buf, u32 off, u64 uptr, u8 arg, u8 *flags)
{
	u32 start = off;
	u32 data = off + 4;
	int all = 1; // every one of the MAX_ARGV slots held an argument
	u32 full = 0; // some string filled its read (MAX_READ is a power of two: n >> 12 is 0 or 1)
	for (int i = 0; i < MAX_ARGV; i++) {
		const char *p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), (void *)(uptr + i * 8)) < 0 || !p) {
			all = 0;
			break;
		}
		if (data - start > HALF / 2 - MAX_READ - 8) {
			*flags |= HF_TRUNCATED;
			all = 0;
			break;
		}
		long n = bpf_probe_read_user_str(&buf[bnd(data)], MAX_READ, p);
		if (n <= 0) {
			all = 0;
			break;
		}
		// A string that filled the read may have been cut. Without a branch: one more branch
		// per iteration doubles the states the verifier walks.
		full |= (u32)n / MAX_READ;
		data += n;
	}
	if (full)
		*flags |= HF_TRUNCATED;
	if (all) {
		// More arguments than slots: say so.
		const char *p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), (void *)(uptr + MAX_ARGV * 8)) == 0 && p)
			*flags |= HF_TRUNCATED;
	}
	put_item(buf, start, arg, I_ARGV, data - start - 4);
	return align4(data);
}

static __always_inline u32 read_sock(u8 *buf, u32 off, u64 uptr, u64 len, u8 arg)
{
	if (!uptr)
		return off;
	if (len > 128)
		len = 128;
	// Keep the bound visible to the verifier (clang would reuse the unclamped register).
	asm volatile("" : "+r"(len));
	if (len < 2 || len > 128)
		return off;
	if (bpf_probe_read_user(&buf[bnd(off + 4)], len, (void *)uptr) < 0)
		return off;
	put_item(buf, off, arg, I_SOCK, len);
	return align4(off + 4 + len);
}

// Writes the absolute path of a directory (within its mount namespace) as an item at off, if it
// has at most WALK_DEPTH components (16 keeps verification quick; deeper paths fall back to user
// space). The walk goes from the leaf up, so components are written in that order, straight into
// the record; user space puts them the right way round.
//
// With `slots` (bit 8 of `arg_slots`), the walk stops at the first directory that is in one of the
// thread's base slots (s->slot_key): the item is an I_BASE_SLOT naming that slot and carrying
// only the components below it, and the directory itself takes the least recently used slot.
// A file walk (find, a build) mostly opens entries of the directory it opened last or of one
// just above, so most walks are one step or none. Without, the item is a whole I_BASE_REV.
#define WALK_LEN 4096
#define WALK_DEPTH 16

// The fields of a dentry a walk step needs, in kernel order: d_parent, d_name (hash_len and the
// name pointer), d_inode, then the inline store of short names. One read gets them all.
struct dentry_head {
	struct dentry *parent;
	u64 hash_len;
	const u8 *name;
	void *inode;
	u64 iname[5];
};

// Kernels before 6.14 keep short names in `d_iname` (32 bytes on 64-bit).
struct dentry___old {
	unsigned char d_iname[32];
} __attribute__((preserve_access_index));

// A global function: the verifier checks it once, not at every call site (the walk loop inlined
// into each path argument of each call path is more than the verifier's budget).
__noinline u32 put_path(struct scratch *s, u32 off, u64 dentry, u64 vfsmount, u32 arg_slots)
{
	if (!s || off > HALF / 2)
		return off;
	u8 *buf = s->buf;
	u8 arg = arg_slots & 0xff;
	int slots = (arg_slots >> 8) & 1;
	struct dentry *d = (struct dentry *)dentry;
	struct vfsmount *vm = (struct vfsmount *)vfsmount;
	struct mount *mnt = container_of(vm, struct mount, mnt);
	struct dentry *mnt_root = BPF_CORE_READ(vm, mnt_root);
	// Where the inline name store is and how long, by CO-RE (constants for the verifier).
	u32 head = bpf_core_field_offset(struct dentry, d_parent);
	u32 ioff, isize;
	if (bpf_core_field_exists(struct dentry, d_shortname)) {
		ioff = bpf_core_field_offset(struct dentry, d_shortname);
		isize = bpf_core_field_size(struct dentry, d_shortname);
	} else {
		ioff = bpf_core_field_offset(struct dentry___old, d_iname);
		isize = bpf_core_field_size(struct dentry___old, d_iname);
	}
	int fused = bpf_core_field_offset(struct dentry, d_name) == head + 8 &&
		    bpf_core_field_offset(struct dentry, d_inode) == head + 24 && ioff == head + 32 &&
		    isize <= 40;
	// Components go after the item header, and after the two slot bytes (and padding) with slots.
	u32 data = bnd(off + 4 + 4 * slots);
	s->walk_w = 0;
	s->walk_anc = NO_SLOT;
	s->walk_key = 0;
	int complete = 0;
	for (int i = 0; i < WALK_DEPTH; i++) {
		if (d == mnt_root) {
			struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
			if (parent == mnt || !parent) {
				complete = 1;
				break;
			}
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = parent;
			mnt_root = BPF_CORE_READ(parent, mnt.mnt_root);
			continue;
		}
		struct dentry *up;
		u32 len;
		u64 hash_len;
		const u8 *name;
		struct dentry_head dh = {};
		if (fused) {
			bpf_probe_read_kernel(&dh, sizeof(dh), (u8 *)d + head);
			up = dh.parent;
			hash_len = dh.hash_len;
			name = dh.name;
		} else {
			up = BPF_CORE_READ(d, d_parent);
			hash_len = BPF_CORE_READ(d, d_name.hash_len);
			name = BPF_CORE_READ(d, d_name.name);
		}
		if (slots) {
			// The directory (dentry, mount, name) is known by its key.
			u64 key = ((u64)d ^ ((u64)mnt << 7) ^ hash_len) | 1;
			if (!s->walk_key)
				s->walk_key = key;
			u32 anc = NO_SLOT;
			if (key == s->slot_key[0])
				anc = 0;
			if (key == s->slot_key[1])
				anc = 1;
			if (key == s->slot_key[2])
				anc = 2;
			if (key == s->slot_key[3])
				anc = 3;
			s->walk_anc = anc;
			if (s->walk_anc != NO_SLOT) {
				complete = 1;
				break;
			}
		}
		if (up == d || !up) {
			complete = 1;
			break;
		}
		len = hash_len >> 32;
		asm volatile("" : "+r"(len));
		if (len > 255)
			len = 255;
		u32 w = s->walk_w & (2 * WALK_LEN - 1);
		if (w + len + 1 > WALK_LEN)
			break;
		u32 at = (data + w) & (HALF - 1);
		if (fused && name == (const u8 *)d + ioff && len < isize) {
			// A short name is in the dentry read above: copy its words (bytes past the name are
			// overwritten by what follows it).
			u64 *dst = (u64 *)&buf[at];
			dst[0] = dh.iname[0];
			dst[1] = dh.iname[1];
			dst[2] = dh.iname[2];
			dst[3] = dh.iname[3];
			dst[4] = dh.iname[4];
		} else {
			u64 rl = len;
			asm volatile("" : "+r"(rl));
			rl &= 255;
			if (rl)
				bpf_probe_read_kernel(&buf[at], rl, name);
		}
		buf[(data + w + len) & (HALF - 1)] = '/';
		s->walk_w = w + len + 1;
		d = up;
	}
	// Deeper than WALK_DEPTH (or longer than WALK_LEN): no base from the kernel; user space
	// resolves the path from /proc instead.
	if (!complete)
		return off;
	u32 w = s->walk_w & (2 * WALK_LEN - 1);
	if (w > WALK_LEN)
		return off;
	if (!slots) {
		put_item(buf, off, arg, I_BASE_REV, w);
		return align4(off + 4 + w);
	}
	// The slot this base uses: the one it was found in (no components), else the least recently
	// used one, which the base directory takes (none when the walk began at a mount root and
	// found nothing). At most three uses per record.
	u32 anc = s->walk_anc;
	u64 base_key = s->walk_key;
	u32 fill = NO_SLOT;
	u32 n = s->nuse;
	if (n < 3) {
		if (anc != NO_SLOT && w == 0) {
			s->use_slot[n] = anc;
			s->use_key[n] = 0;
			s->nuse = n + 1;
		} else if (base_key) {
			fill = (s->slot_order >> 6) & 3;
			s->use_slot[n] = fill;
			s->use_key[n] = base_key;
			s->nuse = n + 1;
		}
	}
	u32 h = bnd(off + 4);
	buf[h] = anc;
	buf[h + 1] = fill;
	buf[h + 2] = 0;
	buf[h + 3] = 0;
	put_item(buf, off, arg, I_BASE_SLOT, w + 4);
	return align4(off + 8 + w);
}

// The base directory of a relative path: the directory fd's path, or the cwd.
static __always_inline u32 put_base(u8 *buf, u32 off, int dirfd, u8 arg)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (off > HALF / 2)
		return off;
	struct path p;
	if (dirfd == -100 /* AT_FDCWD */) {
		p = BPF_CORE_READ(t, fs, pwd);
	} else {
		if (dirfd < 0)
			return off;
		// Plain loads through the task's BTF pointer (each probe read is a helper call).
		struct fdtable *fdt = t->files->fdt;
		u32 max = fdt->max_fds;
		if ((u32)dirfd >= max)
			return off;
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = 0;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[dirfd]);
		if (!f)
			return off;
		p = BPF_CORE_READ(f, f_path);
	}
	struct scratch *s = (struct scratch *)buf;
	return put_path(s, off, (u64)p.dentry, (u64)p.mnt, arg | ((u32)s->use_slots << 8));
}

// args[i] with a bound the verifier sees.
static __always_inline u64 arg_at(u64 *args, u32 i)
{
	asm volatile("" : "+r"(i));
	if (i >= 6)
		return 0;
	return args[i];
}

// Reads string k of the descriptor; for a relative path, adds its base directory.
static __always_inline u32 read_str(u8 *buf, u32 off, u64 *args, u64 desc, u32 k, u8 *flags)
{
	u32 a = D_STR(desc, k);
	if (!a)
		return off;
	u64 uptr = arg_at(args, a - 1);
	if (!uptr || off > HALF / 2)
		return off;
	u32 data = bnd(off + 4);
	long n = bpf_probe_read_user_str(&buf[data], MAX_READ, (void *)uptr);
	if (n <= 0)
		return off;
	// Filled the read: possibly cut (HF_TRUNCATED is 2; without a branch, as in read_argv).
	*flags |= (u8)(((u32)n / MAX_READ) << 1);
	u8 first = buf[data];
	put_item(buf, off, a - 1, I_STR, n);
	off = align4(off + 4 + n);
	if (D_IS_PATH(desc, k) && first != '/') {
		u32 fdarg = D_DIRFD(desc, k);
		int dirfd = fdarg ? (int)arg_at(args, fdarg - 1) : -100;
		off = put_base(buf, off, dirfd, a - 1);
	}
	return off;
}

// Reads the strings and structures a system call's descriptor asks for, after the fixed part.
static __always_inline u32 read_items(u8 *buf, u32 off, u64 desc, u64 *args, u8 *flags)
{
	u32 k;
	off = read_str(buf, off, args, desc, 0, flags);
	off = read_str(buf, off, args, desc, 1, flags);
	off = read_str(buf, off, args, desc, 2, flags);
	k = D_SOCK(desc);
	if (k && off <= HALF / 2) {
		u64 lenarg = arg_at(args, D_SOCK_LEN(desc));
		u64 len = lenarg & 0xffffffff;
		if (desc & D_SOCK_PLEN) {
			// The argument points to the length (accept, recvfrom): read it at exit.
			u32 l = 0;
			if (!lenarg || bpf_probe_read_user(&l, sizeof(l), (void *)lenarg) < 0)
				l = 0;
			len = l;
		}
		off = read_sock(buf, off, arg_at(args, k - 1), len, k - 1);
	}
	k = D_STRUCT(desc);
	if (k && off <= HALF / 2 && arg_at(args, k - 1)) {
		if (bpf_probe_read_user(&buf[bnd(off + 4)], 24, (void *)arg_at(args, k - 1)) == 0) {
			put_item(buf, off, k - 1, I_BYTES, 24);
			off = align4(off + 28);
		}
	}
	k = D_ARGV(desc);
	if (k && off <= HALF / 2 && arg_at(args, k - 1))
		off = read_argv(buf, off, arg_at(args, k - 1), k - 1, flags);
	return off;
}

// The slot order after `slot` was used: it moves to the front.
static __always_inline u8 slot_used(u8 order, u32 slot)
{
	u32 out = slot & 3, k = 1;
	for (int i = 0; i < 4; i++) {
		u32 x = (order >> (2 * i)) & 3;
		if (x != (slot & 3)) {
			out |= x << (2 * (k & 3));
			k++;
		}
	}
	return out;
}

// 0, 1, 2, 3 from most to least recently used.
#define SLOT_ORDER_INIT 0xe4

// Empty base slots.
static __always_inline void clear_slots(u64 *keys, u8 *order)
{
	__builtin_memset(keys, 0, 4 * sizeof(u64));
	*order = SLOT_ORDER_INIT;
}

// Copies the task's base slots into the scratch record as it is begun: none when the task is
// unknown, all empty when a path may have moved since they were written.
static __always_inline void begin_slots(struct scratch *s, struct task_state *st)
{
	u64 gen = path_gen;
	s->gen = gen;
	s->nuse = 0;
	s->use_slots = st ? 1 : 0;
	if (st && st->slot_gen == (u32)gen) {
		__builtin_memcpy(s->slot_key, st->slot_key, sizeof(s->slot_key));
		s->slot_order = st->slot_order;
	} else {
		clear_slots(s->slot_key, &s->slot_order);
	}
}

// After the record went out: the slots as user space now has them.
static __always_inline void commit_slots(struct scratch *s, struct task_state *st)
{
	if (st->slot_gen != (u32)s->gen) {
		clear_slots(st->slot_key, &st->slot_order);
		st->slot_gen = (u32)s->gen;
	}
	u8 order = st->slot_order;
	for (int j = 0; j < 3; j++) {
		if (j >= s->nuse)
			break;
		u32 slot = s->use_slot[j] & 3;
		if (s->use_key[j])
			st->slot_key[slot] = s->use_key[j];
		order = slot_used(order, slot);
	}
	st->slot_order = order;
}

// Returns 0 when the record went out.
static __always_inline int submit_ext(u8 kind, u32 id, s64 ret, u64 *args, u64 desc, u8 flags,
				      struct task_state *st)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return -1;
	begin_slots(s, st);
	struct rec_sys *r = (struct rec_sys *)s->buf;
	r->ret = ret;
	for (int i = 0; i < 6; i++)
		r->args[i] = args[i];
	u32 off = read_items(s->buf, sizeof(*r), desc, args, &flags);
	fill_hdr(&r->h, kind, id, 0, flags);
	off &= HALF - 1;
	r->h.len = off;
	if (off < sizeof(*r))
		return -1;
	void *ring = cpu_ring();
	if (!ring)
		return -1;
	if (bpf_ringbuf_output(ring, s->buf, off, wake_flags()) < 0)
		return -1;
	// User space has this record's bases now (records of one thread are read in order).
	if (st && s->nuse)
		commit_slots(s, st);
	return 0;
}

// A fixed record: header, return value and the first nargs arguments (what user space decodes),
// rounded up to an even count: 64, 80, 96 or 112 bytes. Reserved at one of four constant sizes
// and written in place (no copy).
static __always_inline void submit_fixed(u8 kind, u32 id, s64 ret, u64 *args, u8 flags, u64 nargs)
{
	struct rec_sys *r;
	u32 size;
	void *ring = cpu_ring();
	if (!ring) {
		count(C_LOST);
		return;
	}
	if (nargs == 0) {
		size = 64;
		r = bpf_ringbuf_reserve(ring, 64, 0);
	} else if (nargs <= 2) {
		size = 80;
		r = bpf_ringbuf_reserve(ring, 80, 0);
	} else if (nargs <= 4) {
		size = 96;
		r = bpf_ringbuf_reserve(ring, 96, 0);
	} else {
		size = 112;
		r = bpf_ringbuf_reserve(ring, 112, 0);
	}
	if (!r) {
		count(C_LOST);
		return;
	}
	fill_hdr(&r->h, kind, id, size, flags);
	r->ret = ret;
	if (size >= 80) {
		r->args[0] = args[0];
		r->args[1] = args[1];
	}
	if (size >= 96) {
		r->args[2] = args[2];
		r->args[3] = args[3];
	}
	if (size >= 112) {
		r->args[4] = args[4];
		r->args[5] = args[5];
	}
	bpf_ringbuf_submit(r, wake_flags());
}

// ---------------------------------------------------------------------------------------------
// System calls.

// The filter part of a system call's entry: 0 = dropped (counted), 1 or 2 = kept (2: the
// container part is left to user space). Arguments are read only after this.
static __always_inline int enter_filter(u32 id, u64 *desc, struct task_state **stp)
{
	if (id >= 512)
		return 0;
	*desc = desc_at(id);
	if (*desc & D_CTX_RESET) {
		// Whether or not the call is reported, send the task's context again with its next
		// event (rare calls; resending an unchanged context is harmless).
		struct task_state *st =
			bpf_task_storage_get(&task_st, bpf_get_current_task_btf(), 0, 0);
		if (st)
			st->ctx_sent = 0;
	}
	// A call outside the selection is not an event: not counted (as with fentry, where it is
	// not even hooked), so that the calls no one asked for cost as little as possible.
	if (!(*desc & D_SELECTED))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	// With follow, the task's storage (if any) first: a task already known to be followed
	// passes without the hash lookup, and on_enter reuses the storage found.
	struct task_state *st = 0;
	if (cfg_flags & CF_FOLLOW)
		st = bpf_task_storage_get(&task_st, t, 0, 0);
	*stp = st;
	int pass = task_passes_st(t, t->tgid, st);
	if (!pass)
		count(C_FILTERED);
	else if (!kept_once)
		kept_once = 1;
	return pass;
}

// The six argument registers of a system call (x86_64), with plain loads from `regs`.
static __always_inline void regs_args(struct pt_regs *regs, u64 *args)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

// A kept call: counted, the task's storage (`st` if already found, else created) with its
// context sent. NULL (counted as lost) when no storage can be had.
static __always_inline struct task_state *kept_task(struct task_struct *t, struct task_state *st,
						    int pass)
{
	count(C_KEPT);
	if (!st)
		st = bpf_task_storage_get(&task_st, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count(C_LOST);
		return 0;
	}
	send_context(t, st, pass);
	return st;
}

static __always_inline int on_enter(u32 id, u64 desc, int pass, u64 *args, struct task_state *st)
{
	struct task_struct *t = bpf_get_current_task_btf();
	st = kept_task(t, st, pass);
	if (!st)
		return 0;
	u8 flags = pass == 2 ? HF_UNDECIDED : 0;
	// exit and exit_group never return: send them now.
	if (id == 60 || id == 231) {
		submit_fixed(R_NORET, id, 0, args, flags, D_NARGS(desc));
		return 0;
	}
	if ((desc & D_AT_ENTRY) && submit_ext(R_ENTRY_EXT, id, 0, args, desc, flags, st) < 0)
		count(C_AUX_LOST);
	for (int i = 0; i < 6; i++)
		st->args[i] = args[i];
	st->id = id;
	st->undecided = flags;
	st->pending = 1;
	return 0;
}

// A returned call's record: with its strings (read now) or fixed. One copy for both exit paths.
// `call`: the call number, with the header flags in bits 32-39 (a BPF call has at most five
// arguments).
static __noinline void submit_call(u64 call, u64 desc, s64 ret, u64 *args, struct task_state *st)
{
	u32 id = (u32)call;
	u8 flags = (u8)(call >> 32);
	if ((desc & D_STRINGS_MASK) && !(desc & D_AT_ENTRY)) {
		if (submit_ext(R_SYS_EXT, id, ret, args, desc, flags, st) < 0)
			count(C_LOST);
	} else
		submit_fixed(R_SYS, id, ret, args, flags, D_NARGS(desc));
}

// A successful rename, mount... may have moved directories in threads' base slots: drop them all.
static __always_inline void note_path_moves(u64 desc, s64 ret)
{
	if ((desc & D_MOVES_PATHS) && ret == 0)
		__sync_fetch_and_add(&path_gen, 1);
}

static __always_inline int on_exit(u32 id, s64 ret)
{
	if (id >= 512)
		return 0;
	u64 desc = desc_at(id);
	if (!(desc & D_SELECTED) || !kept_once)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_state *st = bpf_task_storage_get(&task_st, t, 0, 0);
	if (!st || !st->pending)
		return 0;
	st->pending = 0;
	if (st->id != id) { // a call entered before the sensor started, or a restarted one
		id = st->id;
		desc = desc_at(id);
	}
	u64 args[6];
	for (int i = 0; i < 6; i++)
		args[i] = st->args[i];
	submit_call(id | ((u64)st->undecided << 32), desc, ret, args, st);
	// The task's context changed (setns, unshare, sethostname): send it again.
	if (desc & D_CTX_RESET)
		st->ctx_sent = 0;
	return 0;
}

// A D_AT_EXIT call on tp_btf: the filter, the context and the record, all at exit.
static __always_inline int on_exit_only(u32 id, u64 desc, s64 ret, struct pt_regs *regs)
{
	if (!(desc & D_SELECTED))
		return 0; // outside the selection: not an event, not counted (see enter_filter)
	struct task_struct *t = bpf_get_current_task_btf();
	// The storage first only with follow (as at entry): a call the filter drops costs no lookup.
	struct task_state *st = 0;
	if (cfg_flags & CF_FOLLOW)
		st = bpf_task_storage_get(&task_st, t, 0, 0);
	int pass = task_passes_st(t, t->tgid, st);
	if (!pass) {
		count(C_FILTERED);
		return 0;
	}
	st = kept_task(t, st, pass);
	if (!st)
		return 0;
	u64 args[6];
	regs_args(regs, args);
	submit_call(id | ((u64)(pass == 2 ? HF_UNDECIDED : 0) << 32), desc, ret, args, st);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf, struct pt_regs *regs, long id)
{
	if ((u64)id < 512 && (desc_at((u32)id) & D_AT_EXIT))
		return 0;
	u64 desc = 0;
	struct task_state *st = 0;
	int pass = enter_filter((u32)id, &desc, &st);
	if (!pass)
		return 0;
	// regs is a trusted BTF pointer here: plain loads.
	u64 args[6];
	regs_args(regs, args);
	return on_enter((u32)id, desc, pass, args, st);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	u32 id = regs->orig_ax;
	if (id < 512) {
		u64 desc = desc_at(id);
		note_path_moves(desc, ret);
		if (desc & D_AT_EXIT)
			return on_exit_only(id, desc, ret, regs);
	}
	return on_exit(id, ret);
}

// The context of a per-call entry tracepoint (`syscalls/sys_enter_<call>`) as BPF programs see
// it: the kernel puts the registers' address where the common fields were, then the call number
// and the call's own arguments (only as many as it takes: the rest is not written).
struct syscall_enter_ctx {
	u64 regs;
	int nr;
	int pad;
	u64 args[6];
};

// Entry through one call's own tracepoint, attached (with tp_btf exits) only for the calls whose
// entry matters: those without D_AT_EXIT that are selected or reset the context. Every other
// call then runs no program at entry: the kernel's syscall-tracepoint probe tests one bit of its
// table of enabled calls and returns. The arguments come from the task's registers (all six).
SEC("tracepoint/syscalls/sys_enter")
int sys_enter_call(struct syscall_enter_ctx *ctx)
{
	u32 id = (u32)ctx->nr;
	u64 desc = 0;
	struct task_state *st = 0;
	int pass = enter_filter(id, &desc, &st);
	if (!pass)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return 0;
	u64 args[6];
	regs_args(regs, args);
	return on_enter(id, desc, pass, args, st);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_tp(struct trace_event_raw_sys_enter *ctx)
{
	u64 desc = 0;
	struct task_state *st = 0;
	int pass = enter_filter((u32)ctx->id, &desc, &st);
	if (!pass)
		return 0;
	u64 args[6];
	args[0] = ctx->args[0];
	args[1] = ctx->args[1];
	args[2] = ctx->args[2];
	args[3] = ctx->args[3];
	args[4] = ctx->args[4];
	args[5] = ctx->args[5];
	return on_enter((u32)ctx->id, desc, pass, args, st);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	if ((u64)ctx->id < 512)
		note_path_moves(desc_at((u32)ctx->id), ctx->ret);
	return on_exit((u32)ctx->id, ctx->ret);
}

// ---------------------------------------------------------------------------------------------
// Process events.

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	u64 desc = cfg_desc[SLOT_FORK];
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	u32 ctgid = BPF_CORE_READ(child, tgid);
	struct task_struct *cur = bpf_get_current_task_btf();
	int pass = task_passes(cur, ptgid);
	// A followed parent (even the sensor's own process, whose events are never sent) or a
	// matching one passes the follow on to the child.
	if ((cfg_flags & CF_FOLLOW) && ctgid != ptgid &&
	    (pass || bpf_map_lookup_elem(&followed, &ptgid))) {
		u8 one = 1;
		bpf_map_update_elem(&followed, &ctgid, &one, BPF_ANY);
	}
	if (!(desc & D_SELECTED) || !pass) {
		count(C_FILTERED);
		return 0;
	}
	count(C_KEPT);
	struct task_state *st = bpf_task_storage_get(&task_st, cur, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (st)
		send_context(cur, st, pass);
	void *ring = cpu_ring();
	struct rec_fork *r = ring ? bpf_ringbuf_reserve(ring, sizeof(*r), 0) : 0;
	if (!r) {
		count(C_LOST);
		return 0;
	}
	fill_hdr(&r->h, R_FORK, 1000, sizeof(*r), pass == 2 ? HF_UNDECIDED : 0);
	u32 plevel = task_level(parent);
	r->parent_tid = BPF_CORE_READ(parent, pid);
	r->parent_ns_tid = ns_tid_of(parent);
	r->parent_pid = ptgid;
	r->parent_ns_pid = ns_tgid_of(parent, plevel);
	u32 clevel = task_level(child);
	r->child_tid = BPF_CORE_READ(child, pid);
	r->child_ns_tid = ns_tid_of(child);
	r->child_pid = ctgid;
	r->child_ns_pid = ns_tgid_of(child, clevel);
	r->child_start_time = BPF_CORE_READ(child, start_boottime);
	bpf_ringbuf_submit(r, wake_flags());
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

static __always_inline int on_exec(struct task_struct *t, struct linux_binprm *bprm)
{
	u64 desc = cfg_desc[SLOT_EXEC];
	u64 pt = bpf_get_current_pid_tgid();
	int pass = task_passes(t, pt >> 32);
	if (!(desc & D_SELECTED) || !pass) {
		count(C_FILTERED);
		return 0;
	}
	count(C_KEPT);
	struct task_state *st = bpf_task_storage_get(&task_st, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	send_task(t, st);
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	u8 *buf = s->buf;
	u8 flags = pass == 2 ? HF_UNDECIDED : 0;
	u32 off = sizeof(struct rec_hdr);
	const char *fname = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(&buf[bnd(off + 4)], MAX_READ, fname);
	if (n > 0) {
		put_item(buf, off, 0, I_STR, n);
		off = align4(off + 4 + n);
	}
	// The cwd: the base of a relative file name, and the event's cwd argument.
	struct path pwd = BPF_CORE_READ(t, fs, pwd);
	off = put_path(s, off, (u64)pwd.dentry, (u64)pwd.mnt, 2);
	u64 as = BPF_CORE_READ(t, mm, arg_start);
	u64 ae = BPF_CORE_READ(t, mm, arg_end);
	u64 len = ae > as ? ae - as : 0;
	if (len > HALF / 2 - 64) {
		len = HALF / 2 - 64;
		flags |= HF_TRUNCATED;
	}
	asm volatile("" : "+r"(len));
	off &= HALF - 1;
	if (len && len <= HALF / 2 - 64 &&
	    bpf_probe_read_user(&buf[bnd(off + 4)], len, (void *)as) == 0) {
		put_item(buf, off, 1, I_ARGV, len);
		off = align4(off + 4 + len);
	}
	off &= HALF - 1;
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		n = bpf_probe_read_kernel_str(&buf[bnd(off + 4)], 64, &tty->name);
		if (n > 0) {
			put_item(buf, off, 3, I_STR, n);
			off = align4(off + 4 + n);
		}
	}
	off &= HALF - 1;
	struct rec_hdr *h = (struct rec_hdr *)buf;
	fill_hdr(h, R_EXEC, 1001, off, flags);
	if (off < sizeof(*h))
		return 0;
	void *ring = cpu_ring();
	if (!ring || bpf_ringbuf_output(ring, buf, off, wake_flags()) < 0)
		count(C_LOST);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p, bprm);
}

static __always_inline int on_exit_task(struct task_struct *t, int group_exit)
{
	u64 desc = cfg_desc[SLOT_EXIT];
	u64 pt = bpf_get_current_pid_tgid();
	u32 tgid = pt >> 32;
	int pass = task_passes(t, tgid);
	if (group_exit && (cfg_flags & CF_FOLLOW))
		bpf_map_delete_elem(&followed, &tgid);
	if (!(desc & D_SELECTED) || !pass) {
		count(C_FILTERED);
		return 0;
	}
	count(C_KEPT);
	struct task_state *st = bpf_task_storage_get(&task_st, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (st)
		send_context(t, st, pass);
	void *ring = cpu_ring();
	struct rec_exit *r = ring ? bpf_ringbuf_reserve(ring, sizeof(*r), 0) : 0;
	if (!r) {
		count(C_LOST);
		return 0;
	}
	fill_hdr(&r->h, R_EXIT, 1002, sizeof(*r), pass == 2 ? HF_UNDECIDED : 0);
	r->exit_code = BPF_CORE_READ(t, exit_code);
	if (group_exit) {
		int gc = BPF_CORE_READ(t, signal, group_exit_code);
		if (BPF_CORE_READ(t, signal, flags) & 0x4 /* SIGNAL_GROUP_EXIT */)
			r->exit_code = gc;
	}
	r->group_exit = group_exit;
	bpf_ringbuf_submit(r, wake_flags());
	return 0;
}

// A task moved to another cgroup (runc init joining its container's, a write to cgroup.procs):
// with a v1 hierarchy reported, its context (which names its v1 cgroup) goes again with its next
// event. The v2 cgroup is in every record's header and needs nothing.
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(cgroup_attach_btf, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	if (!cfg_v1_subsys)
		return 0;
	struct task_state *st = bpf_task_storage_get(&task_st, task, 0, 0);
	if (st)
		st->ctx_sent = 0;
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p, bool group_dead)
{
	return on_exit_task(p, group_dead);
}

// Classic tracepoint form of the exit event, for kernels that refuse tp_btf.
SEC("tracepoint/sched/sched_process_exit")
int exit_tp(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	return on_exit_task(t, BPF_CORE_READ(t, signal, live.counter) == 0);
}

_Static_assert(sizeof(struct rec_hdr) == 56, "rec_hdr layout");
_Static_assert(sizeof(struct rec_sys) == 112, "rec_sys layout");
_Static_assert(sizeof(struct rec_task) == 176, "rec_task layout");
_Static_assert(sizeof(struct rec_fork) == 96, "rec_fork layout");
_Static_assert(sizeof(struct rec_exit) == 64, "rec_exit layout");
