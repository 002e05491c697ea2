package intake

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

	"github.com/intake-office/intake/config"
)

// selfSigned returns a TLS certificate for 127.0.0.1 and the path of its PEM file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// The responder's own dialer (needed for the shutdown deadline) keeps implicit TLS
// (RFC 8314) working, AUTH PLAIN included, which go-mail offers only over encryption; a
// done hard context ends a wait for a reply.
func TestHardDialerImplicitTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	authed := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { conn.Write([]byte(s + "\r\n")) }
		say("220 tls.test ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "EHLO":
				say("250-tls.test\r\n250 AUTH PLAIN")
			case "AUTH":
				authed <- strings.TrimSpace(line)
				say("235 ok")
			case "NOOP":
				// no answer: the hard context must end the wait
			default:
				say("250 ok")
			}
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	mb := config.Mailbox{SMTP: config.SMTP{Host: "127.0.0.1", TLS: config.TLSImplicit, Username: "u", CAFile: caFile}}
	mb.SMTP.Port, _ = strconv.Atoi(port)
	mb.SMTP.Password = "p"
	hard, cancel := context.WithCancel(context.Background())
	client, err := newSMTPClient(mb, nil, time.Hour, hard)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := client.DialToSMTPClientWithContext(context.Background())
	if err != nil {
		t.Fatalf("dial over implicit TLS: %v", err)
	}
	defer sc.Close()
	select {
	case a := <-authed:
		if !strings.HasPrefix(a, "AUTH PLAIN") {
			t.Errorf("auth command %q", a)
		}
	default:
		t.Fatal("no AUTH over the implicit TLS connection")
	}
	if st, ok := sc.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Errorf("connection not TLS: %v", ok)
	}
	done := make(chan error, 1)
	go func() { done <- sc.Noop() }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("NOOP without a reply succeeded")
		}
	case <-time.After(time.Minute):
		t.Fatal("a done hard context did not end the wait for a reply")
	}
}
