package compose

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// composeFile is a project as a compose user writes it: a built web
// service (busybox httpd) with a published port, environment, a named
// volume, a user network and a healthcheck; a client that depends on it
// and fetches its page by service name.
const composeFile = `version: "3.8"
services:
  web:
    build: ./web
    image: cmpt-web:latest
    ports:
      - "127.0.0.1:PORT:80"
    environment:
      - FOO=bar
    volumes:
      - data:/data
    networks:
      - front
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost/"]
      interval: 1s
      retries: 10
    stop_grace_period: 1s
  client:
    image: busybox
    command: sh -c 'until wget -q -O - http://web/; do sleep 0.2; done; echo; echo fetched; sleep 300'
    depends_on:
      - web
    networks:
      - front
    stop_grace_period: 1s
volumes:
  data:
networks:
  front:
`

const webDockerfile = `FROM busybox
RUN mkdir -p /www && echo page-from-build > /www/index.html
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
`

// TestComposeLifecycle drives docker-compose 1.29 through what a user
// does: build, up -d, ps, the published port, service-name DNS between
// services, exec, run --rm with its exit code, a second up -d that finds
// everything up to date, scale, logs, stop/start, and down -v, which
// leaves no container, volume or network.
func TestComposeLifecycle(t *testing.T) {
	d := newDaemon(t)
	dir := t.TempDir()
	port := freePort(t)
	writeFiles(t, dir, map[string]string{
		"docker-compose.yml": strings.Replace(composeFile, "PORT", port, 1),
		"web/Dockerfile":     webDockerfile,
	})
	compose := func(args ...string) result {
		t.Helper()
		// COMPOSE_DOCKER_CLI_BUILD=0: the build goes through the SDK's
		// POST /build, not a docker CLI found on PATH.
		return d.client(t, dir, []string{"COMPOSE_DOCKER_CLI_BUILD=0"}, "docker-compose", append([]string{"-p", "cmpt"}, args...)...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.Log())
		}
		compose("down", "-v", "-t", "1")
	})
	must := func(r result, what string) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("docker-compose %s: %s", what, r)
		}
		return r
	}

	must(compose("build"), "build")
	must(compose("up", "-d"), "up -d")

	// ps lists each container once, both up.
	ps := must(compose("ps"), "ps").stdout
	for _, name := range []string{"cmpt_web_1", "cmpt_client_1"} {
		if n := strings.Count(ps, name); n != 1 {
			t.Errorf("ps lists %s %d times, want once:\n%s", name, n, ps)
		}
	}
	if strings.Count(ps, " Up") != 2 || !strings.Contains(ps, "127.0.0.1:"+port+"->80/tcp") {
		t.Errorf("ps: want both containers up and the port published:\n%s", ps)
	}

	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("GET the published port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page-from-build\n" {
		t.Errorf("published port answered %q, want the built page", body)
	}

	// The client reaches web by its service name on the project network.
	var logs string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		logs = must(compose("logs", "--no-color", "client"), "logs").stdout
		if strings.Contains(logs, "fetched") {
			break
		}
	}
	if !strings.Contains(logs, "page-from-build") || !strings.Contains(logs, "fetched") {
		t.Errorf("client logs: want the page fetched from http://web/:\n%s", logs)
	}

	if r := must(compose("exec", "-T", "web", "sh", "-c", "echo $FOO; test -d /data && echo has-data"), "exec"); r.stdout != "bar\nhas-data\n" {
		t.Errorf("exec: stdout %q, want FOO and the volume", r.stdout)
	}
	if r := compose("run", "--rm", "-T", "client", "sh", "-c", "wget -q -O - http://web/; exit 3"); r.code != 3 || !strings.Contains(r.stdout, "page-from-build") {
		t.Errorf("run --rm: want exit 3 after fetching the page: %s", r)
	}

	// Nothing changed: a second up recreates nothing.
	if r := must(compose("up", "-d"), "second up -d"); strings.Count(r.stderr, "is up-to-date") != 2 {
		t.Errorf("second up -d: want both services up to date:\n%s", r)
	}

	must(compose("up", "-d", "--scale", "client=2"), "up -d --scale client=2")
	ps = must(compose("ps"), "ps after scale").stdout
	if !strings.Contains(ps, "cmpt_client_2") || strings.Count(ps, " Up") != 3 {
		t.Errorf("ps after scale: want cmpt_client_2 and 3 containers up:\n%s", ps)
	}
	if r := must(compose("top", "web"), "top"); !strings.Contains(r.stdout, "httpd -f -p 80") {
		t.Errorf("top: %s", r)
	}

	must(compose("stop", "-t", "1"), "stop")
	ps = must(compose("ps"), "ps after stop").stdout
	if strings.Contains(ps, " Up") || !regexp.MustCompile(`cmpt_web_1 .* Exit `).MatchString(ps) {
		t.Errorf("ps after stop: want every container exited:\n%s", ps)
	}
	must(compose("start"), "start")
	if ps = must(compose("ps"), "ps after start").stdout; strings.Count(ps, " Up") != 3 {
		t.Errorf("ps after start: want 3 containers up:\n%s", ps)
	}

	must(compose("down", "-v", "-t", "1"), "down -v")
	for _, args := range [][]string{{"ps", "-aq"}, {"volume", "ls", "-q"}, {"network", "ls", "-q", "--filter", "name=cmpt_front"}} {
		if r := d.Docker(t, args...); r.Code != 0 || strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("docker %v after down -v: %s %s", args, r.Stdout, r.Stderr)
		}
	}
}

// TestComposeRecreateWithoutVersion: a compose file without "version:"
// makes docker-compose 1.29 negotiate the daemon's highest API version;
// a changed service is then recreated (compose reads the old container's
// image's ContainerConfig for its volumes) and runs the new command.
func TestComposeRecreateWithoutVersion(t *testing.T) {
	d := newDaemon(t)
	dir := t.TempDir()
	file := "services:\n  app:\n    image: busybox\n    command: sh -c 'trap \"exit 0\" TERM; echo first; sleep 300 & wait'\n    stop_grace_period: 1s\n"
	writeFiles(t, dir, map[string]string{"docker-compose.yml": file})
	compose := func(args ...string) result {
		t.Helper()
		return d.client(t, dir, nil, "docker-compose", append([]string{"-p", "cmpv"}, args...)...)
	}
	t.Cleanup(func() { compose("down", "-t", "1") })
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up -d: %s", r)
	}
	writeFiles(t, dir, map[string]string{"docker-compose.yml": strings.Replace(file, "echo first", "echo second", 1)})
	r := compose("up", "-d")
	if r.code != 0 || !strings.Contains(r.stderr, "Recreating cmpv_app_1") {
		t.Fatalf("second up -d: want the service recreated: %s", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := compose("logs", "--no-color", "app").stdout
		if strings.Contains(logs, "second") && !strings.Contains(logs, "first") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs after the recreate: want only the new command's output:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ps := d.Docker(t, "ps", "-a", "--format", "{{.Names}}"); strings.TrimSpace(ps.Stdout) != "cmpv_app_1" {
		t.Errorf("containers after the recreate: %q, want only cmpv_app_1", ps.Stdout)
	}
}
