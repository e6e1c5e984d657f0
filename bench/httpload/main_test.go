package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wrkOutput is what wrk 4.2 prints with --latency.
const wrkOutput = `Running 5s test @ http://127.0.0.1:8080/plaintext
  1 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.62ms    1.64ms  30.58ms   88.75%
    Req/Sec    61.48k     5.70k   68.43k    74.00%
  Latency Distribution
     50%    3.52ms
     75%    4.02ms
     90%    4.92ms
     99%   10.62ms
  305921 requests in 5.00s, 37.93MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  61184.20
Transfer/sec:      7.59MB
`

func TestParseWrk(t *testing.T) {
	var res result
	if err := parseWrk(wrkOutput, &res); err != nil {
		t.Fatal(err)
	}
	if res.Requests != 305921 || res.Seconds != 5 || res.P50us != 3520 || res.P99us != 10620 {
		t.Errorf("requests %d in %v s, p50 %v µs, p99 %v µs", res.Requests, res.Seconds, res.P50us, res.P99us)
	}
	if want := 37.93 * 1024 * 1024 / 5 / 1e6; res.MBPerSec < want*0.999 || res.MBPerSec > want*1.001 {
		t.Errorf("%v MB/s, want %v", res.MBPerSec, want)
	}
	if res.Errors != 5 || res.Mismatches != 7 {
		t.Errorf("errors %d, mismatches %d; want 5 and 7 (%v)", res.Errors, res.Mismatches, res.Notes)
	}
	if err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n", &res); err == nil {
		t.Error("no total: no error")
	}
}

func plaintext(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/wrong" {
		io.WriteString(w, "Hello, Moon!")
		return
	}
	io.WriteString(w, "Hello, World!")
}

// runJSON runs httpload with args and decodes its --json line, if it
// printed one.
func runJSON(t *testing.T, args ...string) (result, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(append(args, "--json", "--server-pid", strconv.Itoa(os.Getpid())), &out)
	var res result
	if out.Len() == 0 && err != nil {
		return res, err // failed before measuring
	}
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("%v: %q (%v)", jerr, out.String(), err)
	}
	return res, err
}

func TestIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(plaintext))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	res, err := runJSON(t, "--addr", addr, "--idle", "50", "--hold", "0")
	if err != nil || res.Requests != 50 || res.IdleRSSAfterKiB == 0 {
		t.Errorf("%v: %+v", err, res)
	}
	// A body other than --expect is a mismatch.
	res, err = runJSON(t, "--addr", addr, "--idle", "5", "--hold", "0", "--path", "/wrong")
	if err == nil {
		t.Errorf("a wrong body passed: %+v", res)
	}
}

func TestIdleTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(plaintext))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	res, err := runJSON(t, "--addr", strings.TrimPrefix(srv.URL, "https://"), "--idle", "20", "--hold", "0", "--tls-ca", ca)
	if err != nil || res.Requests != 20 || !res.TLS || res.TLSVersion == "" {
		t.Errorf("%v: %+v", err, res)
	}
}

// TestIdleClosed: a server that closes the held connections fails the run.
func TestIdleClosed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		plaintext(w, r)
	}))
	defer srv.Close()
	res, err := runJSON(t, "--addr", strings.TrimPrefix(srv.URL, "http://"), "--idle", "5", "--hold", "0")
	if err == nil || res.Errors != 5 {
		t.Errorf("%v: %+v", err, res)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), make([]byte, 3<<20), 0o600)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	res, err := runJSON(t, "--addr", strings.TrimPrefix(srv.URL, "http://"), "--file", "/f", "--duration", "0")
	if err != nil || res.Requests != 1 || res.FileBytes != 3<<20 || res.MBPerSec <= 0 {
		t.Errorf("%v: %+v", err, res)
	}
	if _, err := runJSON(t, "--addr", strings.TrimPrefix(srv.URL, "http://"), "--file", "/missing", "--duration", "0"); err == nil {
		t.Error("a 404 passed")
	}
}

func TestWrk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk for a second")
	}
	srv := httptest.NewServer(http.HandlerFunc(plaintext))
	defer srv.Close()
	script, _ := filepath.Abs("../http/pipeline.lua")
	res, err := runJSON(t, "--addr", strings.TrimPrefix(srv.URL, "http://"), "--conns", "8", "--duration", "1s", "--warmup", "0",
		"--pipeline", "16", "--script", script)
	if strings.Contains(errString(err), "executable file not found") {
		t.Skip("no wrk")
	}
	if err != nil || res.Requests == 0 || res.ServerCPUUsPerRT == 0 {
		t.Errorf("%v: %+v", err, res)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
