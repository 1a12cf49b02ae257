// Package cgroup2 owns the smoke test of the cgroup v2 VM that
// hack/cgroup2-vm.sh boots: its tests create cgroups under a pure cgroup v2
// /sys/fs/cgroup and check that the memory, pids, cpu, cpuset and hugetlb
// controllers enforce and report what a container runtime relies on (an OOM
// kill recorded in memory.events, fork refused beyond pids.max, a cgroup
// namespace rooted at the process's cgroup).
//
// The tests skip on hosts without a cgroup2 /sys/fs/cgroup that offers those
// controllers, such as this project's hybrid-layout machines; run them in the
// VM with hack/cgroup2-tests.sh. Every cgroup they make is named
// /sys/fs/cgroup/berth-smoke-*, and is emptied (cgroup.kill) and removed when
// its test ends.
package cgroup2
