package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// TestSystemPrune: berth system prune, as docker's: a "no" at the prompt
// removes nothing; -f removes stopped containers, unused networks and
// dangling images (with --volumes unused anonymous volumes), lists each
// kind, and keeps what a running container uses.
func TestSystemPrune(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "stopped", "-v", "/anon", "busybox", "true")
	anon := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "stopped"))
	d.mustDocker(t, "network", "create", "unused-net")
	d.mustDocker(t, "run", "-d", "--name", "running", "busybox", "sleep", "300")

	r := d.Run(t, berthBin, testutil.RunOptions{Stdin: strings.NewReader("n\n")}, "system", "prune")
	if r.Err != nil || !strings.Contains(r.Stdout, "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue? [y/N] ") {
		t.Errorf("system prune answered no: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if out := d.mustDocker(t, "ps", "-aq", "--filter", "name=stopped"); out == "" {
		t.Fatalf("a 'no' removed the stopped container")
	}

	out, errOut, err := d.berth(t, "system", "prune", "-f", "--volumes")
	if err != nil {
		t.Fatalf("system prune -f: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"Deleted Containers:\n", "Deleted Networks:\nunused-net\n", "Deleted Volumes:\n" + anon + "\n", "Total reclaimed space: "} {
		if !strings.Contains(out, want) {
			t.Errorf("system prune -f output lacks %q:\n%s", want, out)
		}
	}
	if got := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}"); got != "running\n" {
		t.Errorf("containers after system prune: %q, want only the running one", got)
	}
	if got := d.mustDocker(t, "images", "--format", "{{.Repository}}"); got != "busybox\n" {
		t.Errorf("images after system prune: %q, want busybox kept (a running container uses it)", got)
	}
	if _, errOut, err := d.berth(t, "system", "prune", "-f", "--volumes", "--filter", "until=1h"); err == nil || !strings.Contains(errOut, `The "until" filter is not supported with "--volumes"`) {
		t.Errorf("system prune --volumes --filter until: %v %q", err, errOut)
	}
}

// TestPruneUntilFraction: container prune's until is read to the
// nanosecond, as dockerd reads it: a container created after a fractional
// until stays.
func TestPruneUntilFraction(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "before", "busybox")
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		now := time.Now()
		until := fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())
		time.Sleep(20 * time.Millisecond)
		name := fmt.Sprintf("after%d", i)
		d.mustDocker(t, "create", "--name", name, "busybox")
		d.mustDocker(t, "container", "prune", "-f", "--filter", "until="+until)
		if got := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}"); got != name+"\n" {
			t.Errorf("after prune --filter until=%s: %q, want only %s (created after it)", until, got, name)
		}
		d.mustDocker(t, "rm", name)
		d.mustDocker(t, "create", "--name", "before", "busybox")
	}
}
