package engine

import "testing"

func TestExecActionLikeDockerd(t *testing.T) {
	if got := execAction("exec_create", []string{"env"}); got != "exec_create: env " {
		t.Errorf("no arguments: %q, want a trailing space", got)
	}
	if got := execAction("exec_start", []string{"sh", "-c", "exit 5"}); got != "exec_start: sh -c exit 5" {
		t.Errorf("with arguments: %q", got)
	}
}
