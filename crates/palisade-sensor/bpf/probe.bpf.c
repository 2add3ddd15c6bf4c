// SPDX-License-Identifier: GPL-2.0
// Trivial programs of the hook types the kernel may refuse (fentry, BPF LSM): the sensor loads
// and attaches each once at start-up to learn which types it may use (src/hooks.rs), then drops
// them. They do nothing.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

// Attached to __x64_sys_sethostname (any kernel function with BTF would do).
SEC("fentry")
int BPF_PROG(probe_fentry, struct pt_regs *regs)
{
	return 0;
}

// Attached to the file_open LSM hook; 0 = allow.
SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	return 0;
}
