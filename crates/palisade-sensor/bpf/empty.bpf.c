// SPDX-License-Identifier: GPL-2.0
// An empty program on the sensor's syscall hooks: the floor that scripts/bench-sensor measures
// (what any program on the syscall tracepoint costs before it does anything).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(empty_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(empty_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

// The same on one call's own entry tracepoint (`syscalls/sys_enter_<call>`), for the floor of
// the sensor's per-call entries.
SEC("tracepoint/syscalls/sys_enter")
int empty_enter_call(void *ctx)
{
	return 0;
}
