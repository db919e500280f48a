package endpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Endpoint // TLS compared as present or not
		tls  bool
		show string // String()
	}{
		{"127.0.0.1:6379", Endpoint{Addr: "127.0.0.1:6379"}, false, "127.0.0.1:6379"},
		{" localhost:7000 ", Endpoint{Addr: "localhost:7000"}, false, "localhost:7000"},
		{"[::1]:7000", Endpoint{Addr: "[::1]:7000"}, false, "[::1]:7000"},
		{"redis://127.0.0.1:7000", Endpoint{Addr: "127.0.0.1:7000"}, false, "127.0.0.1:7000"},
		{"redis://127.0.0.1", Endpoint{Addr: "127.0.0.1:6379"}, false, "127.0.0.1:6379"},
		{"redis://[::1]", Endpoint{Addr: "[::1]:6379"}, false, "[::1]:6379"},
		{"redis://:s3cret@127.0.0.1:7000", Endpoint{Addr: "127.0.0.1:7000", Password: "s3cret"}, false, "redis://:xxxxx@127.0.0.1:7000"},
		{"redis://alice:pw@127.0.0.1:7000/2", Endpoint{Addr: "127.0.0.1:7000", Username: "alice", Password: "pw", DB: 2}, false, "redis://alice:xxxxx@127.0.0.1:7000/2"},
		{"redis://alice@127.0.0.1:7000", Endpoint{Addr: "127.0.0.1:7000", Username: "alice"}, false, "redis://alice@127.0.0.1:7000"},
		{"redis://:p%40ss%3Aw@127.0.0.1:7000", Endpoint{Addr: "127.0.0.1:7000", Password: "p@ss:w"}, false, "redis://:xxxxx@127.0.0.1:7000"},
		{"rediss://:pw@127.0.0.1:7000", Endpoint{Addr: "127.0.0.1:7000", Password: "pw"}, true, "rediss://:xxxxx@127.0.0.1:7000"},
		{"rediss://127.0.0.1:7000/", Endpoint{Addr: "127.0.0.1:7000"}, true, "rediss://127.0.0.1:7000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in, TLSFiles{})
			if err != nil {
				t.Fatal(err)
			}
			if (got.TLS != nil) != tc.tls {
				t.Errorf("TLS = %v, want %v", got.TLS != nil, tc.tls)
			}
			if got.TLS != nil && (got.TLS.InsecureSkipVerify || got.TLS.ServerName != "127.0.0.1") {
				t.Errorf("TLS config %+v: want verification of 127.0.0.1", got.TLS)
			}
			got.TLS = nil
			if got != tc.want {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
			got, _ = Parse(tc.in, TLSFiles{})
			for _, s := range []string{got.String(), fmt.Sprint(got), fmt.Sprintf("%v %+v %#v %s", got, got, got, []Endpoint{got})} {
				if got.Password != "" && strings.Contains(s, got.Password) {
					t.Errorf("%q shows the password", s)
				}
			}
			if s := got.String(); s != tc.show {
				t.Errorf("String() = %q, want %q", s, tc.show)
			}
		})
	}
}

func TestParseErrorsNeverShowThePassword(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"nohostport", "host:port"},
		{"127.0.0.1:0", "port"},
		{"127.0.0.1:http", "port"},
		{"10.0.0.1:6379", "this machine"},
		{"redis://:SECRET@example.com:6379", "this machine"},
		{"redis://:SECRET@127.0.0.1:notaport", "port"},
		{"redis://:SECRET@127.0.0.1:99999", "port"},
		{"redis://:SEC%zzRET@127.0.0.1:1", "not a URL"},
		{"redis://:SECRET@127.0.0.1:1/x", "database"},
		{"redis://:SECRET@127.0.0.1:1?tls=1", "flags"},
		{"redis://:SECRET@", "no host"},
		{"http://:SECRET@127.0.0.1:1", "scheme"},
		{"user:SECRET@127.0.0.1:1", "no scheme"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in, TLSFiles{})
			if !errors.Is(err, ErrBadAddr) {
				t.Fatalf("err = %v, want ErrBadAddr", err)
			}
			if strings.Contains(err.Error(), "SEC") {
				t.Errorf("error %q shows the password", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:1":                        "127.0.0.1:1",
		"redis://127.0.0.1:1":                "redis://127.0.0.1:1",
		"redis://alice:pw@127.0.0.1:1":       "redis://alice:xxxxx@127.0.0.1:1",
		"rediss://:p@w@d@127.0.0.1:1/3":      "rediss://:xxxxx@127.0.0.1:1/3",
		"redis://alice@127.0.0.1:1":          "redis://alice@127.0.0.1:1",
		"alice:pw@127.0.0.1:1":               "xxxxx@127.0.0.1:1",
		"redis://:SEC%zzRET@127.0.0.1:1,foo": "redis://:xxxxx@127.0.0.1:1,foo",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files TLSFiles
		want  string
	}{
		{"missing CA", TLSFiles{CA: filepath.Join(dir, "none.pem")}, "no such file"},
		{"CA not PEM", TLSFiles{CA: notPEM}, "no PEM certificate"},
		{"cert without key", TLSFiles{Cert: notPEM}, "both or neither"},
		{"key without cert", TLSFiles{Key: notPEM}, "both or neither"},
		{"bad pair", TLSFiles{Cert: notPEM, Key: notPEM}, "client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rediss://:SECRET@127.0.0.1:1", tc.files)
			if !errors.Is(err, ErrBadAddr) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("err = %v, want ErrBadAddr saying %q without the password", err, tc.want)
			}
		})
	}
	// Insecure is what was asked for, no more.
	ep, err := Parse("rediss://127.0.0.1:1", TLSFiles{Insecure: true})
	if err != nil || !ep.TLS.InsecureSkipVerify {
		t.Errorf("insecure: %+v, %v", ep.TLS, err)
	}
	if !(TLSFiles{}).IsZero() || (TLSFiles{Insecure: true}).IsZero() {
		t.Error("IsZero")
	}
}

// TestParseRemote: addresses on other hosts, refused by Parse, are taken
// by ParseRemote (agents in a cluster reach them); everything else about
// an address is checked the same.
func TestParseRemote(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wantAddr string // "" = refused by ParseRemote too
	}{
		{"10.0.0.1:6379", "10.0.0.1:6379"},
		{"redis://:pw@redis.bench.svc:6380/2", "redis.bench.svc:6380"},
		{"redis://redis.bench.svc", "redis.bench.svc:6379"},
		{"127.0.0.1:6379", "127.0.0.1:6379"},
		{"redis.bench.svc", ""},
		{"http://redis.bench.svc:6379", ""},
		{":6379", ""},
	} {
		ep, err := ParseRemote(tc.in, TLSFiles{})
		if tc.wantAddr == "" {
			if err == nil {
				t.Errorf("ParseRemote(%q) = %+v, want an error", tc.in, ep)
			}
			continue
		}
		if err != nil || ep.Addr != tc.wantAddr {
			t.Errorf("ParseRemote(%q) = %q, %v; want %q", tc.in, ep.Addr, err, tc.wantAddr)
		}
		if _, err := Parse(tc.in, TLSFiles{}); (err == nil) != strings.HasPrefix(tc.wantAddr, "127.") {
			t.Errorf("Parse(%q): %v", tc.in, err)
		}
	}
}
