package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Mask stands for a password wherever an address is shown.
const Mask = "xxxxx"

// ErrBadAddr marks an address that cannot be used; the message shows the
// address redacted.
var ErrBadAddr = errors.New("bad redis address")

// TLSFiles configure TLS for rediss:// addresses: the files are PEM, and
// Insecure (no verification of the server's certificate) is only ever set
// by an explicit flag, option or variable, never implied.
type TLSFiles struct {
	// CA is the certificate that signed the servers' certificates; empty
	// means the system's roots.
	CA string
	// Cert and Key are a client certificate and its key, for servers that
	// authenticate clients (tls-auth-clients yes); both or neither.
	Cert, Key string
	// Insecure skips verification of the server's certificate.
	Insecure bool
}

// IsZero reports whether no TLS option is set.
func (f TLSFiles) IsZero() bool { return f == TLSFiles{} }

// Config builds the TLS configuration for a server named serverName (the
// host of its address, checked against the certificate's SANs also when
// the connection goes through a fault proxy on another port).
func (f TLSFiles) Config(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: f.Insecure}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s holds no PEM certificate", f.CA)
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("a TLS client certificate needs its key and a key its certificate: give both or neither")
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Parse reads one address: host:port, or a URL
// redis://[user[:password]@]host[:port][/db] (rediss:// for TLS, configured
// from files). The host must be loopback (127.0.0.0/8, ::1 or localhost):
// every connection the harness makes stays on this machine. Errors wrap
// ErrBadAddr and show the address redacted.
func Parse(raw string, files TLSFiles) (Endpoint, error) { return parse(raw, files, false) }

// ParseRemote is Parse for nodes on other hosts, which a run whose clients
// are on agents in a Kubernetes cluster reaches (bench run --agents k8s:…
// or wait:N): any host, not only loopback ones.
func ParseRemote(raw string, files TLSFiles) (Endpoint, error) { return parse(raw, files, true) }

func parse(raw string, files TLSFiles, remote bool) (Endpoint, error) {
	raw = strings.TrimSpace(raw)
	bad := func(why string) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("redis address %q %s: %w", Redact(raw), why, ErrBadAddr)
	}
	if !strings.Contains(raw, "://") {
		if strings.Contains(raw, "@") {
			return bad("has credentials but no scheme (write redis://user:password@host:port)")
		}
		if err := checkHostPort(raw, remote); err != "" {
			return bad(err)
		}
		return Endpoint{Addr: raw}, nil
	}
	// url.Parse's errors quote the whole URL, password and all: they are
	// never shown, only that it failed.
	u, err := url.Parse(raw)
	var escape url.EscapeError
	switch {
	case errors.As(err, &escape):
		return bad("is not a URL (a password with reserved characters must be %-escaped)")
	case err != nil && strings.Contains(err.Error(), "invalid port"):
		return bad("has no valid port")
	case err != nil:
		return bad("is not a URL")
	}
	var secure bool
	switch u.Scheme {
	case "redis":
	case "rediss":
		secure = true
	default:
		return bad("has an unknown scheme (want host:port, redis:// or rediss://)")
	}
	if u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return bad("has parts this harness does not read (options go in flags: see --redis-tls-*)")
	}
	if u.Hostname() == "" {
		return bad("has no host")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "6379")
	}
	if err := checkHostPort(host, remote); err != "" {
		return bad(err)
	}
	e := Endpoint{Addr: host}
	if u.User != nil {
		e.Username = u.User.Username()
		e.Password, _ = u.User.Password()
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return bad("has a database that is not a number ≥ 0")
		}
		e.DB = n
	}
	if secure {
		h, _, _ := net.SplitHostPort(host)
		if e.TLS, err = files.Config(h); err != nil {
			return Endpoint{}, fmt.Errorf("redis address %q: %w: %w", Redact(raw), err, ErrBadAddr)
		}
	}
	return e, nil
}

// checkHostPort says what is wrong with a host:port, or "": its host must
// be loopback unless remote.
func checkHostPort(hp string, remote bool) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "is not host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has no valid port"
	}
	if host == "" {
		return "has no host"
	}
	if ip := net.ParseIP(host); !remote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "is not on this machine (the harness only connects to 127.0.0.1, ::1 or localhost, unless its clients run on agents in a cluster: --agents k8s:… or wait:N)"
	}
	return ""
}

// String shows the endpoint without its secret: host:port for a node
// without credentials, TLS or database, else its URL with the password
// replaced by Mask (redis://alice:xxxxx@127.0.0.1:6379).
func (e Endpoint) String() string {
	if e.Username == "" && e.Password == "" && e.TLS == nil && e.DB == 0 {
		return e.Addr
	}
	var b strings.Builder
	if e.TLS != nil {
		b.WriteString("rediss://")
	} else {
		b.WriteString("redis://")
	}
	if e.Username != "" || e.Password != "" {
		b.WriteString(url.User(e.Username).String())
		if e.Password != "" {
			b.WriteString(":" + Mask)
		}
		b.WriteString("@")
	}
	b.WriteString(e.Addr)
	if e.DB != 0 {
		b.WriteString("/" + strconv.Itoa(e.DB))
	}
	return b.String()
}

// GoString is String, so that %#v cannot print the password either.
func (e Endpoint) GoString() string { return e.String() }

// Redact masks the password of an address as typed, also one that does
// not parse: scheme://user:password@rest becomes scheme://user:xxxxx@rest,
// and anything before an @ without a scheme becomes xxxxx.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			return Mask + raw[at:]
		}
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if hasPassword {
		user += ":" + Mask
	}
	return scheme + "://" + user + rest[at:]
}
