package networkapi

import (
	"strings"
	"testing"
)

// --link NAME:ALIAS on the default bridge: the linked container answers
// under the alias; a link to a container that does not exist is refused
// at create, as dockerd refuses it.
func TestLink(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	d.server(t, "lweb")
	out := d.docker(t, "run", "--rm", "--link", "lweb:lw", "busybox", "sh", "-c", clientScript("lw", "80"))
	if strings.TrimSpace(out) != "hello from lweb" {
		t.Errorf("through the link alias: %q", out)
	}
	r := run(t, d, dockerCLI, "", "run", "--rm", "--link", "nosuch:x", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "No such container: nosuch") {
		t.Errorf("--link nosuch:x: %s; want exit 125, No such container", r)
	}
}
