package engine

import "testing"

// commandLine is dockerd's COMMAND of the list: arguments with a space in
// single quotes, nothing else escaped.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		path string
		args []string
		want string
	}{
		{"sleep", []string{"100"}, "sleep 100"},
		{"sh", []string{"-c", "while true; do sleep 1; done"}, "sh -c 'while true; do sleep 1; done'"},
		{"true", nil, "true"},
		{"echo", []string{"it's", "a b'c"}, "echo it's 'a b'c'"},
	} {
		if got := commandLine(tc.path, tc.args); got != tc.want {
			t.Errorf("commandLine(%q, %q) = %q, want %q", tc.path, tc.args, got, tc.want)
		}
	}
}
