package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testCert makes a self-signed certificate for 127.0.0.1 and writes it as a CA file, the way
// a private broker's certificate is handed to its clients.
func testCert(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cectl test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, ca
}

func startNATSTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return runNATS(t, &natsserver.Options{TLS: true, TLSConfig: cfg, TLSTimeout: 5})
}

func startMQTTTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return "mqtts://" + runMQTT(t, cfg)
}

func startKafkaTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.TLS(cfg))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return "kafka://" + c.ListenAddrs()[0]
}

// TestBrokerTLS runs a round trip over TLS to each embedded broker, trusting its certificate
// through ?ca=FILE, and checks that the same broker is refused without it: an unknown
// certificate is not delivered (exit 3), never silently trusted.
func TestBrokerTLS(t *testing.T) {
	cfg, ca := testCert(t)
	tests := []struct {
		name  string
		base  string
		path  string
		modes []binding.Mode
		tls   string // what asks for TLS when the scheme does not
	}{
		{"nats", startNATSTLS(t, cfg), "/" + uniq("cectl.test.tls"), []binding.Mode{binding.Structured}, "tls=true"},
		{"mqtt", startMQTTTLS(t, cfg), "/cectl/test/tls", []binding.Mode{binding.Binary, binding.Structured}, ""},
		{"kafka", startKafkaTLS(t, cfg), "/" + uniq("cectl-tls"), []binding.Mode{binding.Binary, binding.Structured}, "tls=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.base + tt.path + "?ca=" + ca
			so := SubscribeOptions{}
			if tt.name == "kafka" {
				so.Start = "oldest"
			}
			roundTrip(t, url, url, tt.modes, so)

			plain := tt.base + tt.path
			if tt.tls != "" {
				plain += "?" + tt.tls
			}
			refusesUntrusted(t, plain, tt.modes[0])
		})
	}
}

// refusesUntrusted checks that a send to url, whose broker's certificate nothing vouches
// for, is not delivered and says why.
func refusesUntrusted(t *testing.T, url string, mode binding.Mode) {
	t.Helper()
	tg, err := Open(url, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := tg.Send(ctx, mode, testEvents(t)[0])
	if res.Delivered || res.ACK {
		t.Fatalf("send to a broker with an untrusted certificate: delivered=%v ack=%v", res.Delivered, res.ACK)
	}
	if res.Err == nil || !strings.Contains(strings.ToLower(res.Err.Error()), "certificate") {
		t.Errorf("error %v does not say the certificate is not trusted", res.Err)
	}
}

// TestBrokerTLSInsecure checks that --insecure (Options.Insecure) accepts a certificate no
// CA vouches for.
func TestBrokerTLSInsecure(t *testing.T) {
	cfg, _ := testCert(t)
	url := startNATSTLS(t, cfg) + "/" + uniq("cectl.test.insecure") + "?tls=true"
	l := listen(t, url, SubscribeOptions{Insecure: true})
	tg, err := Open(url, Options{Timeout: 10 * time.Second, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	e := testEvents(t)[0]
	send(t, tg, binding.Structured, e)
	d := l.next(t)
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	sameEvent(t, e, &d.Event)
}

// TestAMQPTLS runs the AMQP round trip over amqps:// through a TLS-terminating proxy in front
// of each broker's plain port (neither the test broker nor RabbitMQ here speaks TLS), and
// checks that an untrusted certificate is refused.
func TestAMQPTLS(t *testing.T) {
	for _, s := range amqpServers(t) {
		t.Run(s.name, func(t *testing.T) {
			cfg, ca := testCert(t)
			u, err := url.Parse(s.base)
			if err != nil {
				t.Fatal(err)
			}
			u.Scheme, u.Host = "amqps", tlsProxy(t, cfg, u.Host)
			base := u.String() + "/queue/" + uniq("cectl-tls")
			roundTrip(t, base+"?ca="+ca, base+"?ca="+ca, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})

			refusesUntrusted(t, base, binding.Binary)
		})
	}
}

// tlsProxy accepts TLS connections with cfg and relays each to target in the clear.
func tlsProxy(t *testing.T, cfg *tls.Config, target string) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveRelay(t, l, target, func(c, srv net.Conn) {
		done := make(chan struct{}, 2)
		relay := func(dst, src net.Conn) { _, _ = io.Copy(dst, src); done <- struct{}{} }
		go relay(srv, c)
		go relay(c, srv)
		<-done
	})
}

// serveRelay accepts connections on l until the test ends and hands each, with a connection
// of its own to target, to relay, closing both once relay returns. It returns l's address.
func serveRelay(t *testing.T, l net.Listener, target string, relay func(c, srv net.Conn)) string {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				srv, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer srv.Close()
				relay(c, srv)
			}()
		}
	}()
	return l.Addr().String()
}
