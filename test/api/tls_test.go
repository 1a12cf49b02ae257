package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pki is a throw-away CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files in dir.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	otherCA                                          string // a CA that signed nothing here
}

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyPEM := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(name, "EC PRIVATE KEY", der)
	}
	now := time.Now()
	mkCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k, der
	}
	ca, caKey, caDER := mkCA("berth test CA")
	_, _, otherDER := mkCA("unrelated CA")
	leaf := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "berth test"}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	sDER, sKey := leaf(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	cDER, cKey := leaf(3, x509.ExtKeyUsageClientAuth, nil)
	return pki{
		ca:         writePEM("ca.pem", "CERTIFICATE", caDER),
		otherCA:    writePEM("other-ca.pem", "CERTIFICATE", otherDER),
		serverCert: writePEM("server-cert.pem", "CERTIFICATE", sDER),
		serverKey:  keyPEM("server-key.pem", sKey),
		clientCert: writePEM("cert.pem", "CERTIFICATE", cDER),
		clientKey:  keyPEM("key.pem", cKey),
	}
}

// TestTLSVerify serves the API on 127.0.0.1 with --tlsverify and a CA made
// here: clients with a certificate from that CA get in (berth and the
// docker CLI), one without a certificate or trusting another CA does not.
func TestTLSVerify(t *testing.T) {
	d := newDaemonDirs(t)
	p := newPKI(t, d.Dir)
	port := strconv.Itoa(freeLoopbackPort(t))
	host := "tcp://127.0.0.1:" + port
	d.Host = host
	startDaemon(t, d, "--tlsverify", "--tlscacert", p.ca, "--tlscert", p.serverCert, "--tlskey", p.serverKey)

	tlsArgs := []string{"-H", host, "--tlsverify", "--tlscacert", p.ca, "--tlscert", p.clientCert, "--tlskey", p.clientKey}
	r := run(t, nil, berthBin, append(tlsArgs, "version", "--format", "{{.Server.APIVersion}}")...)
	if r.code != 0 || r.stdout != "1.56\n" {
		t.Errorf("berth version over TLS: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", host, "--tlsverify", "--tlscacert", p.ca, "version")
	if r.code != 1 {
		t.Errorf("berth without a client certificate: exit %d, want 1\n%s", r.code, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", host, "--tlsverify", "--tlscacert", p.otherCA, "--tlscert", p.clientCert, "--tlskey", p.clientKey, "version")
	if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("berth trusting another CA: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", host, "version")
	if r.code != 1 {
		t.Errorf("plain HTTP to a TLS daemon: exit %d, want 1", r.code)
	}
	if docker, err := os.Stat("/usr/local/bin/docker"); err == nil && !docker.IsDir() {
		r = run(t, dockerEnv(t), "/usr/local/bin/docker", append(tlsArgs, "version", "--format", "{{.Server.Version}}")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "0.") {
			t.Errorf("docker version over TLS: exit %d, %q %s", r.code, r.stdout, r.stderr)
		}
	} else {
		t.Log("the docker CLI is not installed at /usr/local/bin/docker: its TLS case is skipped")
	}
}

// TestTLSRequiresKeyPair: --tls without a certificate is refused at start.
func TestTLSRequiresKeyPair(t *testing.T) {
	requireBerth(t)
	d := newDaemonDirs(t)
	r := run(t, nil, berthBin, d.Args("-H", "tcp://127.0.0.1:"+strconv.Itoa(freeLoopbackPort(t)), "--tls")...)
	if r.code != 1 || !strings.Contains(r.stderr, "--tlscert and --tlskey are required") {
		t.Errorf("--tls without certificates: exit %d, stderr %q", r.code, r.stderr)
	}
}
